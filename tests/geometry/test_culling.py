"""Culling (frusta, masks, boxes) and the Replica / DTU evaluation protocols built on it."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.data.procedural import sdf as S
from nerfplex.errors import NerfplexError
from nerfplex.geometry.culling import (
    Box,
    _numpy_cameras,
    axis_aligned_box,
    crop_mesh_to_box,
    cull_mesh_by_masks,
    cull_mesh_to_frusta,
    oriented_bounding_box,
    points_in_frusta,
    points_on_masks,
    project,
)
from nerfplex.geometry.geometry_metrics import mesh_metrics
from nerfplex.geometry.geometry_protocols import (
    DTUObservation,
    dtu_observation_filter,
    evaluate_dtu,
    evaluate_replica,
    load_dtu_observation,
    load_dtu_stl_points,
    radius_downsample,
    transform_mesh,
)
from nerfplex.geometry.mesh_extraction import extract_mesh
from nerfplex.geometry.mesh_io import Mesh

SIZE = 100


def cameras_at(rotations, origins, focal: float = 100.0) -> Cameras:
    """``SIZE x SIZE`` pinhole cameras, principal point at the image centre."""
    c2w = torch.cat(
        [
            torch.tensor(np.asarray(rotations), dtype=torch.float32),
            torch.tensor(np.asarray(origins), dtype=torch.float32)[..., None],
        ],
        dim=-1,
    )
    n = c2w.shape[0]
    f, c = torch.full((n,), focal), torch.full((n,), SIZE / 2)
    return Cameras(c2w, f, f.clone(), c, c.clone(), SIZE, SIZE)


FORWARD = np.eye(3)  # at the origin, looking along +z
BACKWARD = np.diag([-1.0, 1.0, -1.0])  # at the origin, looking along -z


def sphere_mesh(radius: float, center=(0.0, 0.0, 0.0), resolution: int = 32) -> Mesh:
    c = np.asarray(center)
    box = [c - radius - 0.1, c + radius + 0.1]
    return extract_mesh(partial(S.sphere, center=tuple(center), radius=radius), box, resolution)


def merge(*meshes: Mesh) -> Mesh:
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(
        np.concatenate([m.vertices for m in meshes]),
        np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]),
        None,
    )


# --- frusta --------------------------------------------------------------------------------------


def test_points_in_frusta_hand_built_cameras():
    points = np.array([[0, 0, 1], [0.4, 0.4, 1], [0.6, 0, 1], [0, 0, -1], [0, 0, 0], [0, 0.49, 1]])
    one = cameras_at([FORWARD], [[0, 0, 0]])
    # (0.4, 0.4, 1) -> pixel (90, 90): inside; (0.6, 0, 1) -> u = 110: outside; behind; at the centre
    np.testing.assert_array_equal(points_in_frusta(points, one), [1, 1, 0, 0, 0, 1])
    both = cameras_at([FORWARD, BACKWARD], [[0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(points_in_frusta(points, both), [1, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(points_in_frusta(points, one, margin=15), [1, 0, 0, 0, 0, 0])
    moved = cameras_at([FORWARD], [[0, 0, -2]])  # now (0, 0, -1) is 1 in front of it
    np.testing.assert_array_equal(points_in_frusta(points, moved), [1, 1, 1, 1, 1, 1])


def test_projection_goes_through_the_lens_distortion():
    """A point on the ray through a pixel projects back onto that pixel, distortion included; strong
    barrel distortion pulls a point the pinhole would put outside the image back inside."""
    barrel = cameras_at([FORWARD], [[0, 0, 0]])
    barrel.distortion = torch.tensor([[-0.3, 0.05, 0.001, -0.002, 0.0]])
    x, y = torch.tensor([3, 97, 50]), torch.tensor([5, 40, 99])
    origins, directions = barrel.generate_rays(torch.zeros(3, dtype=torch.long), x, y)
    points = (origins + 2.5 * directions).double().numpy()
    c2w, fx, fy, cx, cy, coeffs = _numpy_cameras(barrel)
    u, v, _, distance = project(points, c2w[0], fx[0], fy[0], cx[0], cy[0], coeffs[0])
    np.testing.assert_allclose(u, x.numpy() + 0.5, atol=1e-3)
    np.testing.assert_allclose(v, y.numpy() + 0.5, atol=1e-3)
    np.testing.assert_allclose(distance, 2.5, atol=1e-5)
    wide = np.array([[0.53, 0.0, 1.0]])  # pinhole: u = 103, outside; through the lens: u = 98.6
    assert not points_in_frusta(wide, cameras_at([FORWARD], [[0, 0, 0]]))[0]
    assert points_in_frusta(wide, barrel)[0]


def test_frustum_culling_keeps_faces_with_one_visible_vertex():
    vertices = np.array([[0, 0, 1], [5, 0, 1], [5, 1, 1], [6, 0, 1], [6, 1, 1], [7, 1, 1]], np.float32)
    colors = np.linspace(0, 1, 18, dtype=np.float32).reshape(6, 3)
    mesh = Mesh(vertices, np.array([[0, 1, 2], [3, 4, 5]]), colors)
    culled = cull_mesh_to_frusta(mesh, cameras_at([FORWARD], [[0, 0, 0]]))
    np.testing.assert_array_equal(culled.vertices, vertices[:3])
    np.testing.assert_array_equal(culled.faces, [[0, 1, 2]])
    np.testing.assert_array_equal(culled.vertex_colors, colors[:3])


def test_depth_maps_remove_occluded_points():
    cams = cameras_at([FORWARD], [[0, 0, 0]])
    depth = np.full((1, SIZE, SIZE), 2.0)  # a wall 2 units along every ray
    # the third point is nearer than 2 along z but 2.0025 away along its ray: occluded
    points = np.array([[0, 0, 1], [0, 0, 3], [0.2, 0.1, 1.99]])
    np.testing.assert_array_equal(points_in_frusta(points, cams, depth_maps=depth), [1, 0, 0])
    np.testing.assert_array_equal(points_in_frusta(points, cams, depth_maps=depth, depth_tolerance=1.5), [1, 1, 1])
    with pytest.raises(NerfplexError, match="depth_maps"):
        points_in_frusta(points, cams, depth_maps=np.ones((1, 4, 4)))


# --- masks ---------------------------------------------------------------------------------------


def test_mask_culling_with_dilation():
    cams = cameras_at([FORWARD], [[0, 0, 0]])
    masks = np.zeros((1, SIZE, SIZE), bool)
    masks[0, 40:60, 40:60] = True
    # centre (on the mask); 21 px right of the mask; outside the image; behind the camera
    points = np.array([[0, 0, 1], [0.301, 0, 1], [0.7, 0, 1], [0, 0, -1]])
    np.testing.assert_array_equal(points_on_masks(points, cams, masks, 0), [1, 0, 1, 1])
    np.testing.assert_array_equal(points_on_masks(points, cams, masks, 12), [1, 0, 1, 1])
    np.testing.assert_array_equal(points_on_masks(points, cams, masks, 21), [1, 1, 1, 1])
    # a second camera, 0.3 to the right: sees the 1st and 3rd points off its mask, the 2nd on it
    two = cameras_at([FORWARD, FORWARD], [[0, 0, 0], [0.3, 0, 0]])
    masks2 = np.concatenate([masks, masks])
    np.testing.assert_array_equal(points_on_masks(points, two, masks2, 0), [0, 0, 0, 1])
    np.testing.assert_array_equal(points_on_masks(points, two, masks2, 21), [1, 1, 0, 1])
    mesh = Mesh(points.astype(np.float32), np.array([[0, 2, 3], [1, 2, 3]]), None)
    culled = cull_mesh_by_masks(mesh, cams, masks, 0)  # a face needs all three vertices kept
    np.testing.assert_array_equal(culled.faces, [[0, 1, 2]])
    np.testing.assert_array_equal(culled.vertices, points[[0, 2, 3]].astype(np.float32))


# --- boxes ---------------------------------------------------------------------------------------


def test_oriented_bounding_box_of_a_rotated_box():
    angle = 0.4
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    corners = np.array(np.meshgrid([-1, 1], [-2, 2], [-0.5, 0.5], indexing="ij")).reshape(3, -1).T
    rng = np.random.default_rng(0)
    inner = (rng.random((200, 3)) * 2 - 1) * [1, 2, 0.5]
    points = np.concatenate([corners, inner]) @ rot.T + [3, 1, -1]
    box = oriented_bounding_box(points)
    np.testing.assert_allclose(np.sort(box.half_extent), [0.5, 1, 2], atol=1e-6)
    np.testing.assert_allclose(box.center, [3, 1, -1], atol=1e-6)
    assert box.contains(points, 1.001).all()
    assert not box.contains(points * 1.05 + 0.0, 1.0).all()
    flat = oriented_bounding_box(points * [1, 1, 0])  # no volume: principal-axes box, zero thickness
    assert np.min(flat.half_extent) == pytest.approx(0.0, abs=1e-9)


def test_crop_keeps_faces_strictly_inside():
    box = Box(np.zeros(3), np.eye(3), np.ones(3))
    vertices = np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [1.02, 0, 0], [0, 1.0, 0]], np.float32)
    mesh = Mesh(vertices, np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]]), None)
    assert crop_mesh_to_box(mesh, box).faces.tolist() == [[0, 1, 2]]
    assert len(crop_mesh_to_box(mesh, box, 1.05).faces) == 3
    aabb = axis_aligned_box(vertices)
    np.testing.assert_allclose(aabb.half_extent, [0.51, 0.5, 0], atol=1e-6)


# --- the Replica protocol ------------------------------------------------------------------------


def test_replica_protocol_culls_crops_then_samples():
    gt = sphere_mesh(0.5)
    pred_sphere = sphere_mesh(0.52)
    blob = sphere_mesh(0.1, center=(2.0, 0.0, 0.0), resolution=12)  # outside the GT box x 1.05
    pred = merge(pred_sphere, blob)
    ring = [[3 * np.cos(a), 3 * np.sin(a), 0] for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)]
    c2w = look_at(torch.tensor(ring, dtype=torch.float32), torch.zeros(6, 3), torch.tensor([0.0, 0, 1]))
    f = torch.full((6,), 100.0)
    cams = Cameras(c2w, f, f.clone(), torch.full((6,), 50.0), torch.full((6,), 50.0), SIZE, SIZE)
    got = evaluate_replica(pred, gt, cams, num_points=20_000, rng=0)
    assert got.accuracy == pytest.approx(0.02, abs=2e-3)  # the blob is cropped away
    assert got.completion == pytest.approx(0.02, abs=2e-3)
    assert got.fscore == 1.0 and got.threshold == 0.05
    expected = mesh_metrics(pred_sphere, gt, 0.05, 20_000, rng=0)
    assert got == expected  # nothing of the sphere is culled or cropped: same samples, same numbers
    uncropped = evaluate_replica(pred, gt, cams, num_points=20_000, rng=0, crop=None)
    assert uncropped.accuracy > got.accuracy + 0.03  # ~3.5 % of the points on a blob ~1.4 away


def test_replica_protocol_frustum_culling_and_culled_ground_truth():
    gt, pred = sphere_mesh(0.5), sphere_mesh(0.52)
    narrow = cameras_at([FORWARD], [[0, 0, -3]], focal=400.0)  # sees |x|, |y| < ~0.375 at z = 0
    got = evaluate_replica(pred, gt, narrow, num_points=20_000, rng=0)
    culled = cull_mesh_to_frusta(pred, narrow)
    assert len(culled.faces) < len(pred.faces) / 2
    assert got == mesh_metrics(culled, gt, 0.05, 20_000, rng=0)
    assert got.accuracy == pytest.approx(0.02, abs=3e-3)
    assert got.completion > 0.05  # the GT's sides are far from the culled reconstruction
    both = evaluate_replica(pred, gt, narrow, num_points=20_000, rng=0, cull_ground_truth=True)
    assert both.completion < 0.03


def test_replica_protocol_flat_ground_truth_and_errors():
    def square(z):
        v = np.array([[0, 0, z], [1, 0, z], [1, 1, z], [0, 1, z]], np.float32)
        return Mesh(v, np.array([[0, 1, 2], [0, 2, 3]]), None)

    with pytest.raises(NerfplexError, match="crop=None"):
        evaluate_replica(square(0.03), square(0.0), None)
    shifted = evaluate_replica(square(0.03), square(0.0), None, crop=None, num_points=20_000)
    assert shifted.chamfer_l1 == pytest.approx(0.03, abs=2e-3)
    far_cams = cameras_at([BACKWARD], [[0, 0, -5]])  # looks away from the square
    with pytest.raises(NerfplexError, match="frustum culling"):
        evaluate_replica(square(0.03), square(0.0), far_cams)
    with pytest.raises(NerfplexError, match="crop must be"):
        evaluate_replica(square(0.03), square(0.0), None, crop="sphere")


# --- the DTU protocol ----------------------------------------------------------------------------


def _sequential_downsample(points, radius, order):
    """DTUeval-python's loop, on the points in visiting order."""
    pts = points[order]
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    mask = np.ones(len(pts), bool)
    for i in range(len(pts)):
        if mask[i]:
            mask[d[i] <= radius] = False
            mask[i] = True
    return order[mask]


