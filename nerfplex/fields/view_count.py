"""How many training views see each vertex of a dense grid: DVGO's ``voxel_count_views``.

For each training image, samples are laid along its rays (every ``downrate``-th pixel per axis)
from where the ray enters the box (not before ``near``), ``stepsize · voxel_size`` apart, a fixed
``int(|resolution + 1| / stepsize) + 1`` of them per ray, and splatted into the grid with trilinear
weights. A vertex counts the image when its accumulated weight exceeds 1. The DVGO authors scale the
coarse density's learning rate by ``count / max(count)`` (``pervoxel_lr``) and mark vertices seen by
at most 2 views as free space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.fields.dense_grid import sample_volume


def ray_entry(origins: Tensor, directions: Tensor, aabb: Tensor, near: float) -> Tensor:
    """The authors' ``t_min``: where each ray enters ``aabb``, clamped to ``[near, 1e9]``: ``[R]``."""
    safe = torch.where(directions == 0, torch.full_like(directions, 1e-6), directions)
    rate_a = (aabb[1] - origins) / safe
    rate_b = (aabb[0] - origins) / safe
    return torch.minimum(rate_a, rate_b).amax(dim=-1).clamp(min=near, max=1e9)


@torch.no_grad()
def count_views(
    cameras: Cameras,
    aabb: Tensor,
    resolution: Sequence[int],
    voxel_size: float,
    near: float,
    stepsize: float,
    downrate: int = 1,
    chunk_points: int = 1 << 21,
) -> Tensor:
    """Views per vertex ``[1, 1, N_x, N_y, N_z]`` (float) of a ``resolution`` grid over ``aabb``."""
    device = aabb.device
    cameras = cameras.to(device)
    num = int(math.sqrt(sum((n + 1) ** 2 for n in resolution)) / stepsize) + 1
    offsets = stepsize * voxel_size * torch.arange(num, device=device, dtype=torch.float32)
    count = torch.zeros(1, 1, *resolution, device=device)
    rays_per_chunk = max(1, chunk_points // num)
    for index in range(len(cameras)):
        origins, directions = cameras.image_rays(index)
        shape = (cameras.height, cameras.width, 3)
        origins = origins.view(shape)[::downrate, ::downrate].reshape(-1, 3)
        directions = directions.view(shape)[::downrate, ::downrate].reshape(-1, 3)
        splat = torch.zeros(1, 1, *resolution, device=device, requires_grad=True)
        with torch.enable_grad():
            for o, d in zip(origins.split(rays_per_chunk), directions.split(rays_per_chunk)):
                t = ray_entry(o, d, aabb, near)[:, None] + offsets / d.norm(dim=-1, keepdim=True)
                points = (o[:, None] + d[:, None] * t[..., None]).reshape(-1, 3)
                sample_volume(splat, aabb, points).sum().backward()
        count += (splat.grad > 1).float()
    return count
