"""instant-ngp's occupancy grid in pure torch: a binary grid over the scene box, refreshed while
training, that lets ray marching skip empty space.

The update rule is nerfacc's ``OccGridEstimator`` (0.5.x, ``update_every_n_steps`` / ``_update``),
read for its facts: every ``update_every`` steps, evaluate ``occupancy(points)`` (density times the
marching step) at one jittered point per chosen cell, where the cells are all of them during the
first ``warmup_steps`` steps and afterwards ``cells / 4`` uniformly drawn cells plus up to as many
occupied ones; each evaluated cell keeps ``max(decay · old, new)`` (EMA decay 0.95); a cell is
occupied when its value exceeds ``min(mean of all cells, threshold)`` (threshold 0.01).

Differences from nerfacc, both deliberate: the jitter and the cell draws come from a generator
seeded by the step (a pure function of the step, so a resumed run or every DDP rank draws the same
cells), and a cell drawn twice keeps the largest new value (nerfacc's comment names scatter-max as
the intended rule; its plain assignment keeps an arbitrary one). Before the first update every cell
counts as occupied (nerfacc starts empty, relying on an update at step 0, as the model here also
does).

Cascades (instant-ngp's multi-scale occupancy grid for ``aabb_scale > 1``, nerfacc's ``levels``):
level 0 covers the given box, level ``l`` the box grown ``2^l`` times about its centre, all with the
same resolution, so cells double in size at each level. A point is looked up in the finest level that
holds it; each update evaluates every level's chosen cells (coarse cells under finer levels too, as
nerfacc does) and the threshold is the mean over all levels.

The buffers use nerfacc's layout: ``occs [L · R³]`` and ``binaries [L, R, R, R]`` with x the slowest
axis, ``aabbs [L, 6]`` as (min xyz, max xyz) per level, so that the CUDA path can hand them to
``nerfacc.OccGridEstimator`` unchanged. All are buffers: checkpoints carry them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class OccupancyGrid(nn.Module):
    """``levels`` cascaded ``resolution³`` occupancy grids; level 0 over ``aabb [2, 3]``."""

    def __init__(
        self,
        aabb: Tensor,
        resolution: int = 128,
        ema_decay: float = 0.95,
        threshold: float = 0.01,
        warmup_steps: int = 256,
        update_every: int = 16,
        seed: int = 0,
        levels: int = 1,
    ) -> None:
        super().__init__()
        self.resolution, self.levels = int(resolution), int(levels)
        self.ema_decay, self.threshold = float(ema_decay), float(threshold)
        self.warmup_steps, self.update_every, self.seed = int(warmup_steps), int(update_every), int(seed)
        box = aabb.detach().float().reshape(2, 3)
        centre, half = (box[0] + box[1]) / 2, (box[1] - box[0]) / 2
        scales = (2.0 ** torch.arange(self.levels, dtype=torch.float32))[:, None]
        self.register_buffer("aabbs", torch.cat([centre - half * scales, centre + half * scales], dim=1))
        self.register_buffer("occs", torch.zeros(self.levels * self.cells))
        self.register_buffer("binaries", torch.ones(self.levels, *(self.resolution,) * 3, dtype=torch.bool))

    @property
    def cells(self) -> int:
        """Cells of one level."""
        return self.resolution**3

    @property
    def outer_aabb(self) -> Tensor:
        """The coarsest level's box ``[2, 3]`` (the whole grid)."""
        return self.aabbs[-1].view(2, 3)

    def cell_coords(self, cell_ids: Tensor) -> Tensor:
        """Integer ``(x, y, z)`` ``[N, 3]`` of flat cell ids ``[N]`` (x slowest, as nerfacc)."""
        r = self.resolution
        return torch.stack([cell_ids // (r * r), (cell_ids // r) % r, cell_ids % r], dim=-1)

    def point_levels(self, points: Tensor) -> Tensor:
        """The finest level holding each world point ``[P, 3]`` (clamped to the coarsest): ``[P]`` long."""
        if self.levels == 1:
            return torch.zeros(points.shape[0], dtype=torch.long, device=points.device)
        lo, hi = self.aabbs[0, :3], self.aabbs[0, 3:]
        scale = ((points - (lo + hi) / 2).abs() / ((hi - lo) / 2)).amax(dim=-1)
        return torch.log2(scale.clamp_min(1e-30)).ceil().clamp(0, self.levels - 1).long()

    def cell_ids(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """Flat cell id ``[P]`` (level-major) of world points ``[P, 3]`` in the finest level that holds
        them, and whether they are inside the coarsest box ``[P]``."""
        level = self.point_levels(points)
        box = self.aabbs[level]
        unit = (points - box[:, :3]) / (box[:, 3:] - box[:, :3])
        inside = ((unit >= 0) & (unit <= 1)).all(dim=-1)
        ijk = (unit * self.resolution).floor().long().clamp(0, self.resolution - 1)
        r = self.resolution
        return level * self.cells + (ijk[:, 0] * r + ijk[:, 1]) * r + ijk[:, 2], inside

    def occupied(self, points: Tensor) -> Tensor:
        """Boolean ``[P]``: points ``[P, 3]`` inside the box, in an occupied cell."""
        ids, inside = self.cell_ids(points)
        return inside & self.binaries.view(-1)[ids]

    def mean_occupancy(self) -> float:
        """Mean cell value (nerfacc lowers its ``alpha_thre`` to this)."""
        return float(self.occs[self.occs >= 0].mean()) if self.cells else 0.0

    def _generator(self, step: int) -> torch.Generator:
        return torch.Generator(device=self.occs.device).manual_seed(self.seed * 1_000_003 + step)

    @torch.no_grad()
    def update(
        self, step: int, occupancy: Callable[[Tensor], Tensor], chunk_points: int = 1 << 16, force: bool = False
    ) -> bool:
        """Refresh the grid before training step ``step`` when it is due (every ``update_every``
        steps, or ``force``). ``occupancy(points [P, 3]) -> [P]`` is density times the marching step.
        Returns whether it updated."""
        if not force and step % self.update_every != 0:
            return False
        device = self.occs.device
        generator = self._generator(step)
        all_ids, all_values = [], []
        for level in range(self.levels):
            if step < self.warmup_steps:
                ids = torch.arange(self.cells, device=device)
            else:
                count = self.cells // 4
                uniform = torch.randint(self.cells, (count,), device=device, generator=generator)
                occupied = self.binaries[level].view(-1).nonzero().squeeze(1)
                if occupied.numel() > count:
                    occupied = occupied[torch.randint(occupied.numel(), (count,), device=device, generator=generator)]
                ids = torch.cat([uniform, occupied])
            jitter = torch.rand((ids.numel(), 3), device=device, generator=generator)
            unit = (self.cell_coords(ids).float() + jitter) / self.resolution
            lo, hi = self.aabbs[level, :3], self.aabbs[level, 3:]
            points = lo + unit * (hi - lo)
            all_values += [occupancy(chunk).reshape(-1).float() for chunk in points.split(chunk_points)]
            all_ids.append(ids + level * self.cells)
        ids, values = torch.cat(all_ids), torch.cat(all_values)
        touched = torch.unique(ids)
        self.occs[touched] *= self.ema_decay
        self.occs.scatter_reduce_(0, ids, values, reduce="amax", include_self=True)
        threshold = min(self.mean_occupancy(), self.threshold)
        self.binaries = (self.occs > threshold).view(self.binaries.shape)
        return True
