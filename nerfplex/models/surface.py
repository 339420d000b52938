"""What a model hands to mesh extraction: a scalar field over a box, its level, and colours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import Tensor

AXIS_DIRECTIONS = torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])


@dataclass
class SurfaceField:
    """A model's surface for marching cubes (``nerfplex.geometry.mesh_extraction.extract_mesh``).

    Attributes:
        values: ``points [P, 3] -> [P]`` in world units.
        kind: ``"sdf"`` (negative inside) or ``"density"`` (larger inside).
        level: the iso-value of the surface, in the units of ``values``.
        aabb: ``[2, 3]`` box that holds the surface (world units).
        color: optional ``points [P, 3] -> rgb [P, 3]`` in [0, 1] for vertex colours.
        description: one line saying what ``values`` and ``level`` are, for reports.
    """

    values: Callable[[Tensor], Tensor]
    kind: Literal["sdf", "density"]
    level: float
    aabb: Tensor
    color: Optional[Callable[[Tensor], Tensor]] = None
    description: str = ""


def mean_over_axis_views(radiance: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """Vertex colours from a view-dependent ``radiance(points [P, 3], directions [P, 3]) -> rgb``:
    the mean over the six axis directions (a view-independent, diffuse-like estimate)."""

    def color(points: Tensor) -> Tensor:
        views = AXIS_DIRECTIONS.to(points)
        rgb = [radiance(points, view.expand_as(points)) for view in views]
        return torch.stack(rgb).mean(dim=0)

    return color
