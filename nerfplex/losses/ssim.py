"""Structural similarity (Wang et al., 2004), shared by the S3IM loss and the evaluation metric.

``ssim_map`` is the one implementation: a separable Gaussian window ``exp(-(x - K//2)^2 / (2σ^2))``
for ``x`` in ``0..K-1`` (normalised; off-centre for even ``K``, as in the S3IM authors' code), applied
per channel with a grouped convolution, biased (population) variances, constants
``C1 = (k1 L)^2``, ``C2 = (k2 L)^2`` and no clamping.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Padding = Literal["zero", "valid"]


def gaussian_window(size: int, sigma: float, *, device=None, dtype=torch.float32) -> Tensor:
    """The normalised 1-D window ``[size]``, centred on ``size // 2``."""
    x = torch.arange(size, device=device, dtype=torch.float64)
    weights = torch.exp(-((x - size // 2) ** 2) / (2.0 * sigma**2))
    return (weights / weights.sum()).to(dtype)


def ssim_map(
    img1: Tensor,
    img2: Tensor,
    *,
    window_size: int = 11,
    sigma: float = 1.5,
    stride: int = 1,
    padding: Padding = "valid",
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 1.0,
) -> Tensor:
    """Local SSIM values.

    Args:
        img1, img2: ``[N, C, H, W]``.
        padding: ``zero`` pads ``(window_size - 1) // 2`` zeros on each side (the S3IM code);
            ``valid`` uses only windows inside the image (the NeRF evaluation convention).
    Returns:
        ``[N, C, H', W']`` SSIM per window position.
    """
    if img1.shape != img2.shape or img1.dim() != 4:
        raise ValueError(
            f"ssim_map expects two [N, C, H, W] tensors of one shape, got {tuple(img1.shape)} and {tuple(img2.shape)}"
        )
    channels = img1.shape[1]
    g = gaussian_window(window_size, sigma, device=img1.device, dtype=img1.dtype)
    window = (g[:, None] * g[None, :]).expand(channels, 1, window_size, window_size).contiguous()
    pad = (window_size - 1) // 2 if padding == "zero" else 0

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(x, window, stride=stride, padding=pad, groups=channels)

    # One convolution over the five stacked moments instead of five separate ones.
    moments = blur(
        torch.cat([img1, img2, img1 * img1, img2 * img2, img1 * img2], dim=1).view(
            img1.shape[0] * 5, channels, *img1.shape[2:]
        )
    )
    moments = moments.view(img1.shape[0], 5, channels, *moments.shape[2:])
    mu1, mu2, e11, e22, e12 = moments.unbind(dim=1)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    var1, var2, cov = e11 - mu1_sq, e22 - mu2_sq, e12 - mu12
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * mu12 + c1) * (2 * cov + c2)) / ((mu1_sq + mu2_sq + c1) * (var1 + var2 + c2))


def image_ssim(pred: Tensor, target: Tensor) -> Tensor:
    """SSIM of one image pair ``[H, W, C]`` in [0, 1], the NeRF evaluation convention.

    11x11 Gaussian window (σ = 1.5), only windows inside the image, K1 = 0.01, K2 = 0.03, data range
    1, mean over positions and channels. Equals ``skimage.metrics.structural_similarity(pred, target,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)``.
    """
    a = pred.permute(2, 0, 1)[None]
    b = target.permute(2, 0, 1)[None]
    return ssim_map(a, b, window_size=11, sigma=1.5, padding="valid").mean()
