"""Marching cubes on SDF and density fields: level sets, orientation, chunking, clean-up, export."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from nerfplex.data.procedural import sdf as S
from nerfplex.errors import NerfplexError
from nerfplex.geometry.mesh_extraction import extract_mesh, field_grid, isotropic_grid, largest_component, mesh_report
from nerfplex.geometry.mesh_io import Mesh, read_mesh, write_mesh

BOX = [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]
CENTER = (0.1, -0.2, 0.05)


@pytest.fixture
def open3d():
    return pytest.importorskip("open3d")


def sphere_sdf(radius=0.6, center=CENTER):
    return partial(S.sphere, center=center, radius=radius)


def sphere_density(points, radius=0.5, value=10.0):
    """10 inside a sphere of radius 0.5 about CENTER, 0 outside."""
    inside = (points - torch.tensor(CENTER)).norm(dim=-1) < radius
    return inside.float() * value


def _outward_fraction(mesh: Mesh, center=CENTER) -> float:
    a, b, c = (mesh.vertices[mesh.faces[:, i]].astype(np.float64) for i in range(3))
    normals = np.cross(b - a, c - a)
    outward = (((a + b + c) / 3 - np.asarray(center)) * normals).sum(-1) > 0
    return float(outward.mean())


def _radii(mesh: Mesh, center=CENTER) -> np.ndarray:
    return np.linalg.norm(mesh.vertices - np.asarray(center, np.float32), axis=-1)


def test_sphere_sdf_mesh_lies_on_the_sphere_and_faces_outwards(open3d):
    mesh = extract_mesh(sphere_sdf(), BOX, 48)
    voxel = 2.0 / 47
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int64
    assert mesh.vertex_colors is None
    assert np.abs(_radii(mesh) - 0.6).max() < voxel  # in practice ~1 % of a voxel
    assert _outward_fraction(mesh) == 1.0
    report = mesh_report(mesh)
    assert report.watertight and report.edge_manifold and report.components == 1
    assert report.num_vertices == len(mesh.vertices) and report.num_faces == len(mesh.faces)


def test_density_field_at_a_threshold_faces_outwards(open3d):
    mesh = extract_mesh(sphere_density, BOX, 48, field="density", level=5.0)
    voxel = 2.0 / 47
    assert np.abs(_radii(mesh) - 0.5).max() < voxel  # a step field: vertices midway between samples
    assert _outward_fraction(mesh) == 1.0
    assert mesh_report(mesh).watertight


def test_density_is_the_sdf_convention_mirrored():
    """``-sdf`` as a density at level 0 is the same signed grid: the very same mesh."""
    sdf = sphere_sdf()
    a = extract_mesh(sdf, BOX, 24)
    b = extract_mesh(lambda p: -sdf(p), BOX, 24, field="density", level=0.0)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.faces, b.faces)
    shifted = extract_mesh(sdf, BOX, 24, level=0.1)  # level 0.1 of an SDF: a sphere of radius 0.7
    assert np.abs(_radii(shifted) - 0.7).max() < 2.0 / 23


def test_chunking_gives_identical_output():
    sdf = sphere_sdf()
    whole = extract_mesh(sdf, BOX, 32, chunk_points=1 << 22)
    for chunk in (1, 500, 4096):
        part = extract_mesh(sdf, BOX, 32, chunk_points=chunk)
        np.testing.assert_array_equal(part.vertices, whole.vertices)
        np.testing.assert_array_equal(part.faces, whole.faces)
    calls = []

    def counting(points):
        calls.append(len(points))
        return sdf(points)

    lower, spacing, shape = isotropic_grid(BOX, 32)
    field_grid(counting, lower, spacing, shape, chunk_points=3000)
    assert max(calls) <= 3000 and sum(calls) == np.prod(shape)


def test_isotropic_grid_and_bad_arguments():
    lower, spacing, shape = isotropic_grid([[0, 0, 0], [2, 1, 0.5]], 5, pad_voxels=1)
    assert spacing == 0.5 and shape == (7, 5, 4)
    np.testing.assert_allclose(lower, [-0.5, -0.5, -0.5])
    sdf = sphere_sdf()
    with pytest.raises(NerfplexError, match="threshold"):
        extract_mesh(sphere_density, BOX, 8, field="density")
    with pytest.raises(NerfplexError, match="field must be"):
        extract_mesh(sdf, BOX, 8, field="occupancy")
    with pytest.raises(NerfplexError, match="resolution"):
        extract_mesh(sdf, BOX, 1)
    with pytest.raises(NerfplexError, match="aabb"):
        extract_mesh(sdf, [[1, 1, 1], [0, 0, 0]], 8)
    with pytest.raises(NerfplexError, match="NaN"):
        extract_mesh(lambda p: torch.where(p[:, 0] > 0.5, torch.nan, sdf(p)), BOX, 8)


def test_no_crossing_gives_an_empty_mesh(open3d):
    mesh = extract_mesh(sphere_sdf(center=(5.0, 5.0, 5.0)), BOX, 8)
    assert mesh.vertices.shape == (0, 3) and mesh.faces.shape == (0, 3)
    report = mesh_report(mesh)
    assert report.num_faces == 0 and not report.watertight and report.components == 0


def test_largest_component_removes_a_floating_blob(open3d):
    def two_spheres(p):
        return torch.minimum(
            S.sphere(p, center=(0.0, 0.0, 0.0), radius=0.5), S.sphere(p, center=(0.75, 0.75, 0.75), radius=0.12)
        )

    raw = extract_mesh(two_spheres, BOX, 40)
    assert mesh_report(raw).components == 2
    clean = extract_mesh(two_spheres, BOX, 40, keep_largest_component=True)
    report = mesh_report(clean)
    assert report.components == 1 and report.watertight
    assert _radii(clean, (0, 0, 0)).max() < 0.5 + 2.0 / 39
    assert len(clean.faces) < len(raw.faces) and clean.faces.max() == len(clean.vertices) - 1
    assert len(largest_component(clean).faces) == len(clean.faces)


def test_vertex_colours_from_a_callable():
    mesh = extract_mesh(sphere_sdf(), BOX, 24, color_fn=lambda p: (p + 1.0) / 2.0 * 1.5)
    assert mesh.vertex_colors.dtype == np.float32 and mesh.vertex_colors.shape == mesh.vertices.shape
    np.testing.assert_allclose(mesh.vertex_colors, np.clip((mesh.vertices + 1) * 0.75, 0, 1), atol=1e-6)
    with pytest.raises(ValueError, match=r"\[P, 3\]"):
        extract_mesh(sphere_sdf(), BOX, 12, color_fn=lambda p: p[:, :2])


def test_open_surface_report(open3d):
    triangle = Mesh(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]]), None)
    report = mesh_report(triangle)
    assert report.edge_manifold and not report.watertight and report.components == 1


@pytest.mark.parametrize("suffix", [".ply", ".obj"])
def test_exported_mesh_loads_back(tmp_path, suffix, open3d):
    mesh = extract_mesh(sphere_sdf(), BOX, 24, color_fn=lambda p: (p + 1.0) / 2.0)
    path = write_mesh(tmp_path / f"sphere{suffix}", *mesh)
    back = read_mesh(path)  # open3d
    assert back.vertices.shape == mesh.vertices.shape and back.faces.shape == mesh.faces.shape
    assert mesh_report(back).watertight
    if suffix == ".ply":
        np.testing.assert_array_equal(back.vertices, mesh.vertices)
        np.testing.assert_array_equal(back.faces, mesh.faces)
        np.testing.assert_allclose(back.vertex_colors, mesh.vertex_colors, atol=1.0 / 255)
    trimesh = pytest.importorskip("trimesh")
    loaded = trimesh.load(str(path), process=False, force="mesh")
    assert len(loaded.faces) == len(mesh.faces)
    assert loaded.is_watertight and loaded.is_winding_consistent
    assert loaded.volume == pytest.approx(4 / 3 * np.pi * 0.6**3, rel=0.02)  # > 0: faces outwards
