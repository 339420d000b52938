"""Parse and validate the ``frames`` of a Blender / instant-ngp ``transforms*.json`` file.

Each frame has ``file_path`` (relative to the file; the extension may be omitted) and
``transform_matrix`` (4x4 camera-to-world, Blender/OpenGL camera axes: x right, y up, z backward),
checked here to be finite and rigid. Intrinsics come from ``fl_x`` / ``camera_angle_x`` (radians) /
``x_fov`` (degrees), the same for y (``fy`` defaults to ``fx``), ``cx`` / ``cy`` (default: image
centre) and ``w`` / ``h`` (checked against the image files later, in
:func:`nerfplex.data.transforms_split.load_split`). These keys may be set at the top level and
overridden per frame, as instant-ngp allows. Lens distortion ``k1 k2 k3 p1 p2`` (OpenCV's
radial-tangential model, instant-ngp's keys) is parsed per frame the same way and applied when rays
are generated (:mod:`nerfplex.distortion`); fisheye distortion (``is_fisheye``, ``k4``) is not
modelled: a warning is issued when it is set. No image is read here.

Frame selection follows instant-ngp's loader (``src/nerf_loader.cu``): frames are ordered by ``file_path``
in natural order; a top-level ``n_frames`` keeps the first ``n_frames`` of them; when the first frame
has a ``sharpness`` value (``colmap2nerf.py`` writes the variance of the Laplacian), frame ``i`` is kept
only if its sharpness (1 when absent) exceeds ``sharpness_discard_threshold`` (top level, default 0)
times the mean sharpness of frames ``max(0, i - 3) <= j < min(i + 3, n - 1)``. In an instant-ngp
``transforms.json``, frames whose image file is missing are dropped with one warning that counts them
(instant-ngp drops them in its sharpness pass; nerfplex does it for every such file); in the NeRF-synthetic
``transforms_{train,test,val}.json`` a missing image is an error (a broken download). Two deviations, both
where instant-ngp would fail: a lone frame keeps itself (its window is empty, and instant-ngp divides 0 by
0), and no frame left is an error naming the file.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Optional

import numpy as np

from nerfplex.data.poses import rigid_pose
from nerfplex.errors import NerfplexError

__all__ = [
    "TransformsFrame",
    "parse_frames",
    "natural_key",
    "is_finite_number",
    "IMAGE_EXTENSIONS",
    "DISTORTION_KEYS",
    "UNSUPPORTED_DISTORTION_KEYS",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""Tried in this order (lower then upper case) when ``file_path`` names no existing file."""

DISTORTION_KEYS = ("k1", "k2", "p1", "p2", "k3")
"""Radial-tangential distortion keys, in the order of :data:`nerfplex.distortion.DISTORTION_ORDER`."""
UNSUPPORTED_DISTORTION_KEYS = ("k4",)
"""Fisheye distortion keys that nerfplex does not model (a warning when any is non-zero)."""


@dataclass
class TransformsFrame:
    """One parsed frame: where it came from, its image file, pose and (unresolved) intrinsics."""

    source: Path  # the transforms file
    index: int  # position in that file's frames list
    file_path: str  # as written in the file
    image_path: Optional[Path]  # None only inside parse_frames (missing files are dropped there)
    c2w_gl: np.ndarray  # [4, 4] float64, Blender/OpenGL axes
    x_focal: Optional[tuple[str, float]]  # ("fl" | "angle", value) for x, None if absent
    y_focal: Optional[tuple[str, float]]
    cx: Optional[float]
    cy: Optional[float]
    w: Optional[int]
    h: Optional[int]
    distortion: Optional[tuple[float, ...]] = None  # (k1, k2, p1, p2, k3); None when all are 0

    @property
    def where(self) -> str:
        return f"frame {self.index} ('{self.file_path}') of {self.source}"


