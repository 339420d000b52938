"""S3IM, Stochastic Structural SIMilarity (Xie et al., ICCV 2023).

The rays of a batch are gathered ``repeat`` times (first in their own order, then in random
permutations), the ``repeat · B`` gathered values are laid out row-major into one virtual image of
``patch_height`` rows, and the loss is ``1 - SSIM`` of the rendered against the target virtual image
(window ``kernel_size`` with σ = 1.5, stride ``stride``, zero padding ``(kernel_size - 1) // 2``).
This is the authors' algorithm (Madaoer/S3IM-Neural-Fields, ``model_components/s3im.py``).

Any batch size: the authors need ``B = patch_height · patch_width``. Here the virtual image is
``patch_height`` rows of ``W = floor(repeat · B / patch_height)`` columns and takes the first
``patch_height · W`` gathered values, i.e. at most ``patch_height - 1`` values at the end of the last
permutation are left out. When ``patch_height`` divides ``repeat · B`` (the authors' case included)
nothing is left out and the result is theirs exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from nerfplex.config_checks import Check, non_negative, positive
from nerfplex.errors import NerfplexError
from nerfplex.losses.ssim import ssim_map


@dataclass
class S3IMConfig:
    """The S3IM multiplex loss, added to the MSE for any method: total = MSE + weight · S3IM.

    The authors' defaults: kernel 4, stride 4, repeat 10, patch height 64 (with batch 4096: 64x64
    virtual patches); weight 1.0 in their Replica / Tanks & Temples configs, up to 5 for hard scenes."""

    weight: float = 0.0
    """λ, the weight of the S3IM term (0 switches it off)."""
    kernel_size: int = 4
    """SSIM window size of the virtual-image SSIM."""
    stride: int = 4
    """SSIM window stride."""
    repeat: int = 10
    """Number of times the batch is laid into the virtual image (the first in its own order)."""
    patch_height: int = 64
    """Rows of the virtual image; its width follows from the batch size."""
    depth_weight: float = 0.0
    """Weight of the same multiplex loss on rendered vs. ground-truth depth (depth / far, rays with
    ground truth only), where the dataset has depth. 0 switches it off."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *non_negative(self, "weight", "depth_weight"),
            *positive(self, "kernel_size", "stride", "repeat", "patch_height"),
        ]


def virtual_image_indices(
    batch_size: int,
    repeat: int,
    patch_height: int,
    *,
    generator: Optional[torch.Generator] = None,
    device=None,
    permutations: Optional[Tensor] = None,
) -> tuple[Tensor, int]:
    """Gather indices ``[patch_height · W]`` of the virtual image and its width ``W``.

    ``permutations`` ``[repeat - 1, B]`` fixes the random permutations (for tests); otherwise they
    are drawn from ``generator`` on ``device``, all at once.
    """
    width = repeat * batch_size // patch_height
    identity = torch.arange(batch_size, device=device)
    if repeat > 1:
        if permutations is None:
            keys = torch.rand((repeat - 1, batch_size), generator=generator, device=device)
            permutations = keys.argsort(dim=1)
        order = torch.cat([identity[None], permutations.to(identity.device)], dim=0).reshape(-1)
    else:
        order = identity
    return order[: patch_height * width], width


def s3im(
    pred: Tensor,
    target: Tensor,
    *,
    kernel_size: int = 4,
    stride: int = 4,
    repeat: int = 10,
    patch_height: int = 64,
    generator: Optional[torch.Generator] = None,
    permutations: Optional[Tensor] = None,
) -> Tensor:
    """The S3IM loss ``1 - SSIM(virtual(pred), virtual(target))`` of per-ray values ``[B, C]``."""
    batch, channels = pred.shape
    if repeat < 1 or patch_height < 1 or kernel_size < 1 or stride < 1:
        raise NerfplexError("S3IM: kernel_size, stride, repeat and patch_height must be positive.")
    index, width = virtual_image_indices(
        batch, repeat, patch_height, generator=generator, device=pred.device, permutations=permutations
    )
    padded = 2 * ((kernel_size - 1) // 2)
    if patch_height + padded < kernel_size or width + padded < kernel_size:
        raise NerfplexError(
            f"S3IM: a batch of {batch} rays x {repeat} repeats gives a {patch_height}x{width} virtual "
            f"image, smaller than the {kernel_size}x{kernel_size} window. Raise the batch size or "
            f"lower loss.s3im.patch_height."
        )

    def virtual(values: Tensor) -> Tensor:
        return values[index].t().reshape(1, channels, patch_height, width)

    similarity = ssim_map(
        virtual(pred), virtual(target), window_size=kernel_size, sigma=1.5, stride=stride, padding="zero"
    )
    return 1.0 - similarity.mean()


def s3im_from_config(
    config: S3IMConfig, pred: Tensor, target: Tensor, generator: Optional[torch.Generator] = None
) -> Tensor:
    """:func:`s3im` with the settings of ``config`` (unweighted)."""
    return s3im(
        pred,
        target,
        kernel_size=config.kernel_size,
        stride=config.stride,
        repeat=config.repeat,
        patch_height=config.patch_height,
        generator=generator,
    )
