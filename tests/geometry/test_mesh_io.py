"""write_mesh / read_mesh round trips (PLY, OBJ), atomic writes and user-facing errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nerfplex.errors import NerfplexError
from nerfplex.geometry.mesh_io import read_mesh, write_mesh


@pytest.fixture
def open3d():
    return pytest.importorskip("open3d")


@pytest.fixture
def tetra():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.25, 0.5, 0.125]], np.float32)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3], [4, 1, 2]], np.int64)
    colors = np.linspace(0.0, 1.0, 15, dtype=np.float32).reshape(5, 3)
    return vertices, faces, colors


def _triangles(vertices, faces) -> set:
    """Faces as coordinate triples, rotated to start at their smallest vertex (winding kept)."""
    out = set()
    for face in faces:
        corners = [tuple(np.round(vertices[i], 5)) for i in face]
        k = corners.index(min(corners))
        out.add(tuple(corners[k:] + corners[:k]))
    return out


def test_ply_round_trip_is_exact(tmp_path, tetra, open3d):
    vertices, faces, colors = tetra
    path = write_mesh(tmp_path / "mesh.ply", vertices, faces, colors)
    mesh = read_mesh(path)
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int64
    np.testing.assert_array_equal(mesh.vertices, vertices)
    np.testing.assert_array_equal(mesh.faces, faces)
    np.testing.assert_allclose(mesh.vertex_colors, colors, atol=1.0 / 255)


def test_obj_round_trip_keeps_counts_and_triangles(tmp_path, tetra, open3d):
    vertices, faces, _ = tetra
    mesh = read_mesh(write_mesh(tmp_path / "mesh.obj", vertices, faces))
    assert mesh.vertices.shape == vertices.shape and mesh.faces.shape == faces.shape
    assert mesh.vertex_colors is None
    # OBJ readers may renumber vertices; the triangles (and their winding) must survive
    assert _triangles(mesh.vertices, mesh.faces) == _triangles(vertices, faces)


def test_write_is_atomic_and_replaces(tmp_path, tetra, open3d):
    vertices, faces, _ = tetra
    target = tmp_path / "deep" / "folder" / "gt.ply"
    write_mesh(target, vertices, faces)
    write_mesh(target, vertices[:4], faces[:4])
    assert sorted(p.name for p in target.parent.iterdir()) == ["gt.ply"]
    assert read_mesh(target).faces.shape == (4, 3)


@pytest.mark.parametrize("name", ["mesh.stl", "mesh"])
def test_unsupported_suffix(tmp_path, tetra, name):
    with pytest.raises(NerfplexError, match=r"\.ply, \.obj"):
        write_mesh(tmp_path / name, *tetra[:2])
    with pytest.raises(NerfplexError, match=r"\.ply, \.obj"):
        read_mesh(tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(NerfplexError, match="does not exist"):
        read_mesh(tmp_path / "nope.ply")


def test_missing_open3d_says_how_to_install(tmp_path, tetra, monkeypatch):
    monkeypatch.setitem(sys.modules, "open3d", None)  # makes `import open3d` raise ImportError
    with pytest.raises(NerfplexError, match="open3d-cpu") as info:
        write_mesh(tmp_path / "mesh.ply", *tetra[:2])
    assert "apt-get install libusb-1.0-0" in str(info.value)
    assert not (tmp_path / "mesh.ply").exists()
