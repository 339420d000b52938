"""Uniform ray marching through a box: DVGO's sampler (the authors' ``sample_pts_on_rays``).

Each ray is clipped to the box (and to its own ``near`` / ``far``); samples sit at
``t_k = t_min + k · step`` for ``k < max(ceil((t_max - t_min) / step), 1)``, with no jitter, and
samples that fall outside the box are dropped. The samples of a batch are returned flat, as
(ray, step) index pairs into a dense ``[R, S]`` layout, ``S`` being the longest ray's count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from nerfplex.cameras import RayBundle


@dataclass
class MarchedSamples:
    """Samples of ``R`` rays: ``t [R, S]`` (every slot), and for the ``P`` samples that exist:
    ``ray [P]``, ``step [P]`` (indices into ``[R, S]``, ray-major, so each ray's samples are in
    order) and world ``points [P, 3]``."""

    t: Tensor
    ray: Tensor
    step: Tensor
    points: Tensor

    def select(self, keep: Tensor) -> MarchedSamples:
        """The samples where ``keep [P]`` is True."""
        return MarchedSamples(self.t, self.ray[keep], self.step[keep], self.points[keep])


def inside_box(points: Tensor, aabb: Tensor) -> Tensor:
    """``[P]``: points ``[P, 3]`` within ``aabb [2, 3]`` (faces included)."""
    box = aabb.to(points)
    return ((points >= box[0]) & (points <= box[1])).all(dim=-1)


def march_box(
    rays: RayBundle, aabb: Tensor, step: float, keep: Optional[Callable[[Tensor], Tensor]] = None
) -> MarchedSamples:
    """Uniform samples along ``rays [R]`` inside ``aabb [2, 3]``, ``step`` apart; with ``keep``
    (``points [P, 3] -> bool [P]``, e.g. a mask cache), only the samples it accepts."""
    clipped = rays.clipped_to_aabb(aabb)
    counts = torch.ceil((clipped.far - clipped.near) / step).clamp_min(1)  # [R, 1]
    num = int(counts.max()) if len(rays) else 1
    k = torch.arange(num, device=rays.origins.device, dtype=rays.origins.dtype)
    t = clipped.near + step * k  # [R, S]
    ray, index = (k < counts).nonzero(as_tuple=True)
    points = rays.origins[ray] + rays.directions[ray] * t[ray, index, None]
    accept = inside_box(points, aabb)
    if keep is not None:
        accept &= keep(points)
    return MarchedSamples(t, ray, index, points).select(accept)