@pytest.mark.parametrize("seed", [0, 1])
def test_radius_downsample_is_the_sequential_greedy_rule(seed):
    points = np.random.default_rng(seed).random((800, 3)) * [3, 3, 0.2]
    kept = radius_downsample(points, 0.2, rng=seed)
    order = np.random.default_rng(seed).permutation(len(points))
    np.testing.assert_array_equal(kept, _sequential_downsample(points, 0.2, order))
    d = np.linalg.norm(points[:, None] - points[kept][None], axis=-1)
    assert (d.min(axis=1) <= 0.2).all()  # every point is near a kept one
    dk = d[kept] + np.eye(len(kept)) * 10
    assert dk.min() > 0.2  # kept points are further apart than the radius


def _observation(**overrides):
    fields = dict(obs_mask=np.ones((31, 31, 11), bool), bb=[[-5, -5, -5], [25, 25, 5]], res=1.0, plane=[0, 0, 1, 0.5])
    fields.update(overrides)
    return DTUObservation(**fields)


def test_dtu_observation_filter():
    mask = np.zeros((10, 10, 10), bool)
    mask[:5] = True
    obs = DTUObservation(mask, [[0, 0, 0], [9, 9, 9]], np.array([[1.0]]))
    points = np.array(
        [[2, 2, 2], [7, 2, 2], [-30, 0, 0], [-61, 0, 0], [128.9, 0, 0], [129, 0, 0], [4.4, 0, 0], [4.6, 0, 0]]
    )
    in_box, in_mask = dtu_observation_filter(points, obs, patch=60)
    np.testing.assert_array_equal(in_box, [1, 1, 1, 0, 1, 0, 1, 1])  # [bb0 - 60, bb1 + 120)
    np.testing.assert_array_equal(in_mask, [1, 0, 0, 0, 0, 0, 1, 0])
    with pytest.raises(NerfplexError, match="BB"):
        DTUObservation(mask, [[0, 0, 0]], 1.0)
    with pytest.raises(NerfplexError, match="Res"):
        DTUObservation(mask, [[0, 0, 0], [9, 9, 9]], [1.0, 2.0])
    with pytest.raises(NerfplexError, match="3-D"):
        DTUObservation(mask[0], [[0, 0, 0], [9, 9, 9]], 1.0)


