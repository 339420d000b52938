"""Images and cameras of parsed ``transforms*.json`` frames -> :class:`SceneSplit`.

Images are read by :func:`nerfplex.data.image_stack.read_image_stack`; intrinsics are resolved
against the image size and divided by the downscale factor; poses are converted once to the internal
OpenCV convention (:data:`nerfplex.cameras.OPENGL_TO_OPENCV`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras
from nerfplex.data.image_stack import read_image_stack
from nerfplex.data.scene import SceneSplit
from nerfplex.data.transforms_frames import IMAGE_EXTENSIONS, TransformsFrame
from nerfplex.errors import NerfplexError

__all__ = ["load_split"]


def load_split(frames: list[TransformsFrame], factor: int, warned: set[str]) -> SceneSplit:
    """Read, premultiply and downscale the images of ``frames``; build their cameras.

    Returns ``rgb [N, H // factor, W // factor, 3]`` premultiplied by ``alpha [N, h, w, 1]`` (None when
    every image is opaque) and OpenCV cameras (with distortion when a frame sets any);
    ``warned`` keeps the crop warning to one per load.
    """
    stack = read_image_stack(
        [f.image_path for f in frames], factor, warned, label=frames[0].source.name, describe=lambda i: frames[i].where
    )
    width, height = stack.width, stack.height
    for frame in frames:
        if frame.w is not None and frame.w != width or frame.h is not None and frame.h != height:
            raise NerfplexError(
                f"image {frame.image_path} is {width}x{height} but {frame.where} says w={frame.w}, "
                f"h={frame.h}; fix 'w'/'h' (and the intrinsics, which are in pixels of that size) or "
                f"use the full-size images."
            )
    cameras = _cameras(frames, width, height)
    if factor > 1:
        # Box filtering by f maps pixel coordinates u -> u / f exactly (cropping keeps the origin).
        cameras = Cameras(
            cameras.c2w,
            cameras.fx / factor,
            cameras.fy / factor,
            cameras.cx / factor,
            cameras.cy / factor,
            width // factor,
            height // factor,
            cameras.distortion,
        )
    return SceneSplit(
        rgb=stack.rgb, alpha=stack.alpha, cameras=cameras, names=[_image_name(f.file_path) for f in frames]
    )


def _image_name(file_path: str) -> str:
    """``'./train/r_0'`` -> ``'r_0'``; ``'images/0001.jpg'`` -> ``'0001'``."""
    path = Path(file_path.replace("\\", "/"))
    return path.stem if path.suffix.lower() in IMAGE_EXTENSIONS else path.name


def _cameras(frames: list[TransformsFrame], width: int, height: int) -> Cameras:
    """OpenCV cameras (``c2w [N, 3, 4]``, ``fx fy cx cy [N]``) for full-size ``width x height`` images."""

    def focal(spec: Optional[tuple[str, float]], size: int) -> float:
        kind, value = spec
        return value if kind == "fl" else 0.5 * size / math.tan(0.5 * value)

    fx, fy = [], []
    for f in frames:
        x = focal(f.x_focal, width) if f.x_focal else None
        y = focal(f.y_focal, height) if f.y_focal else None
        fx.append(x if x is not None else y)
        fy.append(y if y is not None else x)
    cx = [width / 2 if f.cx is None else f.cx for f in frames]
    cy = [height / 2 if f.cy is None else f.cy for f in frames]
    c2w = torch.from_numpy(np.stack([f.c2w_gl[:3, :4] for f in frames]))  # [N, 3, 4] float64
    c2w[:, :, :3] = c2w[:, :, :3] @ OPENGL_TO_OPENCV.to(c2w.dtype)
    as_tensor = lambda values: torch.tensor(values, dtype=torch.float64).float()  # noqa: E731
    distortion = None
    if any(f.distortion is not None for f in frames):
        distortion = as_tensor([f.distortion or (0.0,) * 5 for f in frames])  # [N, 5]
    return Cameras(
        c2w=c2w.float(),
        fx=as_tensor(fx),
        fy=as_tensor(fy),
        cx=as_tensor(cx),
        cy=as_tensor(cy),
        width=width,
        height=height,
        distortion=distortion,
    )
