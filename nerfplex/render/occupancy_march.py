"""Marching that keeps only samples in occupied cells of an :class:`OccupancyGrid` (torch), with a
constant step or instant-ngp's cone-angle step.

The samples are nerfacc's (``traverse_grids``, read for its rule): from each ray's start ``t0``,
intervals ``[t_k, t_(k+1)]`` whose midpoint lies before the ray's end and inside an occupied cell,
with ``t_(k+1) = t_k + dt(t_k)`` and ``dt(t) = clamp(t · cone_angle, min_step, max_step)``
(instant-ngp's ``calc_dt``; ``cone_angle = 0`` is the constant step ``min_step``; nerfacc has no
``max_step``, i.e. ``max_step = ∞``). The step therefore grows linearly with the distance once
``t > min_step / cone_angle``, so the number of steps over ``[t0, t1]`` grows only with
``log(t1 / t0) / log(1 + cone_angle)``: far background costs few samples (:func:`step_count`).

The boundaries are computed in closed form (three phases: constant ``min_step``, geometric growth by
``1 + cone_angle``, constant ``max_step``) where nerfacc accumulates ``t += dt`` in float32, so
samples on a cell boundary may differ in the last bits.

Samples are returned in a dense ``[R, K]`` layout (``K`` steps of the longest ray) with a mask and the
per-sample interval lengths, which the model composites per ray with :mod:`nerfplex.render.compositing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nerfplex.render.occupancy_grid import OccupancyGrid


@dataclass
class GridSamples:
    """Candidate samples of ``R`` rays: midpoints ``t [R, K]``, interval lengths ``deltas [R, K]``,
    ``keep [R, K]`` (inside the ray, the box and an occupied cell), and world ``points [R, K, 3]``."""

    t: Tensor
    deltas: Tensor
    keep: Tensor
    points: Tensor


@dataclass(frozen=True)
class StepRule:
    """``dt(t) = clamp(t · cone_angle, min_step, max_step)``; ``max_step = 0``: no upper bound."""

    min_step: float
    cone_angle: float = 0.0
    max_step: float = 0.0

    @property
    def cone_start(self) -> float:
        """Where the step starts to grow (``min_step / cone_angle``; ∞ without a cone)."""
        return self.min_step / self.cone_angle if self.cone_angle > 0 else math.inf

    @property
    def cone_end(self) -> float:
        """Where the step stops growing (``max_step / cone_angle``; ∞ without a cap)."""
        return self.max_step / self.cone_angle if self.cone_angle > 0 and self.max_step > 0 else math.inf

    def dt(self, t: Tensor) -> Tensor:
        """The step taken from ``t`` (any shape)."""
        upper = self.max_step if self.max_step > 0 else math.inf
        return (t * self.cone_angle).clamp(self.min_step, upper)

    def _phases(self, t0: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Steps in the constant phase ``n_a``, ``t_a`` after them, steps in the growing phase ``n_b``,
        ``t_b`` after them (all shaped like ``t0``)."""
        t0 = t0.double()
        n_a = (
            ((self.cone_start - t0) / self.min_step).ceil().clamp_min(0)
            if self.cone_angle > 0
            else torch.full_like(t0, math.inf)
        )
        t_a = t0 + n_a * self.min_step if self.cone_angle > 0 else torch.full_like(t0, math.inf)
        growth = math.log1p(self.cone_angle) if self.cone_angle > 0 else 1.0
        n_b = (
            (torch.log(self.cone_end / t_a) / growth).ceil().clamp_min(0)
            if math.isfinite(self.cone_end)
            else torch.full_like(t0, math.inf)
        )
        t_b = t_a * (1 + self.cone_angle) ** n_b
        return n_a, t_a, n_b, t_b

    def boundaries(self, t0: Tensor, k: Tensor) -> Tensor:
        """``t_k`` for rays starting at ``t0 [R, 1]`` and step indices ``k [K]``: ``[R, K]``."""
        n_a, t_a, n_b, t_b = self._phases(t0)
        kd = k.double()
        constant = t0.double() + kd * self.min_step
        growing = t_a * (1 + self.cone_angle) ** (kd - n_a)
        capped = t_b + (kd - n_a - n_b) * self.max_step
        out = torch.where(kd <= n_a, constant, torch.where(kd <= n_a + n_b, growing, capped))
        return out.to(t0.dtype)

    def count(self, t0: Tensor, t1: Tensor) -> Tensor:
        """Steps needed to reach ``t1`` from ``t0`` (same shapes), as a float tensor."""
        n_a, t_a, n_b, t_b = self._phases(t0)
        t0d, t1d = t0.double(), t1.double()
        growth = math.log1p(self.cone_angle) if self.cone_angle > 0 else 1.0
        constant = ((t1d - t0d) / self.min_step).ceil()
        growing = n_a + (torch.log(t1d / t_a) / growth).ceil()
        capped = n_a + n_b + ((t1d - t_b) / max(self.max_step, 1e-30)).ceil()
        out = torch.where(t1d <= t_a, constant, torch.where(t1d <= t_b, growing, capped))
        return out.clamp_min(0)


def step_count(rule: StepRule, start: Tensor, end: Tensor) -> Tensor:
    """Upper bound on the samples of each ray from ``start`` to ``end`` (``[R, 1]``): ``[R, 1]`` long."""
    return (rule.count(start, end) + 1).clamp_min(1).long()


def march_occupied(
    origins: Tensor, directions: Tensor, start: Tensor, end: Tensor, grid: OccupancyGrid, step: float | StepRule
) -> GridSamples:
    """Samples by ``step`` (a constant step or a :class:`StepRule`) from ``start`` up to ``end``
    (``[R, 1]``, clipped to the grid's box by the caller) along rays ``origins, directions [R, 3]``,
    kept where the grid is occupied."""
    rule = step if isinstance(step, StepRule) else StepRule(float(step))
    span_ok = end > start
    count = int(step_count(rule, start, torch.maximum(end, start)).max()) if start.numel() else 1
    k = torch.arange(count + 1, device=origins.device, dtype=origins.dtype)
    edges = rule.boundaries(start, k)  # [R, K + 1]
    deltas = edges[:, 1:] - edges[:, :-1]
    t = edges[:, :-1] + deltas * 0.5  # [R, K] midpoints
    points = origins[:, None] + directions[:, None] * t[..., None]
    keep = (t < end) & span_ok
    flat = keep.view(-1)
    if bool(flat.any()):
        candidates = flat.nonzero().squeeze(1)
        flat[candidates] = grid.occupied(points.view(-1, 3)[candidates])
    return GridSamples(t, deltas, keep, points)
