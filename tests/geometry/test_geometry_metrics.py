"""Surface sampling and geometry metrics: analytic cases and a brute-force cross-check."""

from __future__ import annotations

import numpy as np
import pytest

from nerfplex.errors import NerfplexError
from nerfplex.geometry.geometry_metrics import mesh_metrics, nearest_neighbours, point_cloud_metrics
from nerfplex.geometry.mesh_io import Mesh
from nerfplex.geometry.point_sampling import face_areas_and_normals, sample_surface, sample_surface_grid


def uv_sphere(radius: float, n_lat: int = 96, n_lon: int = 192, center=(0.0, 0.0, 0.0)) -> Mesh:
    """A closed latitude / longitude sphere with outward (counter-clockwise) faces."""
    theta = np.linspace(0.0, np.pi, n_lat + 1)[1:-1]
    phi = np.linspace(0.0, 2 * np.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    vertices = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]]) * radius + np.asarray(center)
    idx = 1 + np.arange((n_lat - 1) * n_lon).reshape(n_lat - 1, n_lon)
    nxt = np.roll(idx, -1, axis=1)
    a, b, c, d = idx[:-1], nxt[:-1], idx[1:], nxt[1:]
    quads = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    south = len(vertices) - 1
    caps = np.concatenate(
        [np.stack([np.zeros(n_lon, int), idx[0], nxt[0]], -1), np.stack([np.full(n_lon, south), nxt[-1], idx[-1]], -1)]
    )
    return Mesh(vertices.astype(np.float32), np.concatenate([quads, caps]).astype(np.int64), None)


def square(z: float, size: float = 1.0) -> Mesh:
    vertices = np.array([[0, 0, z], [size, 0, z], [size, size, z], [0, size, z]], np.float32)
    return Mesh(vertices, np.array([[0, 1, 2], [0, 2, 3]], np.int64), None)


def sphere_points(radius: float, count: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(count, 3))
    return radius * x / np.linalg.norm(x, axis=-1, keepdims=True)


# --- sampling ------------------------------------------------------------------------------------


def test_sampling_is_reproducible_on_faces_and_area_weighted():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [5, 0, 1], [8, 0, 1], [5, 0, 3]], np.float32)
    faces = np.array([[0, 1, 2], [3, 4, 5]])  # areas 1 and 3
    a = sample_surface(vertices, faces, 40_000, rng=np.random.default_rng(7))
    b = sample_surface(vertices, faces, 40_000, rng=7)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, sample_surface(vertices, faces, 40_000, rng=8).points)
    assert np.mean(a.face_index == 0) == pytest.approx(0.25, abs=0.01)
    # points on their face: inside the triangle, with the face's unit normal
    first = a.points[a.face_index == 0]
    assert (first[:, 2] == 0).all() and (first[:, :2] >= 0).all()
    assert (2 * first[:, 0] + first[:, 1] <= 2 + 1e-9).all()
    np.testing.assert_allclose(first.mean(axis=0), [1 / 3, 2 / 3, 0], atol=0.02)  # centroid
    np.testing.assert_array_equal(a.normals[a.face_index == 0], np.tile([0, 0, 1.0], (len(first), 1)))
    second = a.normals[a.face_index == 1]
    np.testing.assert_array_equal(second, np.tile([0, -1.0, 0], (len(second), 1)))


def test_degenerate_faces_are_never_drawn_and_empty_mesh_is_an_error():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 2, 2]], np.float32)
    faces = np.array([[0, 1, 3], [3, 3, 3], [0, 1, 2], [0, 0, 1]])  # face 1 and 3 have no area
    areas, normals = face_areas_and_normals(vertices, faces)
    assert areas[1] == areas[3] == 0 and (normals[1] == 0).all()
    samples = sample_surface(vertices, faces, 10_000, rng=0)
    assert set(np.unique(samples.face_index)) == {0, 2}
    with pytest.raises(NerfplexError, match="no faces with non-zero area"):
        sample_surface(vertices, np.zeros((0, 3), int), 10)
    with pytest.raises(NerfplexError, match="positive integer"):
        sample_surface(vertices, faces, 0)