def _plane_grid(z, size=20.0, step=0.25):
    g = np.arange(0, size + 1e-9, step)
    x, y = np.meshgrid(g, g, indexing="ij")
    return np.stack([x.ravel(), y.ravel(), np.full(x.size, z)], -1)


def _square_mesh(z, size=20.0):
    v = np.array([[0, 0, z], [size, 0, z], [size, size, z], [0, size, z]], np.float32)
    return Mesh(v, np.array([[0, 1, 2], [0, 2, 3]]), None)


def test_dtu_protocol_on_shifted_planes():
    """GT: a 20 mm square grid at z = 0 (0.25 mm apart) plus points below the ground plane; the
    reconstruction: the square at z = 1 mm. Accuracy and completion are 1 mm plus the sampling gap."""
    below = _plane_grid(-3.0, size=10.0, step=1.0)  # under the plane z = -0.5: not evaluated
    gt = np.concatenate([_plane_grid(0.0), below])
    m = evaluate_dtu(_square_mesh(1.0), gt, _observation(), rng=0)
    assert m.accuracy == pytest.approx(1.0, abs=0.02)
    assert m.completion == pytest.approx(1.0, abs=0.05)
    assert m.overall == pytest.approx((m.accuracy + m.completion) / 2)
    assert m.num_gt_points == len(gt) - len(below)
    # in normalised coordinates (1/10) mapped back with to_world: the same points, the same numbers
    small = transform_mesh(_square_mesh(1.0), np.diag([0.1, 0.1, 0.1, 1.0]))
    again = evaluate_dtu(small, gt, _observation(), rng=0, to_world=np.diag([10.0, 10, 10, 1]))
    assert again.accuracy == pytest.approx(m.accuracy, abs=1e-9)
    # mask culling with masks that cover every image removes nothing
    cams = cameras_at([FORWARD], [[1.0, 1.0, -3.0]])
    masked = evaluate_dtu(
        small,
        gt,
        _observation(),
        rng=0,
        to_world=np.diag([10.0, 10, 10, 1]),
        cameras=cams,
        masks=np.ones((1, SIZE, SIZE), bool),
    )
    assert masked == again


