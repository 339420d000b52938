"""Browser cameras and the pictures the viewer sends (nerfplex/viewer/frames.py)."""

from __future__ import annotations

import numpy as np
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.losses.s3im import S3IMConfig
from nerfplex.viewer.frames import browser_camera, camera_pose, depth_picture, image_size, row_band, s3im_picture


def _cameras() -> Cameras:
    eye = torch.tensor([[3.0, 1.0, 2.0], [-2.0, 2.0, 1.0]])
    c2w = look_at(eye, torch.zeros(2, 3), torch.tensor([0.0, 0.0, 1.0]))
    return Cameras(
        c2w,
        torch.tensor([40.0, 50.0]),
        torch.tensor([40.0, 50.0]),
        torch.tensor([20.0, 20.0]),
        torch.tensor([15.0, 15.0]),
        40,
        30,
    )


def test_a_camera_seen_by_the_browser_renders_the_same_rays():
    cameras = _cameras()
    wxyz, position, fov_y, aspect = camera_pose(cameras, 1)
    assert aspect == 40 / 30
    again = browser_camera(wxyz, position, fov_y, 40, 30)
    assert torch.allclose(again.c2w[0], cameras.c2w[1], atol=1e-6)
    assert torch.allclose(again.fy, cameras.fy[1:], rtol=1e-6)
    ours, theirs = again.image_rays(0), cameras.image_rays(1)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours, theirs))


def test_row_bands_are_the_rows_of_the_image():
    camera = _cameras()[0]
    _, directions = camera.image_rays(0)
    band = row_band(camera, 10, 7)
    _, band_directions = band.image_rays(0)
    assert band.height == 7
    assert torch.allclose(band_directions, directions.reshape(30, 40, 3)[10:17].reshape(-1, 3), atol=1e-6)
    assert row_band(camera, 25, 100).height == 5


def test_image_size_keeps_the_aspect_and_the_long_side():
    assert image_size(16 / 9, 96) == (96, 54)
    assert image_size(0.5, 96) == (48, 96)


def test_depth_picture_is_black_where_nothing_is():
    depth = torch.linspace(1, 2, 20).reshape(4, 5, 1)
    opacity = torch.ones(4, 5, 1)
    opacity[0, 0] = 0
    picture = depth_picture(depth, opacity)
    assert picture.shape == (4, 5, 3) and float(picture[0, 0].abs().sum()) == 0
    assert float(picture[-1, -1].sum()) < float(picture[0, 1].sum())  # near is brighter


def test_s3im_picture_lays_out_the_batch_as_the_loss_does():
    rgb, target = torch.rand(64, 3), torch.rand(64, 3)
    picture = s3im_picture(rgb, target, S3IMConfig(repeat=2, patch_height=8, kernel_size=4, stride=4), scale=1)
    width = 2 * 64 // 8
    assert picture.shape == (3 * 8 + 4, width, 3)
    # The first repeat is the batch in its own order, row-major.
    expected = (rgb[:width] * 255 + 0.5).to(torch.uint8).numpy()
    assert np.array_equal(picture[0], expected)
    expected_target = (target[:width] * 255 + 0.5).to(torch.uint8).numpy()
    assert np.array_equal(picture[10], expected_target)
