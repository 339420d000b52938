"""Read a split's image files into one premultiplied, downscaled stack (every folder parser uses it).

Files are read in parallel threads (decoding releases the GIL), checked to share one size,
premultiplied by their alpha when they have one and area-downscaled by an integer factor
(:func:`nerfplex.data.images.downscale`: intrinsics scale by exactly ``1 / factor``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.data.images import downscale as downscale_image
from nerfplex.data.images import read_image
from nerfplex.errors import NerfplexError

__all__ = ["ImageStack", "read_image_stack", "read_mask_stack", "parallel_map", "check_downscale"]


def check_downscale(downscale: Any) -> int:
    """``downscale`` as a positive int, or a NerfplexError."""
    if (
        isinstance(downscale, bool)
        or not isinstance(downscale, Real)
        or not float(downscale).is_integer()
        or downscale < 1
    ):
        raise NerfplexError(
            f"downscale must be a positive integer (1 = full resolution, 2 = half, ...), got {downscale!r}."
        )
    return int(downscale)


@dataclass
class ImageStack:
    """Images of one split.

    Attributes:
        rgb: ``[N, H // f, W // f, 3]`` float32, premultiplied by ``alpha``.
        alpha: ``[N, H // f, W // f, 1]`` float32, or None when every image is opaque.
        width, height: full-size image size (before downscaling), pixels.
    """

    rgb: Tensor
    alpha: Optional[Tensor]
    width: int
    height: int


def parallel_map(fn: Callable[[int], None], count: int) -> None:
    """Run ``fn(0) ... fn(count - 1)`` on up to 8 threads; the first exception propagates."""
    with ThreadPoolExecutor(max_workers=max(1, min(8, count))) as pool:
        futures = [pool.submit(fn, i) for i in range(count)]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _check_factor(factor: int, width: int, height: int, label: str, warned: set[str], first: Path) -> None:
    if height // factor == 0 or width // factor == 0:
        raise NerfplexError(
            f"downscale {factor} is larger than the images of {label} ({width}x{height}); use a smaller downscale."
        )
    if (height % factor or width % factor) and "crop" not in warned:
        warned.add("crop")
        warnings.warn(
            f"image size {width}x{height} ({first.name}) is not divisible by downscale {factor}: "
            f"the last {width % factor} column(s) and {height % factor} row(s) are cropped "
            f"(right/bottom) before averaging; the cameras stay exact.",
            stacklevel=4,
        )


def _size_error(path: Path, image: np.ndarray, first: Path, width: int, height: int, context: str) -> NerfplexError:
    return NerfplexError(
        f"image {path}{context} is {image.shape[1]}x{image.shape[0]} but {first} is "
        f"{width}x{height}; all images of a split must have the same size. Resize them "
        f"to one size."
    )


_DATASET_ROOT: ContextVar[Optional[Path]] = ContextVar("nerfplex_dataset_root", default=None)


@contextlib.contextmanager
def dataset_root(root: Path) -> Iterator[None]:
    """While loading the dataset in folder ``root`` (or of file ``root``), warn about image files that lie
    outside it (:func:`warn_outside_root`): a dataset file pointing at ``../../home/...``."""
    root = Path(root)
    token = _DATASET_ROOT.set((root if root.is_dir() else root.parent).resolve())
    try:
        yield
    finally:
        _DATASET_ROOT.reset(token)


def warn_outside_root(paths: Sequence[Path]) -> None:
    """Warn, naming the first such path, when image files leave the dataset folder of :func:`dataset_root`."""
    root = _DATASET_ROOT.get()
    if root is None:
        return
    outside = [p for p in paths if not Path(p).resolve().is_relative_to(root)]
    if outside:
        warnings.warn(
            f"{len(outside)} image path(s) of the dataset lead outside its folder {root}, e.g. "
            f"{outside[0]}; check the dataset file (paths should stay inside the dataset folder).",
            stacklevel=3,
        )


def read_image_stack(
    paths: Sequence[Path],
    factor: int,
    warned: set[str],
    *,
    label: str = "the dataset",
    describe: Optional[Callable[[int], str]] = None,
) -> ImageStack:
    """Read ``paths`` (RGB or RGBA files) into an :class:`ImageStack`.

    Args:
        paths: ``N >= 1`` image files.
        factor: integer downscale factor (1 keeps the full size).
        warned: warnings already issued in this load (the crop warning is issued once).
        label: names the split's source in the downscale error (e.g. a transforms file name).
        describe: ``i -> text`` naming image ``i``'s entry in the dataset (frame, pose file), added to
            size-mismatch errors.
    Raises:
        NerfplexError: a missing / corrupt file (named), differing sizes, a factor larger than the images.
    """
    warn_outside_root(paths)
    first = read_image(paths[0])
    height, width = first.shape[:2]
    _check_factor(factor, width, height, label, warned, paths[0])
    out_h, out_w = height // factor, width // factor
    rgb = np.empty((len(paths), out_h, out_w, 3), dtype=np.float32)
    alpha = np.empty((len(paths), out_h, out_w, 1), dtype=np.float32)
    has_alpha = np.zeros(len(paths), dtype=bool)

    def load(i: int) -> None:
        image = first if i == 0 else read_image(paths[i])
        if image.shape[:2] != (height, width):
            context = f" ({describe(i)})" if describe is not None else ""
            raise _size_error(paths[i], image, paths[0], width, height, context)
        if image.shape[-1] == 4:
            has_alpha[i] = bool((image[..., 3] < 1.0).any())
            image[..., :3] *= image[..., 3:]  # premultiply (image is our own copy)
            small = downscale_image(image, factor)
            rgb[i], alpha[i] = small[..., :3], small[..., 3:]
        else:
            rgb[i] = downscale_image(image, factor)
            alpha[i] = 1.0

    parallel_map(load, len(paths))
    return ImageStack(torch.from_numpy(rgb), torch.from_numpy(alpha) if has_alpha.any() else None, width, height)


def read_mask_stack(
    paths: Sequence[Path], factor: int, width: int, height: int, *, images: Sequence[Path] = ()
) -> Tensor:
    """Foreground masks ``[N, H // f, W // f, 1]`` in [0, 1] from image files (mean of the colour
    channels; black = background), area-downscaled. Each must be ``width x height`` (the size of
    ``images[i]``, named in the error when given)."""
    warn_outside_root(paths)
    out = np.empty((len(paths), height // factor, width // factor, 1), dtype=np.float32)

    def load(i: int) -> None:
        image = read_image(paths[i])
        if image.shape[:2] != (height, width):
            other = f"its image {images[i]}" if i < len(images) else "the images"
            raise NerfplexError(
                f"mask {paths[i]} is {image.shape[1]}x{image.shape[0]} but {other} is "
                f"{width}x{height}; masks must have the size of their images."
            )
        out[i] = downscale_image(image[..., :3].mean(axis=-1, keepdims=True), factor)

    parallel_map(load, len(paths))
    return torch.from_numpy(out)
