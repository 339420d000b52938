"""The vertices of a regular grid over an axis-aligned box (shared by dense value grids and occupancy grids)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def grid_vertices(aabb: Tensor, resolution: Sequence[int]) -> Tensor:
    """World positions ``[N_x, N_y, N_z, 3]`` of the vertices of a ``resolution`` grid over ``aabb [2, 3]``;
    the first and last vertex of each axis lie on the box faces."""
    axes = [
        torch.linspace(float(aabb[0, d]), float(aabb[1, d]), int(n), device=aabb.device)
        for d, n in enumerate(resolution)
    ]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
