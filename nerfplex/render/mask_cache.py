"""DVGO's mask cache: a boolean grid of "may hold density" flags, read by nearest-vertex lookup.

The authors' ``MaskGrid`` (``lib/grid.py``): ray samples whose nearest vertex is False are known free
space and are not evaluated at all. Unlike TensoRF's alpha mask (trilinear, "any corner occupied"),
a point takes the value of the single nearest vertex, and points outside the box are False.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nerfplex.render.box_grid import grid_vertices


class MaskCache(nn.Module):
    """``mask [N_x, N_y, N_z]`` (bool) on the vertices of a grid over ``aabb [2, 3]``.

    Both are buffers: checkpoints carry them, and their shapes change when the grid is rescaled
    (models resize them before loading a checkpoint).
    """

    def __init__(self, mask: Tensor, aabb: Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.detach().clone().bool())
        self.register_buffer("aabb", aabb.detach().clone().float())

    @classmethod
    def full(cls, resolution: Sequence[int], aabb: Tensor) -> MaskCache:
        """A mask that keeps everything inside the box."""
        return cls(torch.ones(*(int(n) for n in resolution), dtype=torch.bool, device=aabb.device), aabb)

    @property
    def resolution(self) -> list[int]:
        return [int(n) for n in self.mask.shape]

    def vertices(self) -> Tensor:
        """World positions of the mask's vertices ``[N_x, N_y, N_z, 3]``."""
        return grid_vertices(self.aabb, self.resolution)

    @torch.no_grad()
    def forward(self, points: Tensor) -> Tensor:
        """Boolean ``[P]`` for world ``points [P, 3]``: the value at the nearest vertex (index rounded
        half up; the authors' CUDA ``round`` differs only at exactly -0.5); False outside the grid."""
        size = torch.tensor(self.resolution, device=points.device)
        scale = (size - 1).to(points.dtype) / (self.aabb[1] - self.aabb[0])
        index = torch.floor((points - self.aabb[0]) * scale + 0.5).long()
        inside = ((index >= 0) & (index < size)).all(dim=-1)
        ijk = torch.minimum(index.clamp_min(0), size - 1)
        return self.mask[ijk[:, 0], ijk[:, 1], ijk[:, 2]] & inside

    @torch.no_grad()
    def replace(self, mask: Tensor) -> None:
        """Set a new mask (any resolution) over the same box."""
        self.mask = mask.detach().clone().bool()
