"""Browser cameras and the pictures the viewer sends (nerfplex/viewer/frames.py)."""

from __future__ import annotations

import numpy as np
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.losses.s3im import S3IMConfig
from nerfplex.viewer.frames import (
    browser_camera,
    camera_pose,
    depth_picture,
    image_size,
    pixel_order,
    quick_frame_size,
    s3im_picture,
)


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


def test_pixel_order_is_a_fixed_permutation_whose_runs_cover_the_image():
    order = pixel_order(40 * 30)
    assert torch.equal(order.sort().values, torch.arange(1200)) and torch.equal(order, pixel_order(1200))
    state = torch.random.get_rng_state()
    pixel_order(100)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is not touched
    rows = order[:120] // 40  # a tenth of the pixels: rows from the whole image, not its top
    assert int(rows.min()) <= 3 and int(rows.max()) >= 26


def test_the_quick_frame_shrinks_for_a_slow_model_only():
    assert quick_frame_size(16 / 9, 64, pixel_budget=1e6) == (64, 36)
    width, height = quick_frame_size(16 / 9, 64, pixel_budget=1000)
    assert (
        width * height <= 1.05 * 1000 and width >= 40
    )  # about the budget (the sides are rounded) and (width, height) == image_size(16 / 9, width)
    assert quick_frame_size(1.0, 64, pixel_budget=1) == (16, 16)  # never below 16 px
    assert quick_frame_size(2.0, 8, pixel_budget=1) == (8, 4)  # nor above the asked resolution


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
