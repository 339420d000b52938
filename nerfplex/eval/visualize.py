"""Turning depth and error maps into pictures for TensorBoard and reports."""

from __future__ import annotations

import torch
from torch import Tensor

# A few control points of a perceptually ordered colour map (dark blue -> yellow), interpolated.
_RAMP = torch.tensor(
    [[0.05, 0.03, 0.33], [0.23, 0.32, 0.55], [0.13, 0.57, 0.55], [0.37, 0.79, 0.38], [0.99, 0.91, 0.14]]
)


def colormap(values: Tensor) -> Tensor:
    """Map ``[H, W]`` values in [0, 1] to colours ``[H, W, 3]``."""
    ramp = _RAMP.to(values.device)
    x = values.clamp(0, 1) * (len(ramp) - 1)
    lo = x.floor().long().clamp(max=len(ramp) - 2)
    frac = (x - lo)[..., None]
    return ramp[lo] * (1 - frac) + ramp[lo + 1] * frac


def depth_image(depth: Tensor, opacity: Tensor, near: float, far: float) -> Tensor:
    """Depth ``[H, W, 1]`` as colours, normalised between near and far; empty pixels black."""
    normalised = (depth[..., 0] - near) / max(far - near, 1e-8)
    return colormap(1.0 - normalised) * opacity.clamp(0, 1)


def error_image(pred: Tensor, target: Tensor) -> Tensor:
    """Per-pixel absolute error (mean over channels), ``[H, W, 3]`` colours; full scale = 0.25."""
    return colormap((pred - target).abs().mean(dim=-1) / 0.25)
