"""Images and cameras of parsed ``transforms*.json`` frames -> :class:`SceneSplit`.

Images are read in parallel, premultiplied by alpha and area-downscaled; intrinsics are resolved
against the image size and divided by the downscale factor; poses are converted once to the internal
OpenCV convention (:data:`nerfplex.cameras.OPENGL_TO_OPENCV`).
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras
from nerfplex.data.images import downscale as downscale_image
from nerfplex.data.images import read_image
from nerfplex.data.scene import SceneSplit
from nerfplex.data.transforms_frames import IMAGE_EXTENSIONS, TransformsFrame
from nerfplex.errors import NerfplexError

__all__ = ["load_split"]


def load_split(frames: list[TransformsFrame], factor: int, warned: set[str]) -> SceneSplit:
    """Read, premultiply and downscale the images of ``frames``; build their cameras.

    Returns ``rgb [N, H // factor, W // factor, 3]`` premultiplied by ``alpha [N, h, w, 1]`` (None when
    every image is opaque) and OpenCV cameras; ``warned`` keeps the crop warning to one per load.
    """
    first = read_image(frames[0].image_path)
    height, width = first.shape[:2]
    out_h, out_w = height // factor, width // factor
    if out_h == 0 or out_w == 0:
        raise NerfplexError(f"downscale {factor} is larger than the images of {frames[0].source.name} "
                            f"({width}x{height}); use a smaller downscale.")
    if (height % factor or width % factor) and "crop" not in warned:
        warned.add("crop")
        warnings.warn(f"image size {width}x{height} ({frames[0].image_path.name}) is not divisible by "
                      f"downscale {factor}: the last {width % factor} column(s) and {height % factor} "
                      f"row(s) are cropped (right/bottom) before averaging; the cameras stay exact.",
                      stacklevel=3)
    rgb = np.empty((len(frames), out_h, out_w, 3), dtype=np.float32)
    alpha = np.empty((len(frames), out_h, out_w, 1), dtype=np.float32)
    has_alpha = np.zeros(len(frames), dtype=bool)

    def load(i: int) -> None:
        frame = frames[i]
        image = first if i == 0 else read_image(frame.image_path)
        if image.shape[:2] != (height, width):
            raise NerfplexError(
                f"image {frame.image_path} ({frame.where}) is {image.shape[1]}x{image.shape[0]} but "
                f"{frames[0].image_path} is {width}x{height}; all images of a split must have the same "
                f"size. Resize them to one size.")
        if frame.w is not None and frame.w != width or frame.h is not None and frame.h != height:
            raise NerfplexError(
                f"image {frame.image_path} is {width}x{height} but {frame.where} says w={frame.w}, "
                f"h={frame.h}; fix 'w'/'h' (and the intrinsics, which are in pixels of that size) or "
                f"use the full-size images.")
        if image.shape[-1] == 4:
            has_alpha[i] = bool((image[..., 3] < 1.0).any())
            image[..., :3] *= image[..., 3:]  # premultiply (image is our own copy)
            small = downscale_image(image, factor)
            rgb[i], alpha[i] = small[..., :3], small[..., 3:]
        else:
            rgb[i] = downscale_image(image, factor)
            alpha[i] = 1.0

    with ThreadPoolExecutor(max_workers=min(8, len(frames))) as pool:
        futures = [pool.submit(load, i) for i in range(len(frames))]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    cameras = _cameras(frames, width, height)
    if factor > 1:
        # Box filtering by f maps pixel coordinates u -> u / f exactly (cropping keeps the origin).
        cameras = Cameras(cameras.c2w, cameras.fx / factor, cameras.fy / factor, cameras.cx / factor,
                          cameras.cy / factor, out_w, out_h)
    return SceneSplit(rgb=torch.from_numpy(rgb), alpha=torch.from_numpy(alpha) if has_alpha.any() else None,
                      cameras=cameras, names=[_image_name(f.file_path) for f in frames])


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
    return Cameras(c2w=c2w.float(), fx=as_tensor(fx), fy=as_tensor(fy), cx=as_tensor(cx), cy=as_tensor(cy),
                   width=width, height=height)
