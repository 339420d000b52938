"""The distortion loss of Mip-NeRF 360 (Barron et al., CVPR 2022), in DVGOv2's O(S) form.

For one ray with weights ``w_i`` at normalised distances ``s_i`` (sorted) and bin widths ``δ_i``:

    L = Σ_i Σ_j w_i w_j |s_i - s_j| + (1/3) Σ_i δ_i w_i²

The double sum equals ``2 Σ_i w_i (s_i W_{<i} - S_{<i})`` with the exclusive prefix sums
``W_{<i} = Σ_{j<i} w_j`` and ``S_{<i} = Σ_{j<i} w_j s_j`` (Sun et al., "Improved direct voxel grid
optimization", 2022; their ``flatten_eff_distloss``). The result is averaged over rays.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _exclusive_cumsum(x: Tensor) -> Tensor:
    return torch.cumsum(x, dim=-1) - x


def distortion_loss(weights: Tensor, s: Tensor, interval: Tensor | float) -> Tensor:
    """Mean over rays of ``L`` for ``weights``, ``s`` ``[R, S]`` (``s`` non-decreasing along each
    ray; samples that do not exist have weight 0) and ``interval`` (scalar or ``[R, S]``)."""
    if weights.shape[0] == 0:
        return weights.sum()
    w_before = _exclusive_cumsum(weights)
    ws_before = _exclusive_cumsum(weights * s)
    pairs = 2.0 * (weights * (s * w_before - ws_before)).sum(dim=-1)
    own = (interval * weights.pow(2)).sum(dim=-1) / 3.0
    return (pairs + own).mean()
