"""Rendering held-out views and scoring them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from nerfplex.cameras import Cameras, RayBundle
from nerfplex.data.scene import SceneSplit
from nerfplex.metrics.image_metrics import TRAINING_METRICS, build_metrics, score_image
from nerfplex.models.base import Model


@dataclass
class RenderedView:
    """One rendered image: ``rgb [H, W, 3]``, ``depth [H, W, 1]``, ``opacity [H, W, 1]``."""

    rgb: Tensor
    depth: Tensor
    opacity: Tensor


def render_view(model: Model, cameras: Cameras, index: int, near: float, far: float,
                background: Tensor, chunk_size: int, aabb: Optional[Tensor] = None) -> RenderedView:
    """Render camera ``index`` with a uniform ``background [3]``, in chunks of rays, on CPU memory.

    With ``aabb [2, 3]`` the rays are clipped to that box (as in training)."""
    device = next(model.parameters()).device
    origins, directions = cameras.to(device).image_rays(index)
    rays = RayBundle.with_bounds(origins, directions, near, far)
    if aabb is not None:
        rays = rays.clipped_to_aabb(aabb.to(device))
    out = model.render_chunked(rays, background.to(device).expand(len(rays), 3), chunk_size)
    shape = (cameras.height, cameras.width, -1)
    return RenderedView(out["rgb"].reshape(shape).cpu(), out["depth"].reshape(shape).cpu(),
                        out["opacity"].reshape(shape).cpu())


def evenly_spaced(count: int, limit: Optional[int]) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all of them when ``limit`` is None)."""
    if limit is None or limit >= count:
        return list(range(count))
    return torch.linspace(0, count - 1, limit).round().long().tolist()


def evaluate_split(model: Model, split: SceneSplit, near: float, far: float, background: Tensor,
                   chunk_size: int, indices: list[int],
                   aabb: Optional[Tensor] = None) -> tuple[list[dict], RenderedView]:
    """Render the views ``indices`` of ``split``; per-image PSNR and the first rendered view.

    Returns ``[{"name", "psnr", "ssim"}]`` (SSIM: the NeRF convention; None for images smaller than
    its 11x11 window) and the first view (for pictures). Switches the model to eval mode
    and back.
    """
    was_training = model.training
    model.eval()
    results, first = [], None
    metrics, _ = build_metrics(TRAINING_METRICS)  # the same metric code as `nerfplex eval`
    try:
        for index in indices:
            view = render_view(model, split.cameras, index, near, far, background, chunk_size, aabb)
            first = first or view
            rgb, target = view.rgb.clamp(0, 1), split.composite(background, index)
            results.append({"name": split.names[index], **score_image(metrics, rgb, target)})
    finally:
        model.train(was_training)
    return results, first
