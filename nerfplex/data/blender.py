"""Blender / NeRF-synthetic and instant-ngp ``transforms.json`` datasets -> :class:`SceneData`.

Two layouts are recognised in ``root`` (Blender wins when both are present):

* Blender / NeRF-synthetic: ``transforms_train.json`` + ``transforms_test.json`` (or
  ``transforms_val.json``, picked with ``test_split="val"``).
* instant-ngp: one ``transforms.json``; every ``test_every``-th frame (after sorting frames by
  ``file_path`` in natural order, as instant-ngp does) is held out, the rest train.

Each file has ``frames[]`` with ``file_path`` (relative to the file; the extension may be omitted) and
``transform_matrix`` (4x4 camera-to-world, Blender/OpenGL camera axes: x right, y up, z backward).
Intrinsics come from ``fl_x`` / ``camera_angle_x`` (radians) / ``x_fov`` (degrees), the same for y
(``fy`` defaults to ``fx``), ``cx`` / ``cy`` (default: image centre) and ``w`` / ``h`` (checked against
the image files). These keys may be set at the top level and overridden per frame. Distortion keys
(``k1 k2 k3 k4 p1 p2``) are not applied yet: a warning is issued when they are non-zero.

Poses are converted once to the internal OpenCV convention (:data:`nerfplex.cameras.OPENGL_TO_OPENCV`).

Bounds, unless given as arguments (arguments win, then an optional ``"nerfplex": {"near", "far",
"aabb"}`` block in ``transforms_train.json`` / ``transforms.json``, as written by
:func:`nerfplex.data.blender_writer.write_blender_scene`):

* Blender layout: near / far = 2 / 6 (the NeRF paper's values), aabb = [-1.5, 1.5]^3 (lego bounds).
* instant-ngp: the aabb is instant-ngp's ``aabb_scale`` box when any of ``aabb_scale`` / ``scale`` /
  ``offset`` / ``aabb`` is present (instant-ngp maps ``position * scale + offset`` into its unit cube,
  default scale 0.33 and offset 0.5, and the scene box is that cube grown ``aabb_scale`` times about
  its centre: ``aabb_scale = 1`` is about [-1.52, 1.52]^3). Otherwise the scene centre is the point
  closest to all optical axes (the mean camera position when the axes are near parallel) and the
  aabb is the cube about it whose half-side is the largest camera distance (so it holds every
  camera). near / far: with ``d`` the camera distances to the aabb centre and ``r`` the radius of the
  aabb's bounding sphere, ``far = max(d) + r`` and ``near = max(min(d) - r, 0.05 * min(d))``.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras
from nerfplex.data.images import downscale as downscale_image
from nerfplex.data.images import read_image
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.errors import NerfplexError

__all__ = ["load_blender", "BLENDER_NEAR", "BLENDER_FAR", "BLENDER_AABB"]

BLENDER_NEAR, BLENDER_FAR = 2.0, 6.0
"""The NeRF paper's ray bounds for the NeRF-synthetic scenes."""
BLENDER_AABB = ((-1.5, -1.5, -1.5), (1.5, 1.5, 1.5))
"""The usual NeRF-synthetic scene box (holds lego and the other synthetic objects)."""

