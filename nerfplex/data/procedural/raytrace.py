"""Render a :class:`SceneSDF` by sphere tracing: premultiplied rgb, alpha and depth images.

Shading is view-independent and shadow-free: ``albedo * (ambient + sum_k I_k * max(0, n . l_k))``
with fixed directional lights and normals from a finite-difference SDF gradient. Everything is
deterministic and vectorised over rays; rays are processed in chunks to bound memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.data.procedural.sdf import PointsLike, SceneSDF, as_xyz
from nerfplex.data.procedural.textures import MATERIALS, Texture, albedo
from nerfplex.threads import torch_threads


@dataclass(frozen=True)
class Lighting:
    """Ambient term plus directional lights (``directions`` point *towards* the lights)."""

    ambient: float = 0.35
    directions: tuple = ((0.3, 0.5, 0.8), (-0.6, -0.3, -0.4))
    intensities: tuple = (0.55, 0.25)


@dataclass(frozen=True)
class TraceSettings:
    """Sphere-tracing parameters.

    Attributes:
        iterations: the fixed maximum number of steps per ray.
        epsilon: a ray has converged once the SDF at its point is below this.
        hit_tolerance: after the last step, a ray whose SDF is below this counts as a hit.
        opaque: count every ray as a hit (closed scenes such as a room).
        clip_aabb: ``[2, 3]`` box outside which nothing exists (rays start at its entry, stop at
            its exit), or None to trace over ``[near, far]``.
    """

    iterations: int = 128
    epsilon: float = 1e-4
    hit_tolerance: float = 2e-3
    opaque: bool = False
    clip_aabb: Optional[Tensor] = None


@dataclass
class RenderedImages:
    """Images of ``N`` cameras: ``rgb [N, H, W, 3]`` premultiplied, ``alpha [N, H, W, 1]`` in [0, 1],
    ``depth [N, H, W]``: distance along the unit pixel-centre ray, ``inf`` where the ray misses."""

    rgb: Tensor
    alpha: Tensor
    depth: Tensor


def ray_box_interval(origins: Tensor, directions: Tensor, aabb: Tensor) -> tuple[Tensor, Tensor]:
    """Slab test: entry and exit distances ``[R]`` of rays ``[R, 3]`` through ``aabb [2, 3]``.

    Rays that miss the box get ``entry > exit``.
    """
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    t0 = (aabb[0] - origins) / safe
    t1 = (aabb[1] - origins) / safe
    return torch.minimum(t0, t1).max(dim=-1).values, torch.maximum(t0, t1).min(dim=-1).values


def sphere_trace(
    sdf: Callable[[PointsLike], Tensor],
    origins: Tensor,
    directions: Tensor,
    t_min: Tensor,
    t_max: Tensor,
    settings: TraceSettings = TraceSettings(),
) -> tuple[Tensor, Tensor]:
    """March rays ``[R, 3]`` from ``t_min [R]`` until the SDF is below ``epsilon`` or ``t > t_max``.

    ``sdf`` is called with :data:`~nerfplex.data.procedural.sdf.XYZ` component tuples (as
    :class:`SceneSDF` and the primitives accept). Rays still marching are kept in compact arrays,
    shrunk whenever an eighth of them has finished (until then, converged rays do not move and
    exited ones stay out).

    Returns:
        ``t [R]`` (the last position) and ``hit [R]`` (bool).
    """
    t = t_min.clone()
    last = torch.full_like(t, float("inf"))
    idx = torch.nonzero(t_min <= t_max).squeeze(-1)
    o, d = as_xyz(origins[idx]), as_xyz(directions[idx])
    t_a, t_max_a = t[idx], t_max[idx]
    for step in range(settings.iterations):
        if idx.numel() == 0:
            break
        distance = sdf(tuple(torch.addcmul(o[k], t_a, d[k]) for k in range(3)))
        marching = distance >= settings.epsilon
        t_a = torch.where(marching, t_a + distance, t_a)
        alive = marching & (t_a <= t_max_a)
        finished = idx.numel() - int(alive.sum())
        if step == settings.iterations - 1 or 8 * finished >= idx.numel():
            t[idx], last[idx] = t_a, distance
            idx, t_a, t_max_a = idx[alive], t_a[alive], t_max_a[alive]
            o, d = tuple(c[alive] for c in o), tuple(c[alive] for c in d)
    if settings.opaque:
        return t, torch.ones_like(t, dtype=torch.bool)
    return t, (last < settings.hit_tolerance) & (t <= t_max)


_TETRAHEDRON = ((1.0, -1.0, -1.0), (-1.0, -1.0, 1.0), (-1.0, 1.0, -1.0), (1.0, 1.0, 1.0))


def sdf_normals(sdf: Callable[[PointsLike], Tensor], points: Tensor, step: float = 1e-3) -> Tensor:
    """Unit normals ``[P, 3]`` from the SDF gradient (tetrahedral finite differences); ``sdf`` is
    called with XYZ component tuples."""
    x, y, z = as_xyz(points)
    grad = [torch.zeros_like(x) for _ in range(3)]
    for k in _TETRAHEDRON:
        value = sdf((x + step * k[0], y + step * k[1], z + step * k[2]))
        for axis in range(3):
            grad[axis] = grad[axis] + k[axis] * value
    normal = torch.stack(grad, dim=-1)
    return normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def shade(
    scene: SceneSDF, points: Tensor, lighting: Lighting = Lighting(), table: Mapping[int, Texture] = MATERIALS
) -> Tensor:
    """Diffuse colour ``[P, 3]`` in [0, 1] of surface points ``[P, 3]``."""
    _, material = scene.evaluate(points)
    normals = sdf_normals(scene, points)
    light = torch.full_like(points[:, 0], lighting.ambient)
    for direction, intensity in zip(lighting.directions, lighting.intensities):
        d = torch.as_tensor(direction, dtype=points.dtype, device=points.device)
        light = light + intensity * (normals @ (d / d.norm())).clamp_min(0.0)
    return (albedo(points, material, table) * light[:, None]).clamp(0.0, 1.0)


def _trace_interval(
    origins: Tensor, directions: Tensor, near: float, far: float, settings: TraceSettings
) -> tuple[Tensor, Tensor]:
    t_min = torch.full_like(origins[:, 0], near)
    t_max = torch.full_like(origins[:, 0], far)
    if settings.clip_aabb is not None:
        entry, exit_ = ray_box_interval(origins, directions, settings.clip_aabb.to(origins))
        t_min, t_max = torch.maximum(t_min, entry), torch.minimum(t_max, exit_)
    return t_min, t_max


def trace_and_shade(
    scene: SceneSDF,
    origins: Tensor,
    directions: Tensor,
    near: float,
    far: float,
    settings: TraceSettings = TraceSettings(),
    lighting: Lighting = Lighting(),
) -> tuple[Tensor, Tensor, Tensor]:
    """Colour ``[R, 3]`` (0 where missed), hit ``[R]`` (bool) and depth ``[R]`` (inf where missed)."""
    t_min, t_max = _trace_interval(origins, directions, near, far, settings)
    t, hit = sphere_trace(scene, origins, directions, t_min, t_max, settings)
    color = torch.zeros_like(origins)
    if hit.any():
        color[hit] = shade(scene, origins[hit] + t[hit, None] * directions[hit], lighting)
    return color, hit, torch.where(hit, t, torch.full_like(t, float("inf")))


def _row_rays(cameras: Cameras, units: Tensor, scale: int) -> tuple[Tensor, Tensor]:
    """Rays of image rows: ``units [U]`` index (camera * H + row); each row holds ``scale x scale``
    sub-pixels per pixel, ordered ``[U, scale, W * scale]``. Returns origins, directions ``[R, 3]``."""
    sub = cameras.scaled(scale) if scale > 1 else cameras
    cam = units // cameras.height
    sub_y = (units % cameras.height)[:, None] * scale + torch.arange(scale)[None]  # [U, s]
    x = torch.arange(sub.width)
    cam_idx = cam[:, None, None].expand(-1, scale, sub.width).reshape(-1)
    y_idx = sub_y[:, :, None].expand(-1, -1, sub.width).reshape(-1)
    x_idx = x[None, None].expand(units.numel(), scale, -1).reshape(-1)
    return sub.generate_rays(cam_idx, x_idx, y_idx)


def render_images(
    scene: SceneSDF,
    cameras: Cameras,
    near: float,
    far: float,
    settings: TraceSettings = TraceSettings(),
    lighting: Lighting = Lighting(),
    supersample: int = 2,
    chunk_rays: int = 1 << 19,
    num_threads: Optional[int] = 1,
) -> RenderedImages:
    """Render every camera, averaging ``supersample x supersample`` sub-pixels of premultiplied rgb
    and alpha; depth is traced separately through pixel centres (CPU tensors, float32).

    ``num_threads`` (default 1) bounds torch's CPU threads while rendering: the many small,
    memory-bound operations of sphere tracing barely gain from more threads, but slow down by one
    to two orders of magnitude when another process competes for the cores.
    """
    with torch_threads(num_threads):
        return _render(scene, cameras.to("cpu"), near, far, settings, lighting, supersample, chunk_rays)


def _render(
    scene: SceneSDF,
    cameras: Cameras,
    near: float,
    far: float,
    settings: TraceSettings,
    lighting: Lighting,
    supersample: int,
    chunk_rays: int,
) -> RenderedImages:
    n, h, w, s = len(cameras), cameras.height, cameras.width, supersample
    rgb = torch.empty(n * h, w, 3)
    alpha = torch.empty(n * h, w, 1)
    depth = torch.empty(n * h, w)
    rows_per_chunk = max(1, chunk_rays // (w * s * s))
    for start in range(0, n * h, rows_per_chunk):
        units = torch.arange(start, min(start + rows_per_chunk, n * h))
        origins, directions = _row_rays(cameras, units, s)
        color, hit, t = trace_and_shade(scene, origins, directions, near, far, settings, lighting)
        color = color.reshape(-1, s, w, s, 3).mean(dim=(1, 3))
        coverage = hit.to(color.dtype).reshape(-1, s, w, s).mean(dim=(1, 3))
        rgb[units], alpha[units] = color, coverage[..., None]
        if s > 1:
            origins, directions = _row_rays(cameras, units, 1)
            t_min, t_max = _trace_interval(origins, directions, near, far, settings)
            t, hit = sphere_trace(scene, origins, directions, t_min, t_max, settings)
            t = torch.where(hit, t, torch.full_like(t, float("inf")))
        depth[units] = t.reshape(-1, w)
    return RenderedImages(rgb.reshape(n, h, w, 3), alpha.reshape(n, h, w, 1), depth.reshape(n, h, w))
