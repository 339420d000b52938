"""Uniform marching that keeps only samples in occupied cells of an :class:`OccupancyGrid` (torch).

The samples are nerfacc's (``traverse_grids`` with a constant step and ``cone_angle = 0``, read for
its rule): from each ray's start ``t0``, intervals ``[t0 + k·dt, t0 + (k + 1)·dt]`` whose midpoint
lies before the ray's end and inside an occupied cell of the box. nerfacc accumulates ``t += dt`` in
float32 where this code multiplies, so samples on a cell boundary may differ in the last bits.

Samples are returned in a dense ``[R, K]`` layout (``K`` steps of the longest ray) with a mask,
which the model composites per ray with :mod:`nerfplex.render.compositing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nerfplex.render.occupancy_grid import OccupancyGrid


@dataclass
class GridSamples:
    """Candidate samples of ``R`` rays: midpoints ``t [R, K]``, ``keep [R, K]`` (inside the ray, the
    box and an occupied cell), and world ``points [R, K, 3]``; the interval length is ``step``."""

    t: Tensor
    keep: Tensor
    points: Tensor
    step: float


def march_occupied(origins: Tensor, directions: Tensor, start: Tensor, end: Tensor,
                   grid: OccupancyGrid, step: float) -> GridSamples:
    """Samples ``step`` apart from ``start`` up to ``end`` (``[R, 1]``, clipped to the grid's box by the
    caller) along rays ``origins, directions [R, 3]``, kept where the grid is occupied."""
    span = (end - start).clamp_min(0.0)
    count = max(1, int(math.ceil(float(span.max()) / step)) + 1) if span.numel() else 1
    k = torch.arange(count, device=origins.device, dtype=origins.dtype)
    t = start + (k + 0.5) * step  # [R, K] midpoints
    points = origins[:, None] + directions[:, None] * t[..., None]
    keep = (t < end) & (end > start)
    flat = keep.view(-1)
    if bool(flat.any()):
        candidates = flat.nonzero().squeeze(1)
        flat[candidates] = grid.occupied(points.view(-1, 3)[candidates])
    return GridSamples(t, keep, points, step)
