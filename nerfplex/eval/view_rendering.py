"""Rendering whole images from any camera in bounded memory, with normals for visualisation.

:func:`render_image` renders one camera in chunks of rays (``Model.render`` under ``no_grad``, the same
as ``Model.render_chunked``) and keeps ``normals`` when the model produces them (NeuS: the
weight-averaged SDF gradient). :func:`normals_from_depth` derives normals from a depth map by finite
differences of the back-projected points for the other methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import Tensor

from nerfplex.cameras import Cameras, RayBundle
from nerfplex.models.base import Model

NormalsSource = Literal["sdf_gradient", "depth_finite_differences"]


@dataclass
class RenderedImage:
    """``rgb [H, W, 3]``, ``depth [H, W, 1]`` (distance along the unit ray), ``opacity [H, W, 1]`` and,
    when the model has them, ``normals [H, W, 3]`` in world space (unnormalised)."""

    rgb: Tensor
    depth: Tensor
    opacity: Tensor
    normals: Optional[Tensor] = None


@torch.no_grad()
def render_rays(model: Model, rays: RayBundle, background: Tensor, chunk_size: int,
                keys: tuple[str, ...] = ("rgb", "depth", "opacity", "normals")) -> dict[str, Tensor]:
    """``model.render`` over ``rays`` in chunks of ``chunk_size`` rays; the ``keys`` the model outputs."""
    pieces: dict[str, list[Tensor]] = {}
    for start in range(0, len(rays), chunk_size):
        out = model.render(rays[start:start + chunk_size], background[start:start + chunk_size])
        for key in keys:
            if key in out:
                pieces.setdefault(key, []).append(out[key].detach())
    return {key: torch.cat(values) for key, values in pieces.items()}


def render_image(model: Model, cameras: Cameras, index: int, near: float, far: float, background: Tensor,
                 chunk_size: int, aabb: Optional[Tensor] = None) -> RenderedImage:
    """Render camera ``index`` of ``cameras`` with a uniform ``background [3]``; results on the CPU.

    With ``aabb [2, 3]`` the rays are clipped to that box, as in training. The model is used as it is
    (call ``model.eval()`` first for deterministic renders).
    """
    device = next(model.parameters()).device
    origins, directions = cameras.to(device).image_rays(index)
    rays = RayBundle.with_bounds(origins, directions, near, far)
    if aabb is not None:
        rays = rays.clipped_to_aabb(aabb.to(device))
    out = render_rays(model, rays, background.to(device).expand(len(rays), 3), chunk_size)
    shape = (cameras.height, cameras.width, -1)
    normals = out.get("normals")
    return RenderedImage(out["rgb"].reshape(shape).cpu(), out["depth"].reshape(shape).cpu(),
                         out["opacity"].reshape(shape).cpu(),
                         None if normals is None else normals.reshape(shape).cpu())


def camera_directions(cameras: Cameras, index: int) -> Tensor:
    """Unit ray directions of camera ``index`` in its own (OpenCV) frame, ``[H, W, 3]``."""
    y, x = torch.meshgrid(torch.arange(cameras.height, dtype=cameras.fx.dtype),
                          torch.arange(cameras.width, dtype=cameras.fx.dtype), indexing="ij")
    fx, fy, cx, cy = (float(v[index]) for v in (cameras.fx, cameras.fy, cameras.cx, cameras.cy))
    dirs = torch.stack([(x + 0.5 - cx) / fx, (y + 0.5 - cy) / fy, torch.ones_like(x)], dim=-1)
    return dirs / dirs.norm(dim=-1, keepdim=True)


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


def image_normals(model_normals: Optional[Tensor], depth: Tensor, cameras: Cameras,
                  index: int) -> tuple[Tensor, NormalsSource]:
    """Camera-frame normals of a rendered image and where they came from: the model's SDF gradients
    when it outputs ``normals``, else finite differences of ``depth``."""
    if model_normals is not None:
        return world_to_camera_normals(model_normals, cameras, index), "sdf_gradient"
    return normals_from_depth(depth, cameras, index), "depth_finite_differences"
