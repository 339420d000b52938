"""Pinhole cameras and ray generation in the one internal convention.

Convention (OpenCV): camera x right, y down, z forward; ``c2w`` is ``[N, 3, 4]`` camera-to-world.
Parsers convert once (e.g. Blender/OpenGL flips the y and z axes). Pixel ``(x, y)`` has its centre at
``(x + 0.5, y + 0.5)``. Ray directions are unit length, so ray distances ``t`` are metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from nerfplex.distortion import undistort
from nerfplex.ndc import NDCSpace, ndc_rays

OPENGL_TO_OPENCV = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
"""Right-multiply a camera rotation by this to switch between OpenGL and OpenCV camera axes."""


@dataclass
class Cameras:
    """A set of pinhole cameras sharing one image size, optionally with lens distortion.

    Attributes:
        c2w: ``[N, 3, 4]`` camera-to-world (OpenCV axes).
        fx, fy, cx, cy: ``[N]`` intrinsics in pixels.
        width, height: image size in pixels.
        distortion: ``[N, 5]`` OpenCV radial-tangential coefficients ``(k1, k2, p1, p2, k3)``
            (:mod:`nerfplex.distortion`), or None for ideal pinholes. Rays go through the
            *undistorted* pixel positions, so images are used as captured.
        ndc: None, or the NDC warp (:mod:`nerfplex.ndc`) that :meth:`generate_rays` applies to every ray
            (forward-facing LLFF scenes, ``data.ndc``): rays then start on ``z' = -1`` in NDC space.
    """

    c2w: Tensor
    fx: Tensor
    fy: Tensor
    cx: Tensor
    cy: Tensor
    width: int
    height: int
    distortion: Optional[Tensor] = None
    ndc: Optional[NDCSpace] = None

    def __len__(self) -> int:
        return self.c2w.shape[0]

    def __getitem__(self, idx) -> Cameras:
        idx = torch.as_tensor(idx).reshape(-1)
        return Cameras(
            self.c2w[idx],
            self.fx[idx],
            self.fy[idx],
            self.cx[idx],
            self.cy[idx],
            self.width,
            self.height,
            None if self.distortion is None else self.distortion[idx],
            self.ndc,
        )

    def to(self, device) -> Cameras:
        return Cameras(
            self.c2w.to(device),
            self.fx.to(device),
            self.fy.to(device),
            self.cx.to(device),
            self.cy.to(device),
            self.width,
            self.height,
            None if self.distortion is None else self.distortion.to(device),
            self.ndc,
        )

    def scaled(self, factor: float) -> Cameras:
        """The same cameras for images resized by ``factor`` (e.g. 0.5 halves each side).

        Distortion acts on normalised coordinates, so its coefficients do not change."""
        width, height = round(self.width * factor), round(self.height * factor)
        sx, sy = width / self.width, height / self.height
        return Cameras(
            self.c2w, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height, self.distortion, self.ndc
        )

    def generate_rays(self, cam_idx: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Rays through pixel centres (undistorted first when the cameras have ``distortion``).

        Args:
            cam_idx, x, y: ``[R]`` integer camera index and pixel column / row.
        Returns:
            origins ``[R, 3]`` and unit directions ``[R, 3]`` in world space.
        """
        u = x.to(self.fx.dtype) + 0.5
        v = y.to(self.fx.dtype) + 0.5
        nx = (u - self.cx[cam_idx]) / self.fx[cam_idx]
        ny = (v - self.cy[cam_idx]) / self.fy[cam_idx]
        if self.distortion is not None:
            nx, ny = undistort(nx, ny, self.distortion[cam_idx])
        dirs_cam = torch.stack([nx, ny, torch.ones_like(u)], dim=-1)
        c2w = self.c2w[cam_idx]
        directions = torch.einsum("rij,rj->ri", c2w[:, :, :3], dirs_cam)
        directions = directions / directions.norm(dim=-1, keepdim=True)
        if self.ndc is not None:
            origins, directions, _ = ndc_rays(c2w[:, :, 3], directions, self.ndc)
            return origins, directions
        return c2w[:, :, 3].clone(), directions

    def image_rays(self, index: int) -> tuple[Tensor, Tensor]:
        """All rays of one camera, row-major: origins and directions ``[H * W, 3]``."""
        device = self.c2w.device
        y, x = torch.meshgrid(
            torch.arange(self.height, device=device), torch.arange(self.width, device=device), indexing="ij"
        )
        cam_idx = torch.full((self.height * self.width,), index, dtype=torch.long, device=device)
        return self.generate_rays(cam_idx, x.reshape(-1), y.reshape(-1))


def focal_from_fov(fov_x: float, width: int) -> float:
    """Focal length in pixels from a horizontal field of view in radians."""
    import math

    return 0.5 * width / math.tan(0.5 * fov_x)


def look_at(eye: Tensor, target: Tensor, up: Tensor) -> Tensor:
    """OpenCV camera-to-world ``[N, 3, 4]`` for cameras at ``eye [N, 3]`` looking at ``target [N, 3]``.

    ``up [3]`` is the world up direction; the camera's y axis (down) points away from it.
    """
    forward = target - eye
    forward = forward / forward.norm(dim=-1, keepdim=True)
    right = torch.cross(forward, up.expand_as(forward), dim=-1)
    right = right / right.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    down = torch.cross(forward, right, dim=-1)
    rot = torch.stack([right, down, forward], dim=-1)
    return torch.cat([rot, eye[..., None]], dim=-1)


@dataclass
class RayBundle:
    """A batch of rays with their distance bounds.

    Attributes:
        origins, directions: ``[R, 3]`` (directions unit length).
        near, far: ``[R, 1]`` distance bounds along each ray.
    """

    origins: Tensor
    directions: Tensor
    near: Tensor
    far: Tensor

    def __len__(self) -> int:
        return self.origins.shape[0]

    def __getitem__(self, sl) -> RayBundle:
        return RayBundle(self.origins[sl], self.directions[sl], self.near[sl], self.far[sl])

    def clipped_to_aabb(self, aabb: Tensor) -> RayBundle:
        """Tighten ``near`` / ``far`` to where each ray is inside the box ``aabb [2, 3]`` (slab test).

        Rays that miss the box get ``far == near``: they hold nothing and models skip them.
        """
        inv = 1.0 / torch.where(self.directions.abs() < 1e-9, torch.full_like(self.directions, 1e-9), self.directions)
        t0 = (aabb[0].to(self.origins) - self.origins) * inv
        t1 = (aabb[1].to(self.origins) - self.origins) * inv
        t_enter = torch.minimum(t0, t1).amax(dim=-1, keepdim=True)
        t_exit = torch.maximum(t0, t1).amin(dim=-1, keepdim=True)
        near = torch.maximum(self.near, t_enter)
        far = torch.minimum(self.far, t_exit)
        return RayBundle(self.origins, self.directions, near, torch.maximum(far, near))

    @staticmethod
    def with_bounds(origins: Tensor, directions: Tensor, near: float, far: float) -> RayBundle:
        """Rays with the same ``near`` / ``far`` for every ray."""
        ones = origins.new_ones(origins.shape[0], 1)
        return RayBundle(origins, directions, ones * near, ones * far)
