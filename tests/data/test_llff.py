"""LLFF scenes: poses, intrinsics, bounds, split and NDC rays against independent computations (NeRF's
``load_llff_data`` conventions and its ``get_rays`` / ``ndc_rays`` formulas written out here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from colmap_fixtures import write_llff

from nerfplex.data.llff import load_llff
from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.errors import NerfplexError
from nerfplex.ndc import NDCSpace, ndc_points

H, W, FOCAL = 12, 16, 14.0


def _forward_facing(n: int = 10, seed: int = 0):
    """OpenGL c2w ``[n, 3, 4]`` of a forward-facing capture and its LLFF (down, right, back) version."""
    rng = np.random.default_rng(seed)
    gl = []
    for _ in range(n):
        angles = rng.normal(scale=0.05, size=3)
        cx, sx, cy, sy, cz, sz = (
            np.cos(angles[0]),
            np.sin(angles[0]),
            np.cos(angles[1]),
            np.sin(angles[1]),
            np.cos(angles[2]),
            np.sin(angles[2]),
        )
        rot = (
            np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
            @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
            @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        )
        gl.append(np.concatenate([rot, rng.normal(scale=0.3, size=(3, 1)) + [[2.0], [1.0], [5.0]]], axis=1))
    gl = np.stack(gl)
    llff = np.concatenate([-gl[:, :, 1:2], gl[:, :, 0:1], gl[:, :, 2:3], gl[:, :, 3:]], axis=2)
    bounds = np.stack([rng.uniform(2.0, 3.0, n), rng.uniform(8.0, 12.0, n)], axis=1)
    return gl, llff, bounds


def _scene(tmp_path, **kwargs):
    gl, llff, bounds = _forward_facing()
    write_llff(tmp_path, llff, bounds, (H, W, FOCAL), (W, H), small=kwargs.pop("small", None))
    return gl, bounds, load_llff(tmp_path, **kwargs)


def _all_c2w(scene):
    """Loaded camera-to-world in image order (train and test interleaved back)."""
    names = scene.train.names + scene.test.names
    c2w = torch.cat([scene.train.cameras.c2w, scene.test.cameras.c2w]).double().numpy()
    return c2w[np.argsort(names)]


def test_relative_poses_scale_and_recentring(tmp_path):
    gl, bounds, scene = _scene(tmp_path)
    c2w = _all_c2w(scene)
    cv = gl.copy()
    cv[:, :, 1:3] *= -1.0  # OpenGL -> OpenCV camera axes
    scale = 1.0 / (0.75 * bounds.min())
    for i, j in [(0, 1), (2, 7), (5, 9)]:  # relative motions are the file's, positions scaled by 1/(0.75 min)
        rel = np.linalg.inv(np.vstack([c2w[i], [0, 0, 0, 1]])) @ np.vstack([c2w[j], [0, 0, 0, 1]])
        ref = np.linalg.inv(np.vstack([cv[i], [0, 0, 0, 1]])) @ np.vstack([cv[j], [0, 0, 0, 1]])
        np.testing.assert_allclose(rel[:3, :3], ref[:3, :3], atol=1e-6)
        np.testing.assert_allclose(rel[:3, 3], ref[:3, 3] * scale, atol=1e-5)
    # recentred: mean centre at the origin, cameras look along -z on average (NeRF's world)
    np.testing.assert_allclose(c2w[:, :, 3].mean(0), 0.0, atol=1e-5)
    forward = c2w[:, :, 2].sum(0)
    np.testing.assert_allclose(forward / np.linalg.norm(forward), [0, 0, -1], atol=1e-6)
    np.testing.assert_allclose(scene.extras["bounds"].numpy(), bounds * scale, rtol=1e-6)


def test_intrinsics_split_and_bounds(tmp_path):
    _, bounds, scene = _scene(tmp_path)
    cams = scene.train.cameras
    assert (cams.width, cams.height) == (W, H)
    assert float(cams.fx[0]) == pytest.approx(FOCAL) and float(cams.cx[0]) == W / 2 and float(cams.cy[0]) == H / 2
    assert scene.test.names == ["IMG_0000", "IMG_0008"] and len(scene.train) == 8
    scale = 1.0 / (0.75 * bounds.min())
    corner = np.sqrt(1 + (W / 2 / FOCAL) ** 2 + (H / 2 / FOCAL) ** 2)
    assert scene.near == pytest.approx(0.9 * bounds.min() * scale)
    assert scene.far == pytest.approx(bounds.max() * scale * corner)
    # every camera's frustum between near and far is inside the box
    origins, dirs = scene.train.cameras.image_rays(3)
    for t in (scene.near, scene.far / corner):
        pts = origins + dirs * t
        assert (pts >= scene.aabb[0] - 1e-4).all() and (pts <= scene.aabb[1] + 1e-4).all()


def test_images_n_folder_uses_focal_over_factor(tmp_path):
    _, _, scene = _scene(tmp_path, small=2, downscale=2)
    cams = scene.train.cameras
    assert (cams.width, cams.height) == (W // 2, H // 2)
    assert float(cams.fx[0]) == pytest.approx(FOCAL / 2) and float(cams.cx[0]) == W / 4


def _nerf_get_rays(c2w_gl, i, j):
    """NeRF's get_rays at pixel positions i (x), j (y): camera looks along -z, y up."""
    dirs = np.stack([(i - W * 0.5) / FOCAL, -(j - H * 0.5) / FOCAL, -np.ones_like(i)], -1)
    rays_d = dirs @ c2w_gl[:3, :3].T
    return np.broadcast_to(c2w_gl[:3, 3], rays_d.shape), rays_d


