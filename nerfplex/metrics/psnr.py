"""PSNR: the peak signal-to-noise ratio of images in [0, 1] (also the trainer's per-batch training PSNR)."""

from __future__ import annotations

import torch
from torch import Tensor


def mse_to_psnr(mse: Tensor) -> Tensor:
    """PSNR in dB for images in [0, 1]: ``-10 log10(mse)``."""
    return -10.0 * torch.log10(mse)


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """PSNR of one image ``[H, W, 3]`` (or any matching shapes) in [0, 1]."""
    return mse_to_psnr(torch.mean((pred - target) ** 2))
