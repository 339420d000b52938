"""A dense voxel grid: values on the vertices of a regular grid over a box, read by trilinear interpolation.

This is DVGO's ``DenseGrid`` (Sun et al., CVPR 2022; ``lib/grid.py`` of sunset1995/DirectVoxGO): the
values ``grid [1, C, N_x, N_y, N_z]`` sit on the ``N_x x N_y x N_z`` vertices of a grid spanning
``aabb [2, 3]``, the first and last vertex of each axis on the box faces (``align_corners=True``).
Axis order is world x, y, z, so ``grid[0, c, i, j, k]`` is the value at
``aabb[0] + (i, j, k) * (aabb[1] - aabb[0]) / (N - 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfplex.render.box_grid import grid_vertices


def sample_volume(volume: Tensor, aabb: Tensor, points: Tensor) -> Tensor:
    """Trilinear lookup of ``volume [1, C, N_x, N_y, N_z]`` at world ``points [P, 3]``: ``[P, C]``.

    Points outside the box read zeros beyond the border vertices (``grid_sample``'s zero padding).
    """
    coords = (points - aabb[0]) * (2.0 / (aabb[1] - aabb[0])) - 1.0
    # grid_sample's (x, y, z) index (W, H, D) = (N_z, N_y, N_x): flip to world (x, y, z) order.
    values = F.grid_sample(volume, coords.flip(-1).view(1, 1, 1, -1, 3), mode="bilinear", align_corners=True)
    return values.view(volume.shape[1], -1).T


def smooth_l1_total_variation(volume: Tensor) -> Tensor:
    """The DVGO authors' total variation of ``volume [1, C, N_x, N_y, N_z]`` (all channels).

    ``(1/6) Σ_{adjacent vertex pairs} h(v_a - v_b)`` with the Huber function ``h(d) = d²/2`` for
    ``|d| < 1``, ``|d| - 1/2`` otherwise: its gradient at a vertex is ``(1/6) Σ_neighbours
    clamp(v - v_n, -1, 1)``, which is exactly what their CUDA ``total_variation_add_grad`` adds (in
    its ``dense_mode``; the caller multiplies by the weight).
    """
    total = volume.new_zeros(())
    for dim in (2, 3, 4):
        diff = volume.narrow(dim, 1, volume.shape[dim] - 1) - volume.narrow(dim, 0, volume.shape[dim] - 1)
        total = total + F.smooth_l1_loss(diff, torch.zeros_like(diff), reduction="sum", beta=1.0)
    return total / 6.0


class DenseGrid(nn.Module):
    """``channels`` values per vertex of a ``resolution [N_x, N_y, N_z]`` grid over ``aabb [2, 3]``.

    The values start at 0 (the authors' initialisation). ``aabb`` is a buffer, so checkpoints carry it.
    """

    def __init__(self, channels: int, resolution: Sequence[int], aabb: Tensor) -> None:
        super().__init__()
        self.grid = nn.Parameter(torch.zeros(1, channels, *(int(n) for n in resolution), device=aabb.device))
        self.register_buffer("aabb", aabb.detach().clone().float())

    @property
    def channels(self) -> int:
        return int(self.grid.shape[1])

    @property
    def resolution(self) -> list[int]:
        """Vertices per axis ``[N_x, N_y, N_z]``."""
        return [int(n) for n in self.grid.shape[2:]]

    def forward(self, points: Tensor) -> Tensor:
        """Trilinear interpolation at world ``points [P, 3]``: ``[P, C]``."""
        return sample_volume(self.grid, self.aabb, points)

    def vertices(self) -> Tensor:
        """World positions of the vertices ``[N_x, N_y, N_z, 3]``."""
        return grid_vertices(self.aabb, self.resolution)

    @torch.no_grad()
    def scale(self, resolution: Sequence[int]) -> None:
        """Resample to ``resolution`` vertices by trilinear interpolation (``align_corners=True``, so the
        represented field is interpolated, not shifted): the authors' ``scale_volume_grid``. The grid
        becomes a new parameter (optimisers must be rebuilt)."""
        size = tuple(int(n) for n in resolution)
        self.grid = nn.Parameter(F.interpolate(self.grid.data, size=size, mode="trilinear", align_corners=True))

    def total_variation(self) -> Tensor:
        """:func:`smooth_l1_total_variation` of the grid."""
        return smooth_l1_total_variation(self.grid)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, resolution={self.resolution}"
