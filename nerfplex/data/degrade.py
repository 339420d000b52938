"""Harder training sets for ablations: fewer views, noisy or blurred images (the S3IM paper's
sparse-view and corrupted-image settings). Only the training split is changed; evaluation stays clean."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor

from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.losses.ssim import gaussian_window


def keep_fraction(split: SceneSplit, fraction: float) -> SceneSplit:
    """Evenly spaced ``ceil(fraction · N)`` views of ``split`` (at least one)."""
    count = max(1, min(len(split), int(-(-fraction * len(split) // 1))))
    index = torch.linspace(0, len(split) - 1, count).round().long()
    return split.subset(index)


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Blur ``[N, H, W, C]`` with a Gaussian of ``sigma`` pixels (window ``2·ceil(3σ) + 1``, reflect)."""
    radius = max(1, int(-(-3 * sigma // 1)))
    g = gaussian_window(2 * radius + 1, sigma, device=images.device, dtype=images.dtype)
    x = images.permute(0, 3, 1, 2)
    channels = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return x.permute(0, 2, 3, 1)


def degrade_training_split(
    scene: SceneData, *, fraction: float = 1.0, noise_std: float = 0.0, blur_sigma: float = 0.0, seed: int = 0
) -> SceneData:
    """``scene`` with its training split thinned to ``fraction`` of the views, blurred by
    ``blur_sigma`` pixels, then given Gaussian noise of ``noise_std`` (clamped to [0, 1]; drawn from
    ``seed``). Premultiplied colours are degraded as stored, so alpha stays clean."""
    train = scene.train
    if fraction < 1.0:
        train = keep_fraction(train, fraction)
    rgb = train.rgb
    if blur_sigma > 0:
        rgb = gaussian_blur(rgb, blur_sigma)
    if noise_std > 0:
        noise = torch.randn(rgb.shape, generator=torch.Generator().manual_seed(seed))
        rgb = rgb + noise_std * noise
        upper = train.alpha if train.alpha is not None else torch.ones_like(rgb[..., :1])
        rgb = torch.minimum(rgb.clamp_min(0.0), upper)
    if rgb is not train.rgb:
        train = dataclasses.replace(train, rgb=rgb)
    return dataclasses.replace(scene, train=train)