def _grid_reference(vertices, faces, spacing):
    """DTUeval-python's per-triangle sampling, restated with a loop over triangles."""
    out = [vertices]
    for face in faces:
        a, b, c = vertices[face]
        e1, e2 = b - a, c - a
        l1, l2 = np.linalg.norm(e1), np.linalg.norm(e2)
        area2 = np.linalg.norm(np.cross(e1, e2))
        if area2 == 0:
            continue
        step = spacing * np.sqrt(l1 * l2 / area2)
        n1, n2 = np.floor(l1 / step), np.floor(l2 / step)
        grid = np.mgrid[: n1 + 1, : n2 + 1].astype(np.float64) + 0.5
        grid[0] /= max(n1, 1e-7)
        grid[1] /= max(n2, 1e-7)
        k = np.transpose(grid, (1, 2, 0))
        k = k[k.sum(axis=-1) < 1]
        out.append(e1 * k[:, :1] + e2 * k[:, 1:] + a)
    return np.concatenate(out)


def test_grid_sampling_counts_and_matches_a_per_triangle_reference():
    # unit right triangle at spacing 0.1: n1 = n2 = 10, nodes with i + j <= 8: 45, plus 3 vertices
    tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float64)
    assert len(sample_surface_grid(tri, [[0, 1, 2]], 0.1)) == 48
    rng = np.random.default_rng(3)
    vertices = rng.random((30, 3))
    faces = rng.integers(0, 30, size=(40, 3))
    faces[0] = [4, 4, 5]  # zero area: skipped
    expected = _grid_reference(vertices, faces, 0.05)
    np.testing.assert_allclose(sample_surface_grid(vertices, faces, 0.05), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        sample_surface_grid(vertices, faces, 0.05, max_points_per_chunk=50), expected, rtol=0, atol=1e-12
    )


# --- metrics: analytic cases ---------------------------------------------------------------------


def test_concentric_sphere_points():
    """Exact sphere points, radii 1 and 1.1. Every nearest-neighbour distance is at least 0.1; with
    50k points the sampling gap adds under 2e-3 on average."""
    inner, outer = sphere_points(1.0, 50_000, 0), sphere_points(1.1, 50_000, 1)
    below = point_cloud_metrics(inner, outer, threshold=0.09, pred_normals=inner, gt_normals=outer / 1.1)
    for value in (below.accuracy, below.completion, below.chamfer_l1):
        assert 0.1 - 1e-9 <= value <= 0.1 + 2e-3
    assert below.precision == below.recall == below.fscore == 0.0
    assert below.normal_consistency > 0.999
    above = point_cloud_metrics(outer, inner, threshold=0.12)
    assert above.precision == above.recall == above.fscore == 1.0
    assert above.normal_consistency is None


def test_concentric_sphere_meshes():
    """Triangulated spheres r = 0.5 and R = 0.6: accuracy = completion = 0.1 within 3e-3 (sampling gap
    and the faces' chord sagitta of ~1e-4)."""
    m = mesh_metrics(uv_sphere(0.5), uv_sphere(0.6), threshold=0.05, num_points=30_000, rng=0)
    assert m.accuracy == pytest.approx(0.1, abs=3e-3)
    assert m.completion == pytest.approx(0.1, abs=3e-3)
    assert m.chamfer_l1 == pytest.approx(0.1, abs=3e-3)
    assert m.fscore == 0.0
    assert mesh_metrics(uv_sphere(0.5), uv_sphere(0.6), threshold=0.13, num_points=30_000).fscore == 1.0
    assert m.normal_consistency > 0.99


@pytest.mark.parametrize("shift", [0.02, 0.1])
def test_plane_and_shifted_plane(shift):
    """The same unit square shifted along its normal: Chamfer = shift (same extents, so no boundary
    effect) within 2e-3 with 20k points."""
    m = mesh_metrics(square(shift), square(0.0), threshold=0.05, num_points=20_000, rng=1)
    assert m.chamfer_l1 == pytest.approx(shift, abs=2e-3)
    assert min(m.accuracy, m.completion) >= shift - 1e-6
    assert m.fscore == (1.0 if shift < 0.05 else 0.0)
    assert m.normal_consistency == pytest.approx(1.0)


