"""DVGOv2's contracted space for unbounded scenes (``lib/dcvgo.py`` of sunset1995/DirectVoxGO).

World points are first normalised by the foreground cube (``(x - centre) / radius``). Inside the unit
ball of the chosen norm (``inf``: the cube, ``l2``: the sphere) they stay as they are; beyond it,
``x -> x / |x| · ((1 + bg_len) - bg_len / |x|)``, which maps ``|x| in [1, ∞)`` onto
``[1, 1 + bg_len)`` (``bg_len = 1`` is Mip-NeRF 360's ``(2 - 1/|x|) x/|x|``). One dense grid over
``[-1 - bg_len, 1 + bg_len]^3`` then covers the whole scene. ``ngp`` uses the same map with
``bg_len = 1`` (Mip-NeRF 360's contraction; ``inf`` is nerfstudio's ``SceneContraction(order=inf)`` of
nerfacto, ``l2`` the paper's) for its hash grid's input; :func:`uncontract` is the inverse.

Sampling (the authors' ``sample_ray``): distances ``t`` along unit directions in normalised units,
the midpoints of ``N`` equal bins over ``[0, 2]`` and of ``N`` bins with edges ``2 / linspace(1, 1/128)``
over ``[2, 256]``, ``N = int(2 / (2 + 2 bg_len) · grid_side / stepsize) + 1``; the same for every ray,
from its origin (near / far are not used). Outer samples closer than 0.95 steps (in contracted space)
to the last kept sample are skipped (their ``cumdist_thres``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Optional

import torch
from torch import Tensor

from nerfplex.cameras import RayBundle
from nerfplex.render.voxel_march import MarchedSamples

ContractionNorm = Literal["inf", "l2"]


def contract(points: Tensor, bg_len: float, norm: ContractionNorm = "inf") -> tuple[Tensor, Tensor]:
    """Contracted ``points [..., 3]`` (already normalised by the foreground cube) and ``inner [...]``
    (True where the point was inside the unit ball and is unchanged)."""
    size = points.abs().amax(dim=-1, keepdim=True) if norm == "inf" else points.norm(dim=-1, keepdim=True)
    inner = size <= 1
    outer = points / size * ((1 + bg_len) - bg_len / size)
    return torch.where(inner, points, outer), inner[..., 0]


def uncontract(contracted: Tensor, bg_len: float, norm: ContractionNorm = "inf") -> Tensor:
    """The inverse of :func:`contract`: points ``[..., 3]`` of norm below ``1 + bg_len`` back to the
    normalised world (``|x| = bg_len / ((1 + bg_len) - |y|)`` along the same direction beyond the unit
    ball)."""
    size = contracted.abs().amax(dim=-1, keepdim=True) if norm == "inf" else contracted.norm(dim=-1, keepdim=True)
    world_size = bg_len / ((1 + bg_len) - size).clamp_min(1e-12)
    return torch.where(size <= 1, contracted, contracted / size.clamp_min(1e-12) * world_size)


def sample_distances(bg_len: float, grid_side: int, stepsize: float, device=None) -> Tensor:
    """The authors' ``t`` ``[2 N]`` (normalised units; see the module docstring)."""
    count = int(2 / (2 + 2 * bg_len) * grid_side / stepsize) + 1
    inner = torch.linspace(0, 2, count + 1, device=device)
    outer = 2 / torch.linspace(1, 1 / 128, count + 1, device=device)
    return torch.cat([(inner[1:] + inner[:-1]) * 0.5, (outer[1:] + outer[:-1]) * 0.5])


def spaced_out(dist: Tensor, threshold: float) -> Tensor:
    """The authors' ``cumdist_thres``: along each row of ``dist [R, S]``, accumulate distances and
    flag (and restart at) each position where the sum exceeds ``threshold``: bool ``[R, S]``."""
    flags = torch.zeros_like(dist, dtype=torch.bool)
    total = torch.zeros_like(dist[:, 0])
    for i in range(dist.shape[1]):
        total = total + dist[:, i]
        flags[:, i] = total > threshold
        total = torch.where(flags[:, i], torch.zeros_like(total), total)
    return flags


def march_contracted(
    rays: RayBundle,
    centre: Tensor,
    radius: float,
    bg_len: float,
    norm: ContractionNorm,
    grid_side: int,
    stepsize: float,
    keep: Optional[Callable[[Tensor], Tensor]] = None,
) -> tuple[MarchedSamples, Tensor]:
    """Samples of ``rays [R]`` in contracted space for a grid of ``grid_side`` vertices per axis over
    ``[-1 - bg_len, 1 + bg_len]^3``; ``keep`` filters the contracted points (e.g. a mask cache).

    Returns the samples (``t`` in world units, points contracted) and the normalised ``t [S]``.
    """
    t = sample_distances(bg_len, grid_side, stepsize, rays.origins.device).to(rays.origins.dtype)
    origins = (rays.origins - centre.to(rays.origins)) / radius
    points, inner = contract(origins[:, None] + rays.directions[:, None] * t[:, None], bg_len, norm)
    accept = inner.clone()
    if t.shape[0] > 1:
        step = (2 + 2 * bg_len) / grid_side * stepsize * 0.95
        accept[:, 1:] |= spaced_out((points[:, 1:] - points[:, :-1]).norm(dim=-1), step)
    ray, index = accept.nonzero(as_tuple=True)
    samples = MarchedSamples((t * radius).expand(len(rays), -1), ray, index, points[ray, index])
    if keep is not None:
        samples = samples.select(keep(samples.points))
    return samples, t
