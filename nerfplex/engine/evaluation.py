"""Rendering held-out views and scoring them."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from nerfplex.data.scene import SceneSplit
from nerfplex.eval.view_rendering import RenderedView, ray_progress, render_view
from nerfplex.metrics.image_metrics import TRAINING_METRICS, build_metrics, score_image
from nerfplex.models.base import Model


def evenly_spaced(count: int, limit: Optional[int]) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all of them when ``limit`` is None)."""
    if limit is None or limit >= count:
        return list(range(count))
    return torch.linspace(0, count - 1, limit).round().long().tolist()


def evaluate_split(
    model: Model,
    split: SceneSplit,
    near: float,
    far: float,
    background: Tensor,
    chunk_size: int,
    indices: list[int],
    aabb: Optional[Tensor] = None,
    *,
    max_samples: int = 0,
    stride: int = 1,
    progress: bool = False,
    desc: str = "eval",
) -> tuple[list[dict], RenderedView]:
    """Render the views ``indices`` of ``split`` (every ``stride``-th row and column of each; the
    target is strided the same way); per-image metrics and the first rendered view.

    Returns ``[{"name", "psnr", "ssim"}]`` (SSIM: the NeRF convention; None for images smaller than
    its 11x11 window) and the first view (for pictures). ``progress`` shows a bar over the rays with
    rays/s and ETA. Switches the model to eval mode and back.
    """
    was_training = model.training
    model.eval()
    results, first = [], None
    metrics, _ = build_metrics(TRAINING_METRICS)  # the same metric code as `nerfplex eval`
    cameras = split.cameras
    rays = len(indices) * len(range(0, cameras.height, stride)) * len(range(0, cameras.width, stride))
    bar = ray_progress(rays, desc, progress)
    try:
        for index in indices:
            view = render_view(
                model,
                cameras,
                index,
                near,
                far,
                background,
                chunk_size,
                aabb,
                max_samples=max_samples,
                stride=stride,
                progress=bar,
            )
            first = first or view
            target = split.composite(background, index)[::stride, ::stride]
            rgb = view.rgb.clamp(0, 1)
            results.append({"name": split.names[index], **score_image(metrics, rgb, target)})
    finally:
        bar.close()
        model.train(was_training)
    return results, first
