"""Image file I/O and integer downscaling.

Images are float32 numpy arrays ``[H, W, C]`` with values in [0, 1] and ``C`` = 3 (RGB) or 4 (RGBA,
straight / un-premultiplied alpha, as stored in PNG files). Reading goes through imageio (Pillow).
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from nerfplex.errors import NerfplexError
from nerfplex.io import atomic_path, os_error_message

__all__ = ["read_image", "write_png", "downscale", "to_uint8"]

_PILLOW_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 ``[H, W, C]`` in [0, 1], ``C`` = 3 or 4.

    8-bit images are divided by 255 and 16-bit ones by 65535. Grayscale becomes 3 equal channels and
    gray+alpha becomes RGBA; palette images are expanded to RGB(A). Note that Pillow decodes 16-bit
    *colour* PNGs at 8-bit precision (16-bit grayscale keeps its full precision). Float images are
    returned unchanged. Only the first frame of a multi-frame file (GIF, TIFF) is read.

    Raises:
        NerfplexError: the file is missing, unreadable, corrupt or has an unsupported layout; the
            message names the file.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not an image file" if path.is_dir() else "does not exist"
        raise NerfplexError(
            f"image {path} {what}; check the file name in the dataset (and its extension) or restore the missing file."
        )
    if path.stat().st_size == 0:
        raise NerfplexError(f"could not read image {path}: the file is empty. Re-export or re-download it.")
    try:
        # Common formats go straight to Pillow: faster, and a corrupt file does not make imageio probe
        # (and warn about) every other plugin.
        plugin = "pillow" if path.suffix.lower() in _PILLOW_SUFFIXES else None
        image = iio.imread(path, index=0, plugin=plugin)
    except Exception as exc:  # imageio/Pillow raise many types (OSError, ValueError, SyntaxError)
        raise NerfplexError(
            f"could not read image {path}: {_decode_reason(path, exc)}. Re-export or "
            f"re-download the file (check it opens in an image viewer)."
        ) from exc
    return _normalise(image, path)


def _decode_reason(path: Path, exc: Exception) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Could not find a backend" in message or "can not handle the given uri" in message:
        return "not a readable image (corrupt, or not an image format imageio/Pillow can decode)"
    return message


def _normalise(image: np.ndarray, path: Path) -> np.ndarray:
    """Any decoded array -> float32 ``[H, W, 3|4]`` in [0, 1]."""
    if image.dtype == np.bool_:
        image = image.astype(np.float32)
    elif image.dtype == np.uint8:
        image = image.astype(np.float32) / np.float32(255.0)
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / np.float32(65535.0)
    elif np.issubdtype(image.dtype, np.integer):
        # Pillow's 32-bit integer mode usually holds 16-bit data; otherwise use the type's range.
        peak = 65535.0 if image.size == 0 or image.max() <= 65535 else float(np.iinfo(image.dtype).max)
        image = (image.astype(np.float64) / peak).astype(np.float32)
    elif np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32, copy=False)
    else:
        raise NerfplexError(
            f"image {path} has unsupported pixel type {image.dtype}; convert it to an 8- or 16-bit PNG or a JPEG."
        )
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise NerfplexError(
            f"image {path} has unsupported shape {tuple(image.shape)}; expected a "
            f"single 2-D image (convert it to an RGB or RGBA PNG)."
        )
    channels = image.shape[-1]
    if channels == 1:
        image = np.repeat(image, 3, axis=-1)
    elif channels == 2:  # gray + alpha
        image = np.concatenate([np.repeat(image[..., :1], 3, axis=-1), image[..., 1:]], axis=-1)
    elif channels not in (3, 4):
        raise NerfplexError(
            f"image {path} has {channels} channels; expected 1 to 4 (gray, gray+alpha, "
            f"RGB or RGBA). Convert it to an RGB or RGBA PNG."
        )
    return np.ascontiguousarray(image)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float ``[..., C]`` in [0, 1] -> uint8 (clipped, rounded to nearest)."""
    return (np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_png(path: str | os.PathLike, image) -> Path:
    """Write float ``[H, W, 3|4]`` in [0, 1] (numpy or CPU tensor) as an 8-bit PNG, atomically.

    The image is written to a temporary file in the destination folder (created if missing) and
    renamed into place, so readers never see a half-written file. Values are clipped to [0, 1].
    Returns the path written.
    """
    path = Path(path)
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(f"write_png expects [H, W, 3|4], got shape {tuple(image.shape)}")
    data = to_uint8(image)
    try:
        with atomic_path(path, fsync=False) as tmp:
            iio.imwrite(tmp, data, extension=".png")
    except OSError as exc:
        raise NerfplexError(f"could not write image {path}: {os_error_message(exc, path.parent)}") from None
    return path


def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink ``[H, W, ...]`` by an integer ``factor`` with an exact box filter (area average).

    Output pixel ``(x, y)`` is the mean of input pixels ``[f*y, f*y+f) x [f*x, f*x+f)``, so pixel
    centres map as ``u' = u / f`` and intrinsics scale by ``1 / f`` exactly. When ``H`` or ``W`` is not
    divisible by ``factor``, the remainder rows (bottom) and columns (right) are cropped first; this
    keeps the top-left origin, so the scaled intrinsics stay exact. Output: ``[H // f, W // f, ...]``.
    Average premultiplied colour (not straight colour) when the image has alpha.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise NerfplexError(f"downscale factor must be a positive integer, got {factor!r}.")
    if factor == 1:
        return image
    height, width = image.shape[:2]
    out_h, out_w = height // factor, width // factor
    if out_h == 0 or out_w == 0:
        raise NerfplexError(
            f"downscale factor {factor} is larger than the image ({width}x{height}); use a smaller downscale."
        )
    rest = image.shape[2:]
    cropped = np.asarray(image[: out_h * factor, : out_w * factor], dtype=np.float32)
    # Two single-axis sums are several times faster than one sum over axes (1, 3) in numpy.
    rows = cropped.reshape(out_h, factor, out_w * factor, *rest).sum(axis=1)
    blocks = rows.reshape(out_h, out_w, factor, *rest).sum(axis=2)
    blocks *= np.float32(1.0 / (factor * factor))
    return blocks
