"""A binary occupancy grid that lets ray marching skip empty space (TensoRF's ``AlphaGridMask``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AlphaGridMask(nn.Module):
    """Occupancy ``volume [N_z, N_y, N_x]`` of 0 / 1 on the vertices of a grid over ``aabb [2, 3]``.

    A point is occupied when the trilinear interpolation of the volume there is > 0, i.e. when any
    vertex of its cell is occupied. Before the first :meth:`update` the mask is empty (``volume`` has
    no elements) and every point counts as occupied. Both tensors are buffers, so checkpoints carry
    them; their shapes change at updates (models resize them before loading a checkpoint).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("volume", torch.zeros(0, 0, 0))
        self.register_buffer("aabb", torch.zeros(2, 3))

    @property
    def active(self) -> bool:
        return self.volume.numel() > 0

    def occupied(self, points: Tensor) -> Tensor:
        """Boolean ``[P]``: which world points ``[P, 3]`` may hold density (all of them before an update)."""
        if not self.active:
            return torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
        coords = (points - self.aabb[0]) * (2.0 / (self.aabb[1] - self.aabb[0])) - 1.0
        values = F.grid_sample(self.volume[None, None], coords.view(1, -1, 1, 1, 3), align_corners=True)
        return values.view(-1) > 0

    @torch.no_grad()
    def rays_may_hit(
        self,
        origins: Tensor,
        directions: Tensor,
        near: Tensor,
        far: Tensor,
        max_cells: int = 64,
        chunk_samples: int = 1 << 22,
    ) -> Tensor:
        """Boolean ``[R]``: which rays may have a sample with a trilinear mask value > 0 between
        ``near`` and ``far`` (``[R, 1]``); a cheap prefilter for :meth:`samples_hit`.

        Conservative: every ray that crosses an occupied cell, or the one-cell margin outside the box
        where the lookup's zero padding still gives > 0, is kept, and so may a ray passing within
        about two coarse cells of one. The test marches a grid of at most ``max_cells`` cells a side
        (occupied cells max-pooled, padded by one block, dilated by one) at one coarse cell per step,
        which costs ~10x fewer samples than marching the mask itself. Rays with ``far <= near`` never
        hit. ``chunk_samples`` bounds memory.
        """
        hit = far[:, 0] > near[:, 0]
        if not self.active or not bool(hit.any()):
            return hit
        grid, cell = self._coarse_occupancy(max_cells)
        shape = torch.tensor(grid.shape[::-1], device=origins.device)  # blocks along x, y, z, padding included
        span = float((far - near)[hit].max())
        step = float(cell.min())
        count = int(span / step) + 2
        offsets = step * torch.arange(count, device=origins.device, dtype=origins.dtype)
        rows = max(1, chunk_samples // count)
        for start in range(0, origins.shape[0], rows):
            part = slice(start, start + rows)
            if not bool(hit[part].any()):
                continue
            t = torch.minimum(near[part] + offsets, far[part])  # the last sample sits at far
            cells = (origins[part, None] + directions[part, None] * t[..., None] - self.aabb[0]) / cell
            cells = cells.floor().long() + 1  # the padding block comes first
            inside = ((cells >= 0) & (cells < shape)).all(dim=-1)  # farther out, every lookup is 0
            cells = torch.minimum(cells.clamp_min(0), shape - 1)
            hit[part] &= (inside & grid[cells[..., 2], cells[..., 1], cells[..., 0]]).any(dim=-1)
        return hit

    def cell_size(self) -> Tensor:
        """Distance between mask vertices along each axis ``[3]``."""
        vertices = torch.tensor(self.volume.shape[::-1], dtype=self.aabb.dtype, device=self.aabb.device)
        return (self.aabb[1] - self.aabb[0]) / (vertices - 1)

    @torch.no_grad()
    def samples_hit(
        self, origins: Tensor, directions: Tensor, start: Tensor, step: float, count: int, chunk_samples: int = 1 << 22
    ) -> Tensor:
        """Boolean ``[R]``: whether any of ``count`` samples ``start + step * i`` (``start [R, 1]``)
        along each ray is occupied (trilinear lookup > 0): the authors' ``filtering_rays`` test.

        Exact and cheaper than :meth:`occupied`: one lookup per sample in a table of cells (a cell is
        occupied when any of its 8 vertices is), padded by one cell all round because the lookup's
        zero padding also gives > 0 up to one cell outside the box. Every ray hits before any update.
        """
        if not self.active:
            return torch.ones(origins.shape[0], dtype=torch.bool, device=origins.device)
        padded = F.pad(self.volume[None, None], (1, 1, 1, 1, 1, 1))
        table = (F.max_pool3d(padded, kernel_size=2, stride=1)[0, 0] > 0).reshape(-1)
        nz, ny, nx = (n + 1 for n in self.volume.shape)  # cells per axis, padding included
        dims = torch.tensor([nx, ny, nz], device=origins.device)
        vertices = torch.tensor(self.volume.shape[::-1], dtype=origins.dtype, device=origins.device)
        scale = (vertices - 1) / (self.aabb[1] - self.aabb[0]).to(origins.dtype)
        offsets = step * torch.arange(count, device=origins.device, dtype=origins.dtype)
        hit = torch.zeros(origins.shape[0], dtype=torch.bool, device=origins.device)
        rows = max(1, chunk_samples // count)
        for first in range(0, origins.shape[0], rows):
            part = slice(first, first + rows)
            t = start[part] + offsets  # [r, count]
            # Padded cell coordinates: vertex coordinate u lies in cell floor(u) + 1.
            cells = (
                ((origins[part, None] - self.aabb[0]) * scale + directions[part, None] * scale * t[..., None])
                .floor_()
                .add_(1)
                .long()
            )
            inside = ((cells >= 0) & (cells < dims)).all(dim=-1)
            index = (cells[..., 2] * ny + cells[..., 1]) * nx + cells[..., 0]
            hit[part] = (inside & table[index.clamp_(0, table.numel() - 1)]).any(dim=-1)
        return hit

    def _coarse_occupancy(self, max_cells: int) -> tuple[Tensor, Tensor]:
        """Occupancy ``[C_z + 2, C_y + 2, C_x + 2]`` of blocks of mask cells (a cell is occupied when
        any of its 8 vertices is, which is exactly where the trilinear lookup is > 0 inside the box),
        padded by one block all round and dilated by one block (so the padding next to an occupied
        block covers the lookup's one-cell margin outside the box), and the block size ``[3]`` in
        world units. Block ``(i, j, k)`` starts ``(i - 1, j - 1, k - 1)`` blocks from ``aabb[0]``."""
        volume = self.volume[None, None]
        cells = F.max_pool3d(volume, kernel_size=2, stride=1)
        factor = max(1, -(-max(cells.shape[2:]) // max_cells))
        blocks = F.max_pool3d(cells, kernel_size=factor, stride=factor, ceil_mode=True)
        blocks = F.pad(blocks, (1, 1, 1, 1, 1, 1))
        blocks = F.max_pool3d(blocks, kernel_size=3, stride=1, padding=1)[0, 0] > 0
        return blocks, factor * self.cell_size()

    @torch.no_grad()
    def update(
        self,
        alpha_fn: Callable[[Tensor], Tensor],
        aabb: Tensor,
        resolution: Sequence[int],
        threshold: float,
        chunk_points: int = 1 << 16,
    ) -> Tensor:
        """Rebuild the mask from ``alpha_fn(points [P, 3]) -> alpha [P]`` at the vertices of a
        ``resolution [N_x, N_y, N_z]`` grid over ``aabb``: dilate alpha by a 3x3x3 max-pool, then
        occupied where it is at least ``threshold`` (the authors' ``updateAlphaMask``).

        ``alpha_fn`` sees the old mask (it should return 0 where :meth:`occupied` is False). Points
        are evaluated ``chunk_points`` at a time to bound memory. Returns the box ``[2, 3]`` spanned by
        the occupied vertices (``aabb`` itself when none is occupied).
        """
        nx, ny, nz = (int(n) for n in resolution)
        axes = [torch.linspace(0.0, 1.0, n, device=aabb.device) for n in (nz, ny, nx)]
        t = torch.stack(torch.meshgrid(*axes, indexing="ij")[::-1], dim=-1)  # [N_z, N_y, N_x, (x,y,z)]
        points = (aabb[0] * (1.0 - t) + aabb[1] * t).reshape(-1, 3)
        alpha = torch.cat([alpha_fn(chunk) for chunk in points.split(chunk_points)])
        alpha = alpha.clamp(0.0, 1.0).view(1, 1, nz, ny, nx)
        alpha = F.max_pool3d(alpha, kernel_size=3, padding=1, stride=1).view(nz, ny, nx)
        volume = (alpha >= threshold).to(self.volume.dtype)
        self.volume = volume
        self.aabb = aabb.detach().clone().to(self.aabb.dtype)
        occupied = points[volume.view(-1) > 0.5]
        if occupied.shape[0] == 0:
            return self.aabb.clone()
        return torch.stack([occupied.amin(dim=0), occupied.amax(dim=0)])