def test_dtu_protocol_outliers_and_mask():
    gt = _plane_grid(0.0)
    pred = _plane_grid(1.0, step=0.5)
    outliers = np.array([[10.0, 10.0, 4.0], [5.0, 5.0, 4.4]])
    base = evaluate_dtu(pred, gt, _observation(), rng=0)
    # points 40 mm above the plane (in the mask, beyond max_dist = 20) are left out of the accuracy
    high = np.array([[10.0, 10.0, 40.0], [12.0, 3.0, 45.0]])
    obs_tall = _observation(obs_mask=np.ones((31, 31, 60), bool), bb=[[-5, -5, -5], [25, 25, 54]])
    with_far = evaluate_dtu(np.concatenate([pred, high]), gt, obs_tall, rng=0)
    assert with_far.accuracy == pytest.approx(base.accuracy, abs=1e-9)
    assert with_far.num_points_in_mask == base.num_points_in_mask + 2
    # near outliers (4 mm, inside max_dist) count: the accuracy grows
    assert evaluate_dtu(np.concatenate([pred, outliers]), gt, _observation(), rng=0).accuracy > base.accuracy
    # outside the observation mask: not in the accuracy, but still in the completion's point set
    mask = np.ones((31, 31, 11), bool)
    mask[:, :, 9:] = False  # voxels with z >= 4 unobserved
    masked = evaluate_dtu(np.concatenate([pred, outliers]), gt, _observation(obs_mask=mask), rng=0)
    assert masked.accuracy == pytest.approx(base.accuracy, abs=1e-9)
    with pytest.raises(NerfplexError, match="observation mask"):
        evaluate_dtu(pred + [100, 0, 0], gt, _observation(), rng=0)