NGP_SCALE, NGP_OFFSET = 0.33, 0.5
"""instant-ngp's default mapping of world positions into its unit cube: ``p * scale + offset``."""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""Tried in this order (lower then upper case) when ``file_path`` names no existing file."""

DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
_ORTHONORMAL_TOL = 1e-3
_BLENDER_FILES = ("transforms_train.json", "transforms_test.json", "transforms_val.json")


@dataclass
class _Frame:
    """One parsed frame: where it came from, its image file, pose and (unresolved) intrinsics."""

    source: Path  # the transforms file
    index: int  # position in that file's frames list
    file_path: str  # as written in the file
    image_path: Path
    c2w_gl: np.ndarray  # [4, 4] float64, Blender/OpenGL axes
    x_focal: Optional[tuple[str, float]]  # ("fl" | "angle", value) for x, None if absent
    y_focal: Optional[tuple[str, float]]
    cx: Optional[float]
    cy: Optional[float]
    w: Optional[int]
    h: Optional[int]

    @property
    def where(self) -> str:
        return f"frame {self.index} ('{self.file_path}') of {self.source}"


def load_blender(root: str | Path, *, downscale: int = 1, test_split: str = "test", test_every: int = 8,
                 near: float | None = None, far: float | None = None,
                 max_train_images: int | None = None) -> SceneData:
    """Load a Blender/NeRF-synthetic or instant-ngp dataset.

    Args:
        root: the dataset folder (or the ``transforms*.json`` file itself).
        downscale: integer factor; images are area-averaged (premultiplied rgb and alpha) and
            intrinsics divided by it. Sizes not divisible by it lose their last rows/columns
            (bottom/right, with a warning), which keeps the cameras exact.
        test_split: Blender layout only: ``"test"`` or ``"val"``, the file held out for evaluation.
        test_every: instant-ngp layout only: frames with ``index % test_every == 0`` are held out.
        near, far: ray bounds; defaults are described in the module docstring.
        max_train_images: keep at most this many training frames, evenly spaced over the list.
    Returns:
        SceneData with ``rgb [N, H, W, 3]`` premultiplied by ``alpha [N, H, W, 1]`` (alpha is None
        when every image of the split is opaque), OpenCV cameras, near/far and ``aabb [2, 3]``.

    The NeRF-synthetic white background is not baked in: composite at use time with
    :meth:`SceneSplit.composite`, so no ``background`` argument is needed here.
    """
    factor = _check_downscale(downscale)
    root = Path(root)
    layout, files, root = _find_layout(root, test_split)
    if max_train_images is not None and (isinstance(max_train_images, bool)
                                         or not isinstance(max_train_images, int) or max_train_images < 1):
        raise NerfplexError(f"max_train_images must be a positive integer or None, got {max_train_images!r}.")

    warned: set[str] = set()
    if layout == "blender":
        train_meta = _read_json(files["train"])
        test_meta = _read_json(files["test"])
        train_frames = _parse_frames(train_meta, files["train"], warned)
        test_frames = _parse_frames(test_meta, files["test"], warned)
        main_meta = train_meta
    else:
        if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 2:
            raise NerfplexError(f"test_every must be an integer >= 2 (every test_every-th frame of "
                                f"{files['all'].name} is held out for testing), got {test_every!r}.")
        main_meta = _read_json(files["all"])
        frames = _parse_frames(main_meta, files["all"], warned)
        frames.sort(key=lambda f: _natural_key(f.file_path))
        if len(frames) < 2:
            raise NerfplexError(f"{files['all']} has only {len(frames)} frame; at least 2 are needed "
                                f"(one to train on, one to test on).")
        test_frames = [f for i, f in enumerate(frames) if i % test_every == 0]
        train_frames = [f for i, f in enumerate(frames) if i % test_every != 0]

    if max_train_images is not None and max_train_images < len(train_frames):
        keep = np.linspace(0, len(train_frames) - 1, max_train_images).round().astype(int)
        train_frames = [train_frames[i] for i in keep]

    train = _load_split(train_frames, factor, warned)
    test = _load_split(test_frames, factor, warned)
    near, far, aabb = _bounds(layout, main_meta, files, train, test, near, far)
    return SceneData(train=train, test=test, near=near, far=far, aabb=aabb, name=root.name,
                     extras={"layout": layout})


# ----------------------------------------------------------------------------------------------------
# Layout and JSON


def _check_downscale(downscale: Any) -> int:
    if isinstance(downscale, bool) or not isinstance(downscale, Real) or not float(downscale).is_integer() \
            or downscale < 1:
        raise NerfplexError(f"downscale must be a positive integer (1 = full resolution, 2 = half, ...), "
                            f"got {downscale!r}.")
    return int(downscale)


def _find_layout(root: Path, test_split: str) -> tuple[str, dict[str, Path], Path]:
    """Which layout ``root`` holds: ``("blender", {train, test}, root)`` or ``("ngp", {all}, root)``."""
    if test_split not in ("test", "val"):
        raise NerfplexError(f"test_split must be 'test' or 'val', got {test_split!r}.")
    if root.is_file():
        if root.suffix.lower() != ".json":
            raise NerfplexError(f"{root} is a file; pass the dataset folder that holds "
                                f"transforms_train.json / transforms.json (or the .json file itself).")
        if root.name in _BLENDER_FILES:
            root = root.parent
        else:
            return "ngp", {"all": root}, root.parent
    if not root.exists():
        resolved = "" if root.is_absolute() else f" (resolved to {root.absolute()})"
        raise NerfplexError(f"dataset folder {root} does not exist{resolved}; check the path or download "
                            f"the dataset there.")
    if not root.is_dir():
        raise NerfplexError(f"{root} is not a folder; pass the dataset folder.")
    train = root / "transforms_train.json"
    if train.is_file():
        test = root / f"transforms_{test_split}.json"
        if not test.is_file():
            other = "val" if test_split == "test" else "test"
            hint = (f"; {root / f'transforms_{other}.json'} exists: pass test_split='{other}'"
                    if (root / f"transforms_{other}.json").is_file() else
                    "; add the held-out frames' file")
            raise NerfplexError(f"{test.name} not found in {root} (it holds transforms_train.json, so this "
                                f"is a Blender-layout dataset){hint}.")
        return "blender", {"train": train, "test": test}, root
    single = root / "transforms.json"
    if single.is_file():
        return "ngp", {"all": single}, root
    present = sorted(p.name for p in root.glob("*.json"))
    raise NerfplexError(
        f"no transforms file found in {root}: looked for transforms_train.json + transforms_test.json / "
        f"transforms_val.json (Blender / NeRF-synthetic layout) and transforms.json (instant-ngp "
        f"layout); JSON files present: {present or 'none'}. Point to the folder that holds them.")


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NerfplexError(f"{path} is not UTF-8 text ({exc}); is it really a transforms JSON file?") from exc
    except OSError as exc:
        raise NerfplexError(f"could not read {path}: {exc}.") from exc
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NerfplexError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno}. Fix the syntax there (e.g. a missing comma or bracket, a "
                            f"trailing comma, NaN).") from exc
    if not isinstance(meta, dict):
        raise NerfplexError(f"{path} must hold a JSON object with a 'frames' list, but its top level is "
                            f"a {type(meta).__name__}.")
    return meta


def _natural_key(text: str) -> list:
    """Sort key that orders ``img2`` before ``img10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