def parse_frames(meta: dict, source: Path, warned: set[str], drop_missing: bool = False) -> list[TransformsFrame]:
    """Validate ``meta['frames']`` and return the selected frames (module docstring; no image is read).

    ``drop_missing``: frames whose image file is missing are dropped with one warning (an instant-ngp
    ``transforms.json``) instead of raising (the NeRF-synthetic files, where it means a broken download)."""
    if "frames" not in meta:
        raise NerfplexError(
            f"{source} has no 'frames' key; a transforms file needs a 'frames' list of "
            f"{{'file_path', 'transform_matrix'}} objects."
        )
    frames = meta["frames"]
    if not isinstance(frames, list):
        raise NerfplexError(f"'frames' in {source} must be a list, got a {type(frames).__name__}.")
    if not frames:
        raise NerfplexError(f"'frames' in {source} is empty; add at least one frame (file_path + transform_matrix).")
    _check_distortion(meta, source, "top level", warned)
    n_frames = _selection_number(meta, "n_frames", source, integer=True)
    threshold = _selection_number(meta, "sharpness_discard_threshold", source) or 0.0
    parsed = []
    for index, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise NerfplexError(f"frame {index} of {source} must be a JSON object, got {type(frame).__name__}.")
        for key in ("file_path", "transform_matrix"):
            if key not in frame:
                raise NerfplexError(
                    f"frame {index} of {source} has no '{key}'; every frame needs 'file_path' and 'transform_matrix'."
                )
        file_path = frame["file_path"]
        if not isinstance(file_path, str) or not file_path.strip():
            raise NerfplexError(
                f"'file_path' of frame {index} in {source} must be a non-empty string, got {file_path!r}."
            )
        where = f"frame {index} ('{file_path}') of {source}"
        _check_distortion(frame, source, where, warned)
        c2w = _parse_pose(frame["transform_matrix"], where)
        x_focal = _focal_spec(frame, meta, "x", where, source)
        y_focal = _focal_spec(frame, meta, "y", where, source)
        if x_focal is None and y_focal is None:
            raise NerfplexError(
                f"no focal length for {where}: set 'camera_angle_x' (horizontal field of "
                f"view, radians) or 'fl_x' (focal length, pixels) at the top level of "
                f"{source.name} or in the frame."
            )
        parsed.append(
            TransformsFrame(
                source=source,
                index=index,
                file_path=file_path,
                c2w_gl=c2w,
                x_focal=x_focal,
                y_focal=y_focal,
                cx=_number(frame, meta, "cx", where, source),
                cy=_number(frame, meta, "cy", where, source),
                w=_size(frame, meta, "w", where, source),
                h=_size(frame, meta, "h", where, source),
                distortion=_distortion(frame, meta, where, source),
                image_path=_resolve_image(source.parent, file_path, where, required=False),
            )
        )
    return _select(parsed, frames, n_frames, threshold, source, warned, drop_missing)


def natural_key(text: str) -> list:
    """Sort key that orders ``img2`` before ``img10`` (instant-ngp sorts frames this way)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _selection_number(meta: dict, key: str, source: Path, integer: bool = False) -> Optional[float]:
    if key not in meta:
        return None
    value = meta[key]
    if not is_finite_number(value) or value < 0 or (integer and not float(value).is_integer()):
        kind = "a whole number >= 0" if integer else "a number >= 0"
        raise NerfplexError(f"'{key}' in {source} must be {kind}, got {value!r}.")
    return int(value) if integer else float(value)


def _select(
    parsed: list[TransformsFrame],
    raw: list,
    n_frames: Optional[int],
    threshold: float,
    source: Path,
    warned: set[str],
    drop_missing: bool,
) -> list[TransformsFrame]:
    """instant-ngp's frame selection (module docstring); the kept frames stay in the file's order."""
    order = sorted(range(len(parsed)), key=lambda i: natural_key(parsed[i].file_path.replace("\\", "/")))
    if n_frames is not None:
        order = order[:n_frames]
    keep = set(order)
    if order and "sharpness" in raw[order[0]]:
        values = []
        for i in order:
            value = raw[i].get("sharpness", 1.0)
            if not is_finite_number(value):
                raise NerfplexError(f"'sharpness' of {parsed[i].where} must be a number, got {value!r}.")
            values.append(float(value))
        count = len(order)
        for k, i in enumerate(order):
            start, end = max(0, k - 3), min(k + 3, count - 1)
            mean = sum(values[start:end]) / (end - start) if end > start else values[k]
            if not values[k] > threshold * mean:
                keep.discard(i)
    missing = [parsed[i] for i in sorted(keep) if parsed[i].image_path is None]
    kept = [parsed[i] for i in sorted(keep) if parsed[i].image_path is not None]
    if missing and not drop_missing:
        _resolve_image(source.parent, missing[0].file_path, missing[0].where)  # raises, naming the file
    if not kept:
        if missing:
            _resolve_image(source.parent, missing[0].file_path, missing[0].where)  # raises, naming the file
        raise NerfplexError(
            f"no frame of {source} is left after its 'n_frames' ({n_frames}) and "
            f"'sharpness_discard_threshold' ({threshold}) selection; lower or remove them."
        )
    if missing:
        key = f"missing:{source}"
        if key not in warned:
            warned.add(key)
            warnings.warn(
                f"{len(missing)} of the {len(missing) + len(kept)} frames in {source} have no image file "
                f"(first: '{missing[0].file_path}'); they are dropped, as instant-ngp does.",
                stacklevel=4,
            )
    return kept


def _parse_pose(matrix: Any, where: str) -> np.ndarray:
    """``transform_matrix`` -> validated ``[4, 4]`` float64 (Blender axes)."""
    return rigid_pose(matrix, f"'transform_matrix' of {where}")


def _resolve_image(base: Path, file_path: str, where: str, required: bool = True) -> Optional[Path]:
    """The image file a ``file_path`` names: as written, else with an image extension appended; when
    there is none, None (``required=False``) or a NerfplexError."""
    relative = Path(file_path.replace("\\", "/"))
    path = relative if relative.is_absolute() else base / relative
    if path.is_file():
        return path
    candidates = [ext for e in IMAGE_EXTENSIONS for ext in (e, e.upper())]
    for ext in candidates:
        candidate = path.with_name(path.name + ext)
        if candidate.is_file():
            return candidate
    if not required:
        return None
    tried = f"{path.name} and {path.name}{{{','.join(IMAGE_EXTENSIONS)}}}"
    raise NerfplexError(
        f"image file for {where} not found: looked for {tried} in {path.parent}. Check "
        f"'file_path' (it is relative to the transforms file) or restore the image."
    )


def is_finite_number(value: Any) -> bool:
    """A finite real JSON number (bools excluded)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _lookup(frame: dict, meta: dict, key: str) -> tuple[Any, Optional[str]]:
    """The frame's value of ``key`` if set there, else the file's top-level value; and where it was."""
    if key in frame:
        return frame[key], "frame"
    if key in meta:
        return meta[key], "top level"
    return None, None


