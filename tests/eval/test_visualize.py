"""Colour maps of depth and error images."""

from __future__ import annotations

import torch

from nerfplex.eval.visualize import _RAMP, colormap, depth_image, error_image


def test_colormap_hits_its_control_points_and_clamps():
    values = torch.tensor([[0.0, 0.25, 1.0, -3.0, 7.0]])
    colours = colormap(values)
    assert colours.shape == (1, 5, 3)
    torch.testing.assert_close(colours[0, :3], _RAMP[[0, 1, 4]])
    torch.testing.assert_close(colours[0, 3:], _RAMP[[0, 4]])


def test_depth_near_is_bright_far_is_dark_and_empty_is_black():
    depth = torch.tensor([[[2.0], [6.0], [4.0]]])
    opacity = torch.tensor([[[1.0], [1.0], [0.0]]])
    image = depth_image(depth, opacity, near=2.0, far=6.0)
    torch.testing.assert_close(image[0, 0], _RAMP[-1])
    torch.testing.assert_close(image[0, 1], _RAMP[0])
    assert image[0, 2].abs().max() == 0


def test_error_full_scale_is_a_quarter():
    target = torch.zeros(1, 2, 3)
    pred = torch.tensor([[[0.25] * 3, [0.0] * 3]])
    image = error_image(pred, target)
    torch.testing.assert_close(image[0, 0], _RAMP[-1])
    torch.testing.assert_close(image[0, 1], _RAMP[0])
