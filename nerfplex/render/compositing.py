"""Volume rendering: density -> alpha -> transmittance -> weights -> composited quantities.

For sample ``i`` with density ``σ_i`` and bin length ``δ_i``: ``α_i = 1 - exp(-σ_i δ_i)``,
``T_i = exp(-Σ_{j<i} σ_j δ_j)``, ``w_i = T_i α_i`` (Max 1995; NeRF eq. 3).
"""

from __future__ import annotations

import torch
from torch import Tensor


def density_weights(densities: Tensor, deltas: Tensor) -> Tensor:
    """Compositing weights ``[R, S]`` from densities and bin lengths ``[R, S]``."""
    optical = densities * deltas
    exclusive = torch.cumsum(optical, dim=-1) - optical
    transmittance = torch.exp(-exclusive)
    return transmittance * (1.0 - torch.exp(-optical))


def composite(weights: Tensor, rgb: Tensor, distances: Tensor, background: Tensor) -> dict[str, Tensor]:
    """Accumulate along rays.

    Args:
        weights: ``[R, S]``; rgb: ``[R, S, 3]``; distances: ``[R, S]`` sample distances;
        background: ``[R, 3]`` colour seen through the remaining transmittance.
    Returns:
        ``rgb [R, 3]``, ``opacity [R, 1]`` (accumulated weight), ``depth [R, 1]`` (expected distance of
        the opaque part, ``Σ w t / Σ w``; 0 for empty rays).
    """
    opacity = weights.sum(dim=-1, keepdim=True)
    color = torch.einsum("rs,rsc->rc", weights, rgb) + (1.0 - opacity) * background
    depth = (weights * distances).sum(dim=-1, keepdim=True) / opacity.clamp_min(1e-10)
    return {"rgb": color, "opacity": opacity, "depth": depth}
