"""THE view renderer: whole images (or a stride of their pixels) from any camera, in bounded memory,
with normals for visualisation. The trainer's evaluation, ``nerfplex eval``, ``nerfplex render`` and
the viewer all render through :func:`render_view`, so their numbers cannot drift apart.

Rays come from :meth:`Cameras.generate_rays` (lens distortion included). They are rendered in chunks
(``Model.render`` under ``no_grad``) of at most ``chunk_rays`` rays and, when the model states a bound
on its samples per ray (:meth:`Model.max_samples_per_ray`, e.g. ``ngp``'s marching), at most
``max_samples`` candidate samples at once. ``normals`` are kept when the model produces them (NeuS: the
weight-averaged SDF gradient); :func:`normals_from_depth` derives normals from a depth map by finite
differences of the back-projected points for the other methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import Tensor
from tqdm import tqdm

from nerfplex.cameras import Cameras, RayBundle
from nerfplex.models.base import Model

NormalsSource = Literal["sdf_gradient", "depth_finite_differences"]


@dataclass
class RenderedView:
    """``rgb [H, W, 3]``, ``depth [H, W, 1]`` (distance along the unit ray), ``opacity [H, W, 1]`` and,
    when the model has them, ``normals [H, W, 3]`` in world space (unnormalised). With a pixel
    ``stride`` ``H`` and ``W`` are ``ceil(height / stride)`` and ``ceil(width / stride)``."""

    rgb: Tensor
    depth: Tensor
    opacity: Tensor
    normals: Optional[Tensor] = None


def view_rays(
    cameras: Cameras, index: int, near: float, far: float, aabb: Optional[Tensor] = None, stride: int = 1
) -> tuple[RayBundle, tuple[int, int]]:
    """Rays through the pixel centres of camera ``index`` (every ``stride``-th row and column, row-major)
    on ``cameras``' device, bounded by ``near`` / ``far`` and clipped to ``aabb [2, 3]`` when given;
    and the image shape ``(H, W)`` they fill."""
    device = cameras.c2w.device
    rows = torch.arange(0, cameras.height, stride, device=device)
    cols = torch.arange(0, cameras.width, stride, device=device)
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    cam_idx = torch.full((y.numel(),), index, dtype=torch.long, device=device)
    origins, directions = cameras.generate_rays(cam_idx, x.reshape(-1), y.reshape(-1))
    rays = RayBundle.with_bounds(origins, directions, near, far)
    if aabb is not None:
        rays = rays.clipped_to_aabb(aabb.to(device))
    return rays, (len(rows), len(cols))


def rays_per_chunk(model: Model, rays: RayBundle, chunk_rays: int, max_samples: int) -> int:
    """Rays per forward pass: ``chunk_rays``, fewer when ``max_samples`` (> 0) candidate samples would
    be exceeded by the model's bound on samples per ray (at least one ray)."""
    per_ray = model.max_samples_per_ray(rays) if max_samples > 0 and len(rays) else None
    if not per_ray:
        return chunk_rays
    return max(1, min(chunk_rays, max_samples // per_ray))


@torch.no_grad()
def render_rays(
    model: Model,
    rays: RayBundle,
    background: Tensor,
    chunk_rays: int,
    max_samples: int = 0,
    progress: Optional[tqdm] = None,
    keys: tuple[str, ...] = ("rgb", "depth", "opacity", "normals"),
) -> dict[str, Tensor]:
    """``model.render`` over ``rays`` (``background [R, 3]``) in chunks (:func:`rays_per_chunk`); the
    ``keys`` the model outputs, ``[R, ...]``. ``progress`` is advanced by the rays of each chunk."""
    chunk = rays_per_chunk(model, rays, chunk_rays, max_samples)
    pieces: dict[str, list[Tensor]] = {}
    for start in range(0, len(rays), chunk):
        out = model.render(rays[start : start + chunk], background[start : start + chunk])
        for key in keys:
            if key in out:
                pieces.setdefault(key, []).append(out[key].detach())
        if progress is not None:
            progress.update(min(chunk, len(rays) - start))
    return {key: torch.cat(values) for key, values in pieces.items()}


def render_view(
    model: Model,
    cameras: Cameras,
    index: int,
    near: float,
    far: float,
    background: Tensor,
    chunk_rays: int,
    aabb: Optional[Tensor] = None,
    *,
    max_samples: int = 0,
    stride: int = 1,
    progress: Optional[tqdm] = None,
) -> RenderedView:
    """Render camera ``index`` of ``cameras`` with a uniform ``background [3]``; results on the CPU.

    With ``aabb [2, 3]`` the rays are clipped to that box, as in training; ``stride`` renders every
    ``stride``-th row and column only; ``max_samples`` bounds the candidate samples held at once (0: only
    ``chunk_rays``). The model is used as it is (call ``model.eval()`` first for deterministic renders).
    """
    device = next(model.parameters()).device
    rays, shape = view_rays(cameras.to(device), index, near, far, aabb, stride)
    out = render_rays(model, rays, background.to(device).expand(len(rays), 3), chunk_rays, max_samples, progress)
    shape = shape + (-1,)
    normals = out.get("normals")
    return RenderedView(
        out["rgb"].reshape(shape).cpu(),
        out["depth"].reshape(shape).cpu(),
        out["opacity"].reshape(shape).cpu(),
        None if normals is None else normals.reshape(shape).cpu(),
    )


def ray_progress(total_rays: int, desc: str, enabled: bool = True) -> tqdm:
    """A progress bar over rays (rays/s and ETA), for renders that take more than a moment."""
    return tqdm(
        total=total_rays,
        desc=desc,
        unit="ray",
        unit_scale=True,
        disable=not enabled,
        leave=False,
        dynamic_ncols=True,
        mininterval=1.0,
    )


def camera_directions(cameras: Cameras, index: int) -> Tensor:
    """Unit ray directions of camera ``index`` in its own (OpenCV) frame, ``[H, W, 3]`` (through the
    pixel centres, lens distortion included: the directions :func:`render_view` renders)."""
    _, world = cameras.image_rays(index)
    rotation = cameras.c2w[index, :, :3].to(world)
    return (world @ rotation).reshape(cameras.height, cameras.width, 3)


def normals_from_depth(depth: Tensor, cameras: Cameras, index: int) -> Tensor:
    """Camera-frame unit normals ``[H, W, 3]`` (OpenCV axes, facing the camera) from ``depth [H, W, 1]``:
    the cross product of the central differences (one-sided at the border) of the back-projected points."""
    points = camera_directions(cameras, index).to(depth) * depth
    d_row, d_col = torch.gradient(points, dim=(0, 1))
    normals = torch.cross(d_row, d_col, dim=-1)
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    facing_away = (normals * points).sum(dim=-1, keepdim=True) > 0
    return torch.where(facing_away, -normals, normals)


def world_to_camera_normals(normals: Tensor, cameras: Cameras, index: int) -> Tensor:
    """World-space normals ``[H, W, 3]`` rotated into camera ``index``'s frame and normalised."""
    rotation = cameras.c2w[index, :, :3].to(normals)
    camera = normals @ rotation  # R^T n for each pixel
    return camera / camera.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def normals_image(camera_normals: Tensor, opacity: Tensor) -> Tensor:
    """Camera-frame normals ``[H, W, 3]`` as colours ``[H, W, 3]`` in [0, 1], the usual normal-map
    look: axes x right, y up, z towards the viewer, colour ``(n + 1) / 2``, empty pixels black."""
    display = camera_normals * camera_normals.new_tensor([1.0, -1.0, -1.0])
    return (display + 1.0) / 2.0 * opacity.clamp(0, 1)


def image_normals(
    model_normals: Optional[Tensor], depth: Tensor, cameras: Cameras, index: int
) -> tuple[Tensor, NormalsSource]:
    """Camera-frame normals of a rendered image and where they came from: the model's SDF gradients
    when it outputs ``normals``, else finite differences of ``depth``."""
    if model_normals is not None:
        return world_to_camera_normals(model_normals, cameras, index), "sdf_gradient"
    return normals_from_depth(depth, cameras, index), "depth_finite_differences"