def test_dtu_files(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    with pytest.raises(NerfplexError, match="does not exist"):
        load_dtu_observation(tmp_path, 24)
    (tmp_path / "ObsMask").mkdir()
    mask = np.zeros((4, 5, 6), np.uint8)
    mask[1, 2, 3] = 1
    scipy_io.savemat(
        tmp_path / "ObsMask" / "ObsMask24_10.mat",
        {"ObsMask": mask, "BB": np.array([[0.0, 1, 2], [4, 5, 6]]), "Res": np.array([[0.5]])},
    )
    with pytest.raises(NerfplexError, match="Plane24.mat"):
        load_dtu_observation(tmp_path, 24)
    scipy_io.savemat(tmp_path / "ObsMask" / "Plane24.mat", {"P": np.array([[0.0], [0], [1], [-2]])})
    obs = load_dtu_observation(tmp_path, 24)
    assert obs.obs_mask.dtype == bool and obs.obs_mask.sum() == 1 and obs.res == 0.5
    np.testing.assert_array_equal(obs.plane, [0, 0, 1, -2])
    assert obs.bb.dtype == np.float32
    with pytest.raises(NerfplexError, match="stl024_total.ply"):
        load_dtu_stl_points(tmp_path, 24)
    o3d = pytest.importorskip("open3d")
    (tmp_path / "Points" / "stl").mkdir(parents=True)
    points = np.random.default_rng(0).random((50, 3))
    o3d.io.write_point_cloud(
        str(tmp_path / "Points" / "stl" / "stl024_total.ply"),
        o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points)),
    )
    np.testing.assert_allclose(load_dtu_stl_points(tmp_path, 24), points, atol=1e-6)