# ----------------------------------------------------------------------------------------------------
# Frames


def _parse_frames(meta: dict, source: Path, warned: set[str]) -> list[_Frame]:
    """Validate ``meta['frames']`` and return the parsed frames (no images are read here)."""
    if "frames" not in meta:
        raise NerfplexError(f"{source} has no 'frames' key; a transforms file needs a 'frames' list of "
                            f"{{'file_path', 'transform_matrix'}} objects.")
    frames = meta["frames"]
    if not isinstance(frames, list):
        raise NerfplexError(f"'frames' in {source} must be a list, got a {type(frames).__name__}.")
    if not frames:
        raise NerfplexError(f"'frames' in {source} is empty; add at least one frame (file_path + "
                            f"transform_matrix).")
    _check_distortion(meta, source, "top level", warned)
    parsed = []
    for index, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise NerfplexError(f"frame {index} of {source} must be a JSON object, got "
                                f"{type(frame).__name__}.")
        for key in ("file_path", "transform_matrix"):
            if key not in frame:
                raise NerfplexError(f"frame {index} of {source} has no '{key}'; every frame needs "
                                    f"'file_path' and 'transform_matrix'.")
        file_path = frame["file_path"]
        if not isinstance(file_path, str) or not file_path.strip():
            raise NerfplexError(f"'file_path' of frame {index} in {source} must be a non-empty string, "
                                f"got {file_path!r}.")
        where = f"frame {index} ('{file_path}') of {source}"
        _check_distortion(frame, source, where, warned)
        c2w = _parse_pose(frame["transform_matrix"], where)
        x_focal = _focal_spec(frame, meta, "x", where, source)
        y_focal = _focal_spec(frame, meta, "y", where, source)
        if x_focal is None and y_focal is None:
            raise NerfplexError(f"no focal length for {where}: set 'camera_angle_x' (horizontal field of "
                                f"view, radians) or 'fl_x' (focal length, pixels) at the top level of "
                                f"{source.name} or in the frame.")
        parsed.append(_Frame(
            source=source, index=index, file_path=file_path, c2w_gl=c2w, x_focal=x_focal, y_focal=y_focal,
            cx=_number(frame, meta, "cx", where, source), cy=_number(frame, meta, "cy", where, source),
            w=_size(frame, meta, "w", where, source), h=_size(frame, meta, "h", where, source),
            image_path=_resolve_image(source.parent, file_path, where)))
    return parsed


