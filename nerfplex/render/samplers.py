"""Sampling distances along rays: stratified and hierarchical (inverse-CDF) sampling.

Samples are represented by bin edges ``[R, S + 1]``; sample ``i`` sits at the bin's midpoint and has
length ``edges[i + 1] - edges[i]`` for compositing.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def stratified_edges(
    near: Tensor, far: Tensor, num_samples: int, *, perturb: bool, generator: Optional[torch.Generator] = None
) -> Tensor:
    """Bin edges of ``num_samples`` bins between ``near`` and ``far`` ``[R, 1]``: ``[R, S + 1]``.

    With ``perturb`` the inner edges are jittered uniformly within their strata (NeRF's stratified
    sampling); otherwise the bins are evenly spaced.
    """
    steps = torch.linspace(0.0, 1.0, num_samples + 1, device=near.device, dtype=near.dtype)
    edges = near + (far - near) * steps
    if perturb and num_samples > 1:
        mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
        lower = torch.cat([edges[:, :1], mids], dim=-1)
        upper = torch.cat([mids, edges[:, -1:]], dim=-1)
        u = torch.rand(edges.shape, device=edges.device, dtype=edges.dtype, generator=generator)
        edges = lower + (upper - lower) * u
    return edges


def pdf_edges(
    edges: Tensor,
    weights: Tensor,
    num_samples: int,
    *,
    perturb: bool,
    generator: Optional[torch.Generator] = None,
    eps: float = 1e-5,
) -> Tensor:
    """Draw ``num_samples`` distances from the piecewise-constant pdf given by ``weights``.

    Args:
        edges: ``[R, S + 1]`` bin edges of the coarse samples.
        weights: ``[R, S]`` compositing weights of the coarse samples (not differentiated through).
        perturb: stratified-random CDF positions; otherwise evenly spaced ones.
    Returns:
        ``[R, num_samples]`` sorted distances (inverse transform sampling, as in NeRF's ``sample_pdf``;
        ``eps`` keeps empty rays sampling uniformly).
    """
    weights = weights.detach() + eps
    pdf = weights / weights.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, dim=-1)], dim=-1)
    cdf = cdf.clamp(max=1.0)
    num_rays = edges.shape[0]
    if perturb:
        u = (
            torch.arange(num_samples, device=edges.device, dtype=edges.dtype)
            + torch.rand((num_rays, num_samples), device=edges.device, dtype=edges.dtype, generator=generator)
        ) / num_samples
    else:
        u = ((torch.arange(num_samples, device=edges.device, dtype=edges.dtype) + 0.5) / num_samples).expand(
            num_rays, num_samples
        )
    u = u.contiguous()
    idx = torch.searchsorted(cdf.detach(), u, right=True)
    below = (idx - 1).clamp(0, cdf.shape[-1] - 1)
    above = idx.clamp(0, cdf.shape[-1] - 1)
    cdf_lo, cdf_hi = cdf.gather(-1, below), cdf.gather(-1, above)
    bin_lo, bin_hi = edges.gather(-1, below), edges.gather(-1, above)
    denom = cdf_hi - cdf_lo
    t = torch.where(denom > 0, (u - cdf_lo) / denom.clamp_min(1e-12), torch.zeros_like(u))
    return (bin_lo + t * (bin_hi - bin_lo)).detach()


def merge_edges(coarse_edges: Tensor, fine_points: Tensor) -> Tensor:
    """Union of coarse bin edges ``[R, S + 1]`` and fine distances ``[R, F]`` as sorted edges."""
    return torch.sort(torch.cat([coarse_edges, fine_points], dim=-1), dim=-1).values


def midpoints(edges: Tensor) -> Tensor:
    """Sample distances ``[R, S]`` at the middle of bins with edges ``[R, S + 1]``."""
    return 0.5 * (edges[:, 1:] + edges[:, :-1])