def _focal_spec(frame: dict, meta: dict, axis: str, where: str, source: Path) -> Optional[tuple[str, float]]:
    """``("fl", pixels)`` or ``("angle", radians)`` for one axis; the frame's keys beat the top level's."""
    keys = (f"fl_{axis}", f"camera_angle_{axis}", f"{axis}_fov")
    for level in (frame, meta):
        for key in keys:
            if key not in level:
                continue
            value = level[key]
            place = where if level is frame else f"the top level of {source}"
            if not is_finite_number(value) or value <= 0:
                raise NerfplexError(f"'{key}' in {place} must be a positive number, got {value!r}.")
            if key.startswith("fl_"):
                return "fl", float(value)
            angle = float(value) if key.startswith("camera_angle") else math.radians(float(value))
            if angle >= math.pi:
                unit = "radians" if key.startswith("camera_angle") else "degrees"
                raise NerfplexError(
                    f"'{key}' in {place} is {value!r} {unit}, which is not a field of view "
                    f"below 180 degrees (camera_angle_* is in radians, *_fov in degrees)."
                )
            return "angle", angle
    return None


def _number(frame: dict, meta: dict, key: str, where: str, source: Path) -> Optional[float]:
    value, level = _lookup(frame, meta, key)
    if level is None:
        return None
    if not is_finite_number(value):
        place = where if level == "frame" else f"the top level of {source}"
        raise NerfplexError(f"'{key}' in {place} must be a finite number, got {value!r}.")
    return float(value)


def _size(frame: dict, meta: dict, key: str, where: str, source: Path) -> Optional[int]:
    value, level = _lookup(frame, meta, key)
    if level is None:
        return None
    if not is_finite_number(value) or value < 1 or not float(value).is_integer():
        place = where if level == "frame" else f"the top level of {source}"
        raise NerfplexError(f"'{key}' in {place} must be a positive whole number of pixels, got {value!r}.")
    return int(value)


def _distortion(frame: dict, meta: dict, where: str, source: Path) -> Optional[tuple[float, ...]]:
    """``(k1, k2, p1, p2, k3)`` of one frame (its own keys beat the top level's), None when all 0."""
    values = []
    for key in DISTORTION_KEYS:
        value = _number(frame, meta, key, where, source)
        values.append(0.0 if value is None else value)
    return tuple(values) if any(values) else None


def _check_distortion(level: dict, source: Path, place: str, warned: set[str]) -> None:
    keys = [k for k in UNSUPPORTED_DISTORTION_KEYS if is_finite_number(level.get(k)) and level[k] != 0]
    if level.get("is_fisheye"):
        keys.append("is_fisheye")
    if keys and "distortion" not in warned:
        warned.add("distortion")
        warnings.warn(
            f"{source} sets fisheye lens distortion ({', '.join(keys)} at the {place}), which "
            f"nerfplex does not model: the images are used as if they followed the pinhole "
            f"(+ k1 k2 p1 p2 k3) model. Undistort them first for accurate results.",
            stacklevel=4,
        )