def test_identical_meshes():
    sphere = uv_sphere(0.5)
    m = mesh_metrics(sphere, sphere, threshold=0.05, num_points=20_000, rng=2)
    assert m.chamfer_l1 < 0.01  # independent samples: the mean gap between them
    assert m.fscore == 1.0 and m.normal_consistency > 0.99
    points = sphere_points(1.0, 1000, 0)
    exact = point_cloud_metrics(points, points, threshold=1e-6, pred_normals=points, gt_normals=points)
    assert exact.chamfer_l1 == 0.0 and exact.fscore == 1.0 and exact.normal_consistency == pytest.approx(1.0)


def test_normal_consistency_ignores_orientation():
    a, b = uv_sphere(0.5), uv_sphere(0.5)
    flipped = Mesh(b.vertices, b.faces[:, ::-1].copy(), None)
    assert mesh_metrics(a, flipped, 0.05, 10_000).normal_consistency > 0.99


# --- metrics: brute force ------------------------------------------------------------------------


def _brute_force(pred, gt, threshold, pred_normals, gt_normals):
    d = np.linalg.norm(pred[:, None, :] - gt[None, :, :], axis=-1)  # [N, M]
    d_pg, d_gp = d.min(axis=1), d.min(axis=0)
    precision, recall = np.mean(d_pg < threshold), np.mean(d_gp < threshold)
    n_acc = np.abs((pred_normals * gt_normals[d.argmin(axis=1)]).sum(-1)).mean()
    n_comp = np.abs((gt_normals * pred_normals[d.argmin(axis=0)]).sum(-1)).mean()
    return dict(
        accuracy=d_pg.mean(),
        completion=d_gp.mean(),
        chamfer_l1=(d_pg.mean() + d_gp.mean()) / 2,
        precision=precision,
        recall=recall,
        fscore=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        normal_accuracy=n_acc,
        normal_completion=n_comp,
        normal_consistency=(n_acc + n_comp) / 2,
    )


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_metrics_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    pred, gt = rng.normal(size=(300, 3)), rng.normal(size=(400, 3)) + 0.2
    pn, gn = _unit(rng.normal(size=(300, 3))), _unit(rng.normal(size=(400, 3)))
    got = point_cloud_metrics(pred, gt, 0.3, pn, gn).as_dict()
    for key, value in _brute_force(pred, gt, 0.3, pn, gn).items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    distances, indices = nearest_neighbours(pred, gt)
    d = np.linalg.norm(pred[:, None] - gt[None], axis=-1)
    np.testing.assert_allclose(distances, d.min(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(indices, d.argmin(axis=1))


def test_mesh_metrics_match_brute_force_on_random_meshes():
    rng = np.random.default_rng(5)
    pred = Mesh(rng.random((40, 3)).astype(np.float32), rng.integers(0, 40, (60, 3)), None)
    gt = Mesh(rng.random((50, 3)).astype(np.float32), rng.integers(0, 50, (70, 3)), None)
    got = mesh_metrics(pred, gt, 0.05, num_points=500, rng=11).as_dict()
    gen = np.random.default_rng(11)  # the same draws: reconstruction first, then ground truth
    ps, gs = (sample_surface(m.vertices, m.faces, 500, gen) for m in (pred, gt))
    for key, value in _brute_force(ps.points, gs.points, 0.05, ps.normals, gs.normals).items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_metric_errors():
    points = np.zeros((4, 3))
    with pytest.raises(NerfplexError, match="threshold"):
        point_cloud_metrics(points, points, threshold=0.0)
    with pytest.raises(NerfplexError, match="reconstructed points are empty"):
        point_cloud_metrics(np.zeros((0, 3)), points, threshold=0.1)
    with pytest.raises(NerfplexError, match="NaN"):
        point_cloud_metrics(points, np.full((2, 3), np.nan), threshold=0.1)
