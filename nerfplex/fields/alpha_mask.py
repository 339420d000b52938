"""A binary occupancy grid that lets ray marching skip empty space (TensoRF's ``AlphaGridMask``)."""

from __future__ import annotations

from typing import Callable, Sequence

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
    def rays_hit(self, origins: Tensor, directions: Tensor, near: Tensor, far: Tensor, step: float,
                 chunk_samples: int = 1 << 22) -> Tensor:
        """Boolean ``[R]``: which rays have a sample in occupied space (the authors' ``filtering_rays``).

        Rays ``origins, directions [R, 3]`` are sampled at ``near + step * k`` up to ``far`` (``[R, 1]``);
        rays with ``far <= near`` never hit. Rays are marched in chunks of about ``chunk_samples``
        samples to bound memory.
        """
        hit = far[:, 0] > near[:, 0]
        if not self.active or not bool(hit.any()):
            return hit
        span = float((far - near)[hit].max())
        count = int(span / step) + 1
        offsets = step * torch.arange(count, device=origins.device, dtype=origins.dtype)
        rows = max(1, chunk_samples // count)
        for start in range(0, origins.shape[0], rows):
            part = slice(start, start + rows)
            if not bool(hit[part].any()):
                continue
            t = near[part] + offsets  # [r, S]
            valid = (t <= far[part]) & hit[part, None]
            points = origins[part, None] + directions[part, None] * t[..., None]
            occupied = torch.zeros_like(valid)
            occupied[valid] = self.occupied(points[valid])
            hit[part] = occupied.any(dim=-1)
        return hit

    @torch.no_grad()
    def update(self, alpha_fn: Callable[[Tensor], Tensor], aabb: Tensor, resolution: Sequence[int],
               threshold: float, chunk_points: int = 1 << 16) -> Tensor:
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