def _nerf_ndc_rays(near, rays_o, rays_d):
    """NeRF's ndc_rays(H, W, focal, near, rays_o, rays_d), as in the authors' run_nerf_helpers.py."""
    t = -(near + rays_o[..., 2]) / rays_d[..., 2]
    rays_o = rays_o + t[..., None] * rays_d
    o0 = -1.0 / (W / (2.0 * FOCAL)) * rays_o[..., 0] / rays_o[..., 2]
    o1 = -1.0 / (H / (2.0 * FOCAL)) * rays_o[..., 1] / rays_o[..., 2]
    o2 = 1.0 + 2.0 * near / rays_o[..., 2]
    d0 = -1.0 / (W / (2.0 * FOCAL)) * (rays_d[..., 0] / rays_d[..., 2] - rays_o[..., 0] / rays_o[..., 2])
    d1 = -1.0 / (H / (2.0 * FOCAL)) * (rays_d[..., 1] / rays_d[..., 2] - rays_o[..., 1] / rays_o[..., 2])
    d2 = -2.0 * near / rays_o[..., 2]
    return np.stack([o0, o1, o2], -1), np.stack([d0, d1, d2], -1)


def test_ndc_rays_match_nerf_formula(tmp_path):
    _, _, scene = _scene(tmp_path, ndc=True)
    cams = scene.train.cameras
    assert cams.ndc == NDCSpace(W / (2 * FOCAL), H / (2 * FOCAL), 1.0)
    x, y = torch.meshgrid(torch.arange(W), torch.arange(H), indexing="xy")
    x, y = x.reshape(-1), y.reshape(-1)
    for k in (0, 4):
        origins, dirs = cams.generate_rays(torch.full_like(x, k), x, y)
        c2w_gl = cams.c2w[k].double().numpy().copy()
        c2w_gl[:, 1:3] *= -1.0
        rays_o, rays_d = _nerf_get_rays(c2w_gl, x.numpy() + 0.5, y.numpy() + 0.5)  # nerfplex: pixel centres
        ndc_o, ndc_d = _nerf_ndc_rays(1.0, rays_o, rays_d)
        np.testing.assert_allclose(origins.numpy(), ndc_o, atol=1e-5)
        np.testing.assert_allclose(dirs.numpy(), ndc_d / np.linalg.norm(ndc_d, axis=-1, keepdims=True), atol=1e-5)
        # the NDC segment z' in [-1, 1] is inside the box; clipping to it gives NeRF's t' in [0, 1]
        ends = ndc_o + ndc_d
        assert np.allclose(ndc_o[:, 2], -1.0, atol=1e-5) and np.allclose(ends[:, 2], 1.0, atol=1e-5)
        box = scene.aabb.numpy()
        assert (ndc_o[:, :2] >= box[0, :2]).all() and (ends[:, :2] <= box[1, :2]).all()
    assert scene.near == 0.0 and scene.aabb[0, 2] == -1.0 and scene.aabb[1, 2] == 1.0


def test_ndc_maps_world_points_onto_the_ndc_ray(tmp_path):
    """Projective warp: the image of a world point on a ray lies on that ray's NDC line."""
    _, _, scene = _scene(tmp_path, ndc=True)
    cams = scene.train.cameras
    world = type(cams)(cams.c2w, cams.fx, cams.fy, cams.cx, cams.cy, cams.width, cams.height)
    idx, x, y = torch.tensor([1, 1, 2]), torch.tensor([0, 7, 15]), torch.tensor([0, 5, 11])
    o_w, d_w = world.generate_rays(idx, x, y)
    o_n, d_n = cams.generate_rays(idx, x, y)
    for t in (3.0, 10.0, 50.0):
        p = ndc_points((o_w + t * d_w).double(), cams.ndc).float()
        offset = p - o_n
        cross = torch.linalg.cross(offset, d_n)
        assert cross.abs().max() < 1e-4


def test_ndc_through_load_scene_needs_llff(tmp_path):
    gl, llff, bounds = _forward_facing()
    write_llff(tmp_path, llff, bounds, (H, W, FOCAL), (W, H))
    scene = load_scene(DataConfig(path=tmp_path, ndc=True))  # auto -> llff
    assert scene.train.cameras.ndc is not None and scene.extras["layout"] == "llff"
    assert DataConfig(path=tmp_path, ndc=True, ray_bounds="near_far").checks()[1][1] is False


@pytest.mark.parametrize(
    "damage, needle",
    [
        ("extra_image", "holds 11 images but poses_bounds.npy has 10"),
        ("bad_shape", "shape"),
        ("no_images", "no images/ folder"),
        ("bad_bounds", "bounds"),
    ],
)
def test_bad_llff_inputs(tmp_path, damage, needle):
    gl, llff, bounds = _forward_facing()
    write_llff(tmp_path, llff, bounds, (H, W, FOCAL), (W, H))
    if damage == "extra_image":
        import imageio.v3 as iio

        iio.imwrite(tmp_path / "images" / "zzz.png", np.zeros((H, W, 3), np.uint8))
    elif damage == "bad_shape":
        np.save(tmp_path / "poses_bounds.npy", np.zeros((10, 15)))
    elif damage == "no_images":
        import shutil

        shutil.rmtree(tmp_path / "images")
    else:
        array = np.load(tmp_path / "poses_bounds.npy")
        array[3, 15] = -1.0
        np.save(tmp_path / "poses_bounds.npy", array)
    with pytest.raises(NerfplexError, match=needle):
        load_llff(tmp_path)
