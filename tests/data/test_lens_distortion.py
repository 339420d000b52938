"""Rays of distorted cameras (instant-ngp's k1 k2 p1 p2 [k3]) against an independent undistortion:
a per-pixel scipy root solve of OpenCV's forward model, written out here from its documentation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from layouts import all_views, tiny_scene, write_ngp
from scipy.optimize import fsolve

from nerfplex.cameras import Cameras, look_at
from nerfplex.data.blender import load_blender
from nerfplex.distortion import distort, undistort

COEFFS = [(-0.28, 0.09, 0.0012, -0.0009, 0.015), (0.12, -0.03, -0.002, 0.003, 0.0), (0.0,) * 5]


def _opencv_forward(xy, k1, k2, p1, p2, k3):
    x, y = xy
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    return np.array(
        [x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x), y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y]
    )


def _reference_directions(c2w: np.ndarray, fx, fy, cx, cy, coeffs, width, height) -> np.ndarray:
    """Unit world directions ``[H * W, 3]`` row-major, one scipy solve per pixel."""
    out = []
    for v in range(height):
        for u in range(width):
            target = np.array([(u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy])
            xy = fsolve(lambda p, target=target: _opencv_forward(p, *coeffs) - target, target, xtol=1e-10)
            d = c2w[:3, :3] @ np.array([xy[0], xy[1], 1.0])
            out.append(d / np.linalg.norm(d))
    return np.array(out)


def _cameras(coeffs, width=20, height=14) -> Cameras:
    eye = torch.tensor([[3.0, 1.0, 1.5], [-2.0, 2.5, 0.5], [0.5, -3.0, 2.0]])
    c2w = look_at(eye, torch.zeros(3, 3), torch.tensor([0.0, 0.0, 1.0]))
    fx = torch.tensor([15.0, 18.0, 16.0])
    fy = torch.tensor([15.5, 17.0, 16.0])
    cx = torch.tensor([10.3, 9.1, 10.0])
    cy = torch.tensor([6.8, 7.4, 7.0])
    return Cameras(c2w, fx, fy, cx, cy, width, height, torch.tensor(coeffs, dtype=torch.float32))


def test_generated_rays_match_an_independent_undistortion():
    cams = _cameras(COEFFS)
    for i in range(len(cams)):
        origins, dirs = cams.image_rays(i)
        ref = _reference_directions(
            cams.c2w[i].double().numpy(),
            *(float(t[i]) for t in (cams.fx, cams.fy, cams.cx, cams.cy)),
            COEFFS[i],
            cams.width,
            cams.height,
        )
        np.testing.assert_allclose(dirs.double().numpy(), ref, atol=2e-6)
        torch.testing.assert_close(origins, cams.c2w[i, :, 3].expand_as(origins))
    # the distortion really moves the rays: the ideal pinhole rays differ
    pinhole = Cameras(cams.c2w, cams.fx, cams.fy, cams.cx, cams.cy, cams.width, cams.height)
    assert (pinhole.image_rays(0)[1] - cams.image_rays(0)[1]).norm(dim=-1).max() > 1e-2
    torch.testing.assert_close(pinhole.image_rays(2)[1], cams.image_rays(2)[1])  # zero coefficients


def test_undistort_inverts_distort_in_float64():
    g = torch.Generator().manual_seed(0)
    x, y = (torch.rand(5000, generator=g, dtype=torch.float64) * 1.2 - 0.6 for _ in range(2))
    coeffs = torch.tensor(COEFFS[0], dtype=torch.float64).expand(5000, 5)
    xd, yd = distort(x, y, coeffs)
    xu, yu = undistort(xd, yd, coeffs)
    torch.testing.assert_close(xu, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(yu, y, atol=1e-10, rtol=0)
    assert undistort(x[:0], y[:0], coeffs[:0])[0].numel() == 0


def test_downscaled_cameras_keep_the_coefficients():
    cams = _cameras(COEFFS, width=20, height=14)
    half = cams.scaled(0.5)
    torch.testing.assert_close(half.distortion, cams.distortion)
    assert cams[torch.tensor([1])].distortion.shape == (1, 5)


def test_transforms_json_distortion_reaches_the_rays(tmp_path):
    views = all_views(tiny_scene("object", n_train=2, n_test=1))
    root = write_ngp(views, tmp_path / "capture", ext=".jpg")
    meta = json.loads((root / "transforms.json").read_text())
    scene = load_blender(root, test_every=2)  # frames sorted by name: 0 and 2 held out
    cams = scene.test.cameras
    assert scene.test.names == ["0000", "0002"]
    for row, frame in ((0, meta["frames"][0]), (1, meta["frames"][2])):
        k = [frame.get(key, meta.get(key, 0.0)) for key in ("k1", "k2", "p1", "p2", "k3")]
        fx = frame.get("fl_x", meta["fl_x"])
        torch.testing.assert_close(cams.distortion[row], torch.tensor(k, dtype=torch.float32))
        gl = np.asarray(frame["transform_matrix"])
        c2w = gl @ np.diag([1.0, -1.0, -1.0, 1.0])  # OpenGL -> OpenCV camera axes
        ref = _reference_directions(c2w, fx, meta["fl_y"], meta["cx"], meta["cy"], k, meta["w"], meta["h"])
        np.testing.assert_allclose(cams.image_rays(row)[1].double().numpy(), ref, atol=2e-6)
    assert math.isclose(float(cams.fx[0]), meta["frames"][0]["fl_x"], rel_tol=1e-6)
    assert scene.train.rgb.shape == (1, 16, 16, 3)  # JPEG, opaque


@pytest.mark.parametrize("bad", [{"k1": "strong"}, {"p2": None}])
def test_bad_distortion_value_names_key_and_file(tmp_path, bad):
    from nerfplex.errors import NerfplexError

    views = all_views(tiny_scene("object", n_train=2, n_test=1))
    root = write_ngp(views, tmp_path / "c")
    meta = json.loads((root / "transforms.json").read_text())
    meta["frames"][1].update(bad)
    (root / "transforms.json").write_text(json.dumps(meta))
    key = next(iter(bad))
    with pytest.raises(NerfplexError, match=rf"'{key}' in frame 1 \('images/0001.jpg'\) of .*transforms.json"):
        load_blender(root)


def test_blender_writer_keeps_the_distortion(tmp_path):
    from nerfplex.data.blender_writer import write_blender_scene
    from nerfplex.data.scene import SceneData

    scene = tiny_scene("object", n_train=2, n_test=1)
    cams = scene.train.cameras
    scene.train.cameras = Cameras(
        cams.c2w,
        cams.fx,
        cams.fy,
        cams.cx,
        cams.cy,
        cams.width,
        cams.height,
        torch.tensor(COEFFS[:2], dtype=torch.float32),
    )
    changed = SceneData(scene.train, scene.test, scene.near, scene.far, scene.aabb)
    out = write_blender_scene(changed, tmp_path / "w")
    loaded = load_blender(out)
    torch.testing.assert_close(loaded.train.cameras.distortion, scene.train.cameras.distortion)
    assert loaded.test.cameras.distortion is None
