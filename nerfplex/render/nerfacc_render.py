"""The CUDA path of occupancy-grid rendering: nerfacc's ``OccGridEstimator.sampling`` over our grid's
buffers, then nerfacc's packed ``rendering``.

Used only when ``nerfacc`` imports and the rays are on a CUDA device (nerfacc 0.5's grid traversal
has no CPU kernel); :func:`nerfacc_usable` decides. The grid itself is always updated by
:class:`~nerfplex.render.occupancy_grid.OccupancyGrid`, whose buffers have nerfacc's layout, so the
two paths march the same grid; ``tests/models/test_ngp.py`` compares their colours.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from nerfplex.render.occupancy_grid import OccupancyGrid


@functools.lru_cache(maxsize=1)
def nerfacc_module():
    """The ``nerfacc`` module, or None when it does not import."""
    try:
        import nerfacc  # noqa: PLC0415
    except Exception:
        return None
    return nerfacc


def nerfacc_usable(device: torch.device) -> bool:
    """True when nerfacc imports and ``device`` is CUDA."""
    return device.type == "cuda" and nerfacc_module() is not None


def _estimator(grid: OccupancyGrid):
    """An ``OccGridEstimator`` sharing ``grid``'s buffers (created once per grid)."""
    estimator = getattr(grid, "_nerfacc_estimator", None)
    if estimator is None:
        nerfacc = nerfacc_module()
        estimator = nerfacc.OccGridEstimator(
            roi_aabb=grid.aabbs[0].tolist(), resolution=grid.resolution, levels=grid.levels
        ).to(grid.occs.device)
        object.__setattr__(grid, "_nerfacc_estimator", estimator)  # not a submodule: no state twice
    estimator.occs = grid.occs
    estimator.binaries = grid.binaries
    estimator.aabbs = grid.aabbs
    return estimator


def render_nerfacc(
    grid: OccupancyGrid,
    origins: Tensor,
    directions: Tensor,
    start: Tensor,
    end: Tensor,
    step: float,
    background: Tensor,
    sigma_fn: Callable[[Tensor, Tensor], Tensor],
    rgb_sigma_fn: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]],
    early_stop_eps: float,
    alpha_threshold: float,
    cone_angle: float = 0.0,
) -> dict[str, Tensor]:
    """Render ``R`` rays with nerfacc (CUDA): ``rgb [R, 3]``, ``opacity [R, 1]``, ``depth [R, 1]``.

    ``sigma_fn(points [N, 3], ray_indices [N]) -> sigma [N]`` serves the visibility test (no grad);
    ``rgb_sigma_fn(points, directions [N, 3], ray_indices) -> (rgb [N, 3], sigma [N])`` the rendering.
    Rays march from ``start`` to ``end`` ``[R, 1]`` (already jittered and clipped by the caller), with
    nerfacc's step ``max(t · cone_angle, step)`` (no upper bound) through every level of the grid.
    """
    nerfacc = nerfacc_module()
    estimator = _estimator(grid)

    def positions(t_starts: Tensor, t_ends: Tensor, ray_indices: Tensor) -> Tensor:
        t_mid = (t_starts + t_ends)[:, None] / 2.0
        return origins[ray_indices] + directions[ray_indices] * t_mid

    def sampling_sigma(t_starts, t_ends, ray_indices):
        return sigma_fn(positions(t_starts, t_ends, ray_indices), ray_indices)

    ray_indices, t_starts, t_ends = estimator.sampling(
        origins,
        directions,
        sigma_fn=sampling_sigma,
        t_min=start[:, 0],
        t_max=end[:, 0],
        render_step_size=step,
        early_stop_eps=early_stop_eps,
        alpha_thre=alpha_threshold,
        stratified=False,
        cone_angle=cone_angle,
    )

    def render_fn(t_starts, t_ends, ray_indices):
        return rgb_sigma_fn(positions(t_starts, t_ends, ray_indices), directions[ray_indices], ray_indices)

    rgb, opacity, depth, _ = nerfacc.rendering(
        t_starts, t_ends, ray_indices, n_rays=origins.shape[0], rgb_sigma_fn=render_fn, render_bkgd=background
    )
    return {"rgb": rgb, "opacity": opacity, "depth": depth}
