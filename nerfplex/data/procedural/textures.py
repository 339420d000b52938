"""Procedural solid (3-D) textures: view-independent albedo as a function of world position.

Patterns are low-to-medium frequency (cells and periods of about 0.25 units and up) so that a small
NeRF can learn them from 64 x 64 images. Stripes are smooth (cosine-based) so that they do not alias
and stay stable on flat faces; the hard-edged checkerboard is used on curved surfaces and on the floor
(2-D in x, y), where no face coincides with a cell boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum

import torch
from torch import Tensor

Color = Sequence[float]
Texture = Callable[[Tensor], Tensor]
"""``points [P, 3] -> albedo [P, 3]`` in [0, 1]."""


def _mix(t: Tensor, color_a: Color, color_b: Color) -> Tensor:
    """Blend ``[P]`` weights between two colours: ``[P, 3]``."""
    a = torch.as_tensor(color_a, dtype=t.dtype, device=t.device)
    b = torch.as_tensor(color_b, dtype=t.dtype, device=t.device)
    return a + t[:, None] * (b - a)


def _along(points: Tensor, direction: Sequence[float]) -> Tensor:
    d = torch.as_tensor(direction, dtype=points.dtype, device=points.device)
    return points @ (d / d.norm())


def checker(
    points: Tensor, cell: float, color_a: Color, color_b: Color, axes: Sequence[int] = (0, 1, 2), offset: float = 0.0
) -> Tensor:
    """Checkerboard of cubes (or squares, with two ``axes``) of side ``cell``: ``[P, 3]``."""
    index = torch.floor((points[:, list(axes)] + offset) / cell).sum(dim=-1)
    return _mix(torch.remainder(index, 2.0), color_a, color_b)


def stripes(
    points: Tensor, direction: Sequence[float], period: float, color_a: Color, color_b: Color, offset: float = 0.0
) -> Tensor:
    """Smooth stripes across ``direction`` with the given ``period``: ``[P, 3]``."""
    phase = 2.0 * math.pi * (_along(points, direction) + offset) / period
    wave = 0.5 + 0.5 * torch.cos(phase)
    t = wave * wave * (3.0 - 2.0 * wave)  # smoothstep: flatter bands, still C1
    return _mix(t, color_a, color_b)


def gradient(
    points: Tensor, direction: Sequence[float], low: float, high: float, color_a: Color, color_b: Color
) -> Tensor:
    """Linear colour ramp from ``color_a`` at ``p . d = low`` to ``color_b`` at ``high``: ``[P, 3]``."""
    t = ((_along(points, direction) - low) / (high - low)).clamp(0.0, 1.0)
    return _mix(t, color_a, color_b)


class Material(IntEnum):
    """Material ids used by the built-in scenes."""

    RED_CHECKER = 0
    BLUE_STRIPES = 1
    GOLD_GRADIENT = 2
    GREEN_BANDS = 3
    FLOOR_TILES = 4
    WALL_STRIPES = 5
    WALL_GRADIENT = 6
    CEILING = 7
    WOOD = 8
    TEAL_STRIPES = 9
    ORANGE_GRADIENT = 10
    PURPLE_BANDS = 11


def _wall_gradient(points: Tensor) -> Tensor:
    base = gradient(points, (1.0, 0.0, 0.0), -2.0, 2.0, (0.92, 0.62, 0.45), (0.58, 0.55, 0.88))
    dado = gradient(points, (0.0, 0.0, 1.0), -0.55, -0.35, (0.7, 0.7, 0.7), (1.0, 1.0, 1.0))
    return base * dado


MATERIALS: Mapping[int, Texture] = {
    Material.RED_CHECKER: lambda p: checker(p, 0.25, (0.85, 0.18, 0.12), (0.95, 0.9, 0.78), offset=0.125),
    Material.BLUE_STRIPES: lambda p: stripes(p, (1.0, 1.0, 0.0), 0.45, (0.15, 0.3, 0.8), (0.85, 0.9, 0.95)),
    Material.GOLD_GRADIENT: lambda p: gradient(p, (1.0, 0.0, 0.0), 0.1, 0.8, (0.1, 0.55, 0.6), (0.98, 0.75, 0.15)),
    Material.GREEN_BANDS: lambda p: stripes(p, (0.0, 0.0, 1.0), 0.25, (0.2, 0.65, 0.25), (0.95, 0.92, 0.75)),
    Material.FLOOR_TILES: lambda p: checker(p, 0.5, (0.55, 0.35, 0.2), (0.82, 0.68, 0.48), axes=(0, 1)),
    Material.WALL_STRIPES: lambda p: stripes(p, (1.0, 1.0, 0.0), 0.7, (0.72, 0.82, 0.62), (0.55, 0.68, 0.85)),
    Material.WALL_GRADIENT: _wall_gradient,
    Material.CEILING: lambda p: gradient(p, (0.0, 1.0, 0.0), -2.0, 2.0, (0.8, 0.8, 0.78), (0.97, 0.96, 0.92)),
    Material.WOOD: lambda p: stripes(p, (1.0, 0.2, 0.0), 0.3, (0.45, 0.27, 0.13), (0.68, 0.47, 0.27)),
    Material.TEAL_STRIPES: lambda p: stripes(p, (0.0, 0.3, 1.0), 0.35, (0.1, 0.5, 0.55), (0.9, 0.92, 0.88)),
    Material.ORANGE_GRADIENT: lambda p: gradient(p, (0.0, 0.0, 1.0), -1.25, -0.6, (0.9, 0.25, 0.1), (1.0, 0.75, 0.2)),
    Material.PURPLE_BANDS: lambda p: stripes(p, (0.0, 0.0, 1.0), 0.4, (0.5, 0.25, 0.65), (0.92, 0.88, 0.95)),
}
"""Texture of each material id."""

FALLBACK_ALBEDO = (0.5, 0.5, 0.5)


def albedo(points: Tensor, material: Tensor, table: Mapping[int, Texture] = MATERIALS) -> Tensor:
    """Albedo ``[P, 3]`` of surface points ``[P, 3]`` with material ids ``[P]``.

    Ids missing from ``table`` get :data:`FALLBACK_ALBEDO`.
    """
    out = torch.empty_like(points)
    out[:] = torch.as_tensor(FALLBACK_ALBEDO, dtype=points.dtype, device=points.device)
    for material_id, texture in table.items():
        mask = material == int(material_id)
        if mask.any():
            out[mask] = texture(points[mask]).to(out.dtype)
    return out.clamp(0.0, 1.0)
