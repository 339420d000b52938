"""Ground-truth meshes from SDFs: on the zero level set, outward oriented, closed-form area."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch

from nerfplex.data.procedural import sdf as S
from nerfplex.data.procedural.gt_mesh import extract_sdf_mesh
from nerfplex.data.procedural.scenes import ROOM_HALF, object_scene, room_scene
from nerfplex.errors import NerfplexError


def _face_normals_and_centroids(vertices: np.ndarray, faces: np.ndarray):
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return np.cross(b - a, c - a), (a + b + c) / 3.0


def _outward_fraction(sdf_fn, vertices, faces) -> float:
    normals, centroids = _face_normals_and_centroids(vertices, faces)
    p = torch.from_numpy(centroids).requires_grad_(True)
    sdf_fn(p).sum().backward()
    return float(((normals * p.grad.numpy()).sum(axis=-1) > 0).mean())


def test_sphere_mesh_area_level_set_and_orientation():
    sdf_fn = partial(S.sphere, center=(0.1, -0.2, 0.05), radius=0.6)
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    vertices, faces = extract_sdf_mesh(sdf_fn, aabb, 48)
    assert vertices.dtype == np.float32 and vertices.shape[1] == 3
    assert np.issubdtype(faces.dtype, np.integer) and faces.shape[1] == 3
    assert faces.min() >= 0 and faces.max() < len(vertices)
    voxel = 2.0 / 47
    assert np.abs(sdf_fn(torch.from_numpy(vertices)).numpy()).max() < 0.05 * voxel
    normals, _ = _face_normals_and_centroids(vertices, faces)
    area = 0.5 * np.linalg.norm(normals, axis=-1).sum()
    assert area == pytest.approx(4.0 * math.pi * 0.6**2, rel=0.02)
    assert _outward_fraction(sdf_fn, vertices, faces) == 1.0


def test_object_scene_mesh():
    spec = object_scene()
    vertices, faces = extract_sdf_mesh(spec.sdf, spec.aabb, 40)
    voxel = 2.0 / 39
    assert len(faces) > 1000
    assert np.abs(spec.sdf(torch.from_numpy(vertices)).numpy()).max() < 0.5 * voxel
    assert np.abs(vertices).max() <= 0.9 + voxel
    assert _outward_fraction(spec.sdf, vertices, faces) > 0.99


def test_room_mesh_has_walls_and_furniture():
    spec = room_scene()
    vertices, faces = extract_sdf_mesh(spec.sdf, spec.aabb, 40)
    voxel = 4.0 / 39
    assert np.abs(spec.sdf(torch.from_numpy(vertices)).numpy()).max() < 0.5 * voxel
    half = np.array(ROOM_HALF)
    assert (np.abs(vertices) <= half + 1e-4).all(), "the room surface is the inside of its aabb"
    for axis in range(3):  # vertices on both walls of every axis
        assert np.isclose(vertices[:, axis], half[axis], atol=1e-4).any()
        assert np.isclose(vertices[:, axis], -half[axis], atol=1e-4).any()
    interior = (np.abs(vertices) < half - 0.1).all(axis=-1)
    assert interior.sum() > 100, "furniture surfaces inside the room"
    # normals point into the room (out of the walls' solid)
    assert _outward_fraction(spec.sdf, vertices, faces) > 0.99


def test_no_surface_gives_empty_mesh():
    sdf_fn = partial(S.sphere, center=(5.0, 5.0, 5.0), radius=0.5)
    vertices, faces = extract_sdf_mesh(sdf_fn, [[-1, -1, -1], [1, 1, 1]], 8)
    assert vertices.shape == (0, 3) and faces.shape == (0, 3)


@pytest.mark.parametrize(
    "aabb, resolution, message",
    [
        ([[-1, -1, -1], [1, 1, 1]], 1, "resolution"),
        ([[-1, -1, -1], [1, 1, 1]], 2.5, "resolution"),
        ([[1, -1, -1], [-1, 1, 1]], 8, "aabb"),
        ([-1, -1, -1, 1, 1, 1], 8, "aabb"),
    ],
)
def test_bad_arguments(aabb, resolution, message):
    with pytest.raises(NerfplexError, match=message):
        extract_sdf_mesh(partial(S.sphere, center=(0.0, 0.0, 0.0), radius=0.5), aabb, resolution)
