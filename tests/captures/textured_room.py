"""A tiny textured scene that structure from motion can register: the inside of a box whose walls carry
random multi-scale texture, rendered by exact ray casting (numpy), with known pinhole cameras."""

from __future__ import annotations

import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np

HALF = 2.0  # the room is [-2, 2]^3


def _textures(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """``[6, size, size, 3]`` wall textures: smooth random blobs at three scales, in [0, 1]."""
    out = np.zeros((6, size, size, 3))
    for scale, weight in ((8, 0.5), (32, 0.35), (128, 0.15)):
        coarse = rng.uniform(0, 1, (6, scale + 1, scale + 1, 3))
        xs = np.linspace(0, scale, size)
        i0 = np.minimum(xs.astype(int), scale - 1)
        f = (xs - i0)[None, :, None, None]
        rows = coarse[:, i0] * (1 - f) + coarse[:, i0 + 1] * f  # [6, size, scale+1, 3]
        g = (xs - i0)[None, None, :, None]
        out += weight * (rows[:, :, i0] * (1 - g) + rows[:, :, i0 + 1] * g)
    return out


def room_cameras(n: int, width: int, height: int, focal: float) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV camera-to-world ``[n, 3, 4]`` (a disc of viewpoints looking towards one corner, so three
    walls are in view) and ``K``."""
    c2w = []
    for i in range(n):
        angle = 2 * math.pi * i / n
        eye = np.array([-0.8, 0.9 * math.cos(angle), 0.9 * math.sin(angle)])  # a disc of viewpoints
        target = np.array([2.0, 1.0 + 0.3 * math.sin(2 * angle), -1.0 + 0.3 * math.cos(angle)])  # 3 walls seen
        z = target - eye
        z /= np.linalg.norm(z)
        x = np.cross(z, [0.0, 0.0, 1.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        c2w.append(np.stack([x, y, z, eye], axis=1))
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    return np.stack(c2w), k


def render_room(c2w: np.ndarray, k: np.ndarray, width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 images ``[n, H, W, 3]`` of the textured room seen by ``c2w`` (OpenCV) with intrinsics ``k``."""
    tex = _textures(np.random.default_rng(seed))
    size = tex.shape[1]
    v, u = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    dirs_cam = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], -1).reshape(-1, 3)
    images = []
    for pose in c2w:
        d = dirs_cam @ pose[:, :3].T
        o = pose[:, 3]
        with np.errstate(divide="ignore"):
            t = np.where(d > 0, (HALF - o) / d, (-HALF - o) / d)  # exit distance through each slab
        axis = np.argmin(t, axis=1)
        t_hit = t[np.arange(len(t)), axis]
        p = o + t_hit[:, None] * d
        face = axis * 2 + (d[np.arange(len(d)), axis] > 0)
        uv_axes = np.array([[1, 2], [0, 2], [0, 1]])[axis]
        uv = (np.take_along_axis(p, uv_axes, axis=1) + HALF) / (2 * HALF) * (size - 1)
        i0 = np.clip(np.floor(uv).astype(int), 0, size - 2)
        f = uv - i0
        c = (
            tex[face, i0[:, 0], i0[:, 1]] * ((1 - f[:, :1]) * (1 - f[:, 1:]))
            + tex[face, i0[:, 0] + 1, i0[:, 1]] * (f[:, :1] * (1 - f[:, 1:]))
            + tex[face, i0[:, 0], i0[:, 1] + 1] * ((1 - f[:, :1]) * f[:, 1:])
            + tex[face, i0[:, 0] + 1, i0[:, 1] + 1] * (f[:, :1] * f[:, 1:])
        )
        images.append((np.clip(c, 0, 1).reshape(height, width, 3) * 255 + 0.5).astype(np.uint8))
    return np.stack(images)


def write_room_photos(
    folder: Path, n: int = 12, width: int = 160, height: int = 120, focal: float = 140.0, seed: int = 0
) -> np.ndarray:
    """Write ``img_000.png`` ... into ``folder``; return the true camera-to-world ``[n, 3, 4]``."""
    folder.mkdir(parents=True, exist_ok=True)
    c2w, k = room_cameras(n, width, height, focal)
    for i, image in enumerate(render_room(c2w, k, width, height, seed)):
        iio.imwrite(folder / f"img_{i:03d}.png", image)
    return c2w