def _parse_pose(matrix: Any, where: str) -> np.ndarray:
    """``transform_matrix`` -> validated ``[4, 4]`` float64 (Blender axes)."""
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        shown = repr(matrix) if len(repr(matrix)) <= 80 else repr(matrix)[:77] + "..."
        raise NerfplexError(f"'transform_matrix' of {where} is not a 4x4 list of numbers: {shown}.") from exc
    if m.shape != (4, 4):
        raise NerfplexError(f"'transform_matrix' of {where} has shape {'x'.join(map(str, m.shape)) or 'scalar'}; "
                            f"it must be a 4x4 camera-to-world matrix (4 rows of 4 numbers, last row "
                            f"0 0 0 1).")
    if not np.isfinite(m).all():
        raise NerfplexError(f"'transform_matrix' of {where} contains NaN or infinite values; fix or remove "
                            f"this frame.")
    if np.abs(m[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-6:
        raise NerfplexError(f"'transform_matrix' of {where} has last row {m[3].tolist()}, expected "
                            f"[0, 0, 0, 1]; it must be a rigid camera-to-world transform.")
    rot = m[:3, :3]
    error = np.abs(rot.T @ rot - np.eye(3)).max()
    det = np.linalg.det(rot)
    if error <= _ORTHONORMAL_TOL and det < 0:
        raise NerfplexError(f"'transform_matrix' of {where} is a reflection (its 3x3 rotation has det = "
                            f"{det:.4g}); camera-to-world poses must be rigid rotations with det = +1. "
                            f"Flip the sign of one camera axis column consistently for all frames.")
    if error > _ORTHONORMAL_TOL:
        raise NerfplexError(
            f"'transform_matrix' of {where} is not rigid: its 3x3 rotation is not orthonormal "
            f"(max |R^T R - I| = {error:.3g}, det = {det:.4g}). Scaled or sheared poses are not "
            f"supported: remove the scale from the rotation columns (scale the positions instead).")
    return m


def _resolve_image(base: Path, file_path: str, where: str) -> Path:
    """The image file a ``file_path`` names: as written, else with an image extension appended."""
    relative = Path(file_path.replace("\\", "/"))
    path = relative if relative.is_absolute() else base / relative
    if path.is_file():
        return path
    candidates = [ext for e in IMAGE_EXTENSIONS for ext in (e, e.upper())]
    for ext in candidates:
        candidate = path.with_name(path.name + ext)
        if candidate.is_file():
            return candidate
    tried = f"{path.name} and {path.name}{{{','.join(IMAGE_EXTENSIONS)}}}"
    raise NerfplexError(f"image file for {where} not found: looked for {tried} in {path.parent}. Check "
                        f"'file_path' (it is relative to the transforms file) or restore the image.")


def _is_number(value: Any) -> bool:
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
            if not _is_number(value) or value <= 0:
                raise NerfplexError(f"'{key}' in {place} must be a positive number, got {value!r}.")
            if key.startswith("fl_"):
                return "fl", float(value)
            angle = float(value) if key.startswith("camera_angle") else math.radians(float(value))
            if angle >= math.pi:
                unit = "radians" if key.startswith("camera_angle") else "degrees"
                raise NerfplexError(f"'{key}' in {place} is {value!r} {unit}, which is not a field of view "
                                    f"below 180 degrees (camera_angle_* is in radians, *_fov in degrees).")
            return "angle", angle
    return None


def _number(frame: dict, meta: dict, key: str, where: str, source: Path) -> Optional[float]:
    value, level = _lookup(frame, meta, key)
    if level is None:
        return None
    if not _is_number(value):
        place = where if level == "frame" else f"the top level of {source}"
        raise NerfplexError(f"'{key}' in {place} must be a finite number, got {value!r}.")
    return float(value)


def _size(frame: dict, meta: dict, key: str, where: str, source: Path) -> Optional[int]:
    value, level = _lookup(frame, meta, key)
    if level is None:
        return None
    if not _is_number(value) or value < 1 or not float(value).is_integer():
        place = where if level == "frame" else f"the top level of {source}"
        raise NerfplexError(f"'{key}' in {place} must be a positive whole number of pixels, got {value!r}.")
    return int(value)


def _check_distortion(level: dict, source: Path, place: str, warned: set[str]) -> None:
    keys = [k for k in DISTORTION_KEYS if _is_number(level.get(k)) and level[k] != 0]
    if level.get("is_fisheye"):
        keys.append("is_fisheye")
    if keys and "distortion" not in warned:
        warned.add("distortion")
        warnings.warn(f"{source} sets lens distortion ({', '.join(keys)} at the {place}), which nerfplex "
                      f"does not model yet: the images are used as if undistorted. Undistort them first "
                      f"for accurate results.", stacklevel=4)


# ----------------------------------------------------------------------------------------------------
# Images and cameras


def _load_split(frames: list[_Frame], factor: int, warned: set[str]) -> SceneSplit:
    """Read, premultiply and downscale the images of ``frames``; build their cameras."""
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


def _cameras(frames: list[_Frame], width: int, height: int) -> Cameras:
    """OpenCV cameras for full-size ``width x height`` images of ``frames``."""
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


# ----------------------------------------------------------------------------------------------------
# Bounds


def _bounds(layout: str, meta: dict, files: dict[str, Path], train: SceneSplit, test: SceneSplit,
            near: float | None, far: float | None) -> tuple[float, float, torch.Tensor]:
    """near, far, aabb ``[2, 3]``: explicit arguments > the file's ``nerfplex`` block > defaults."""
    source = files.get("train", files.get("all"))
    block = meta.get("nerfplex", {})
    if not isinstance(block, dict):
        raise NerfplexError(f"'nerfplex' in {source} must be an object with near / far / aabb.")
    aabb = _stored_aabb(block, source)
    if aabb is None:
        if layout == "blender":
            aabb = np.array(BLENDER_AABB, dtype=np.float64)
        else:
            aabb = _ngp_aabb(meta, source, train, test)
    if near is None and "near" in block:
        near = _bound_value(block["near"], f"'nerfplex.near' in {source}")
    if far is None and "far" in block:
        far = _bound_value(block["far"], f"'nerfplex.far' in {source}")
    if near is None or far is None:
        if layout == "blender":
            default_near, default_far = BLENDER_NEAR, BLENDER_FAR
        else:
            default_near, default_far = _ngp_near_far(aabb, train, test)
        if layout == "blender" and near is None and far is None:
            _check_blender_defaults(train, test, source)
        near = default_near if near is None else near
        far = default_far if far is None else far
    near = _bound_value(near, "near")
    far = _bound_value(far, "far")
    if far <= near:
        raise NerfplexError(f"near ({near}) must be smaller than far ({far}); fix the near/far settings.")
    return near, far, torch.tensor(aabb, dtype=torch.float32)


def _check_blender_defaults(train: SceneSplit, test: SceneSplit, source: Path) -> None:
    """Warn when the NeRF-synthetic near/far clearly do not fit the cameras."""
    origins = torch.cat([train.cameras.c2w, test.cameras.c2w])[:, :, 3]
    dist = float(origins.double().norm(dim=-1).median())
    if not BLENDER_NEAR < dist < BLENDER_FAR:
        warnings.warn(f"{source}: the cameras are {dist:.3g} from the origin, outside the NeRF-synthetic "
                      f"defaults near={BLENDER_NEAR}, far={BLENDER_FAR}; pass near= and far= that bracket "
                      f"the scene.", stacklevel=4)


def _bound_value(value: Any, name: str) -> float:
    if not _is_number(value) or value < 0:
        raise NerfplexError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _stored_aabb(block: dict, source: Path, label: str = "nerfplex.aabb") -> Optional[np.ndarray]:
    if "aabb" not in block:
        return None
    try:
        aabb = np.asarray(block["aabb"], dtype=np.float64)
    except (TypeError, ValueError):
        aabb = None
    if aabb is None or aabb.shape != (2, 3) or not np.isfinite(aabb).all() or (aabb[1] <= aabb[0]).any():
        raise NerfplexError(f"'{label}' in {source} must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] "
                            f"with min < max, got {block['aabb']!r}.")
    return aabb


def _ngp_aabb(meta: dict, source: Path, train: SceneSplit, test: SceneSplit) -> np.ndarray:
    """instant-ngp's ``aabb_scale`` box in world units, or a box about the cameras' focus point."""
    if not any(key in meta for key in ("aabb_scale", "scale", "offset", "aabb")):
        return _camera_aabb(train, test)
    scale, offset = NGP_SCALE, np.full(3, NGP_OFFSET)
    if "aabb" in meta:  # instant-ngp maps this box (made cubic) onto its unit cube
        box = _stored_aabb({"aabb": meta["aabb"]}, source, "aabb")
        scale = 1.0 / max((box[1] - box[0]).max(), 1e-6)
        offset = 0.5 - 0.5 * (box[0] + box[1]) * scale
    else:
        if "scale" in meta:
            if not _is_number(meta["scale"]) or meta["scale"] <= 0:
                raise NerfplexError(f"'scale' in {source} must be a positive number, got {meta['scale']!r}.")
            scale = float(meta["scale"])
        if "offset" in meta:
            try:
                offset = np.broadcast_to(np.asarray(meta["offset"], dtype=np.float64), (3,)).copy()
            except (TypeError, ValueError):
                offset = np.full(3, np.nan)
            if not np.isfinite(offset).all():
                raise NerfplexError(f"'offset' in {source} must be a number or 3 numbers, got "
                                    f"{meta['offset']!r}.")
    k = meta.get("aabb_scale", 1)
    if not _is_number(k) or k <= 0:
        raise NerfplexError(f"'aabb_scale' in {source} must be a positive number (instant-ngp uses a power "
                            f"of two such as 1, 2, 4, 16), got {k!r}.")
    # instant-ngp's scene box is its unit cube [0, 1]^3 grown k times about (0.5, 0.5, 0.5).
    return np.stack([(0.5 - 0.5 * k - offset) / scale, (0.5 + 0.5 * k - offset) / scale])


def _camera_aabb(train: SceneSplit, test: SceneSplit) -> np.ndarray:
    """Cube about the point nearest to all optical axes, holding every camera."""
    c2w = torch.cat([train.cameras.c2w, test.cameras.c2w]).double().numpy()
    origins, axes = c2w[:, :, 3], c2w[:, :, 2]  # OpenCV: z is the viewing direction
    # Minimise sum_i |(I - a_i a_i^T)(c - o_i)|^2  ->  (sum P_i) c = sum P_i o_i.
    proj = np.eye(3) - axes[:, :, None] * axes[:, None, :]
    lhs, rhs = proj.sum(0), np.einsum("nij,nj->i", proj, origins)
    if np.linalg.cond(lhs) < 1e6:
        centre = np.linalg.solve(lhs, rhs)
    else:  # optical axes (nearly) parallel, e.g. a forward-facing capture
        centre = origins.mean(0)
        warnings.warn("the cameras' optical axes are (nearly) parallel, so the scene box cannot be found "
                      "from where they look; using a box about the cameras, which may cut off the scene. "
                      "Set 'aabb_scale' in transforms.json and/or pass near= / far=.", stacklevel=5)
    half = max(np.linalg.norm(origins - centre, axis=1).max(), 1e-3)
    return np.stack([centre - half, centre + half])


def _ngp_near_far(aabb: np.ndarray, train: SceneSplit, test: SceneSplit) -> tuple[float, float]:
    origins = torch.cat([train.cameras.c2w, test.cameras.c2w])[:, :, 3].double().numpy()
    centre, radius = aabb.mean(0), 0.5 * np.linalg.norm(aabb[1] - aabb[0])
    dist = np.linalg.norm(origins - centre, axis=1)
    far = float(dist.max() + radius)
    near = float(max(dist.min() - radius, 0.05 * dist.min()))
    if near <= 0.0:
        near = 1e-3 * far
    return near, far
