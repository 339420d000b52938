"""Camera paths placed in the page: keyframes -> the JSON file ``nerfplex render --path json`` reads."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerfplex.cameras import Cameras
from nerfplex.errors import NerfplexError
from nerfplex.eval.camera_paths import interpolation_path, path_to_json
from nerfplex.io import write_text_atomic
from nerfplex.viewer.frames import quaternion_to_rotation


@dataclass
class Keyframe:
    """A camera placed in the page: rotation ``wxyz``, ``position [3]``, vertical field of view (rad)."""

    wxyz: np.ndarray
    position: np.ndarray
    fov_y: float


def keyframe_cameras(keyframes: list[Keyframe], width: int, height: int) -> Cameras:
    """The keyframes as cameras of ``width x height`` pixels, each with its own focal length."""
    c2w = torch.tensor(
        np.stack([np.concatenate([quaternion_to_rotation(k.wxyz), k.position[:, None]], axis=1) for k in keyframes]),
        dtype=torch.float32,
    )
    focal = torch.tensor([(height / 2) / math.tan(k.fov_y / 2) for k in keyframes], dtype=torch.float32)
    centre_x, centre_y = torch.full_like(focal, width / 2), torch.full_like(focal, height / 2)
    return Cameras(c2w, focal, focal.clone(), centre_x, centre_y, width, height)


def keyframe_path(keyframes: list[Keyframe], num_frames: int, width: int, height: int, closed: bool = False) -> Cameras:
    """A smooth path through the keyframes in order (Catmull-Rom positions, slerped rotations; the
    focal length of the first keyframe), ``num_frames`` frames; ``closed`` returns to the first."""
    if len(keyframes) < 2:
        raise NerfplexError(
            f"a camera path needs at least 2 keyframes; {len(keyframes)} placed. Move the "
            f"camera and press 'Add keyframe' again."
        )
    cameras = keyframe_cameras(keyframes, width, height)
    return interpolation_path(cameras, num_frames, list(range(len(keyframes))), closed=closed)


def save_keyframe_path(
    keyframes: list[Keyframe],
    folder: Path,
    name: str,
    num_frames: int,
    fps: float,
    width: int,
    height: int,
    closed: bool = False,
) -> Path:
    """Write the path as ``folder/NAME.json`` (a new file: ``NAME-1.json`` ... when taken) and return it."""
    if not name or any(part in name for part in ("/", "\\", "..")):
        raise NerfplexError(f"camera path name {name!r} must be a plain file name (no folders).")
    if num_frames < 2 or not fps > 0:
        raise NerfplexError("a camera path needs at least 2 frames and a positive frame rate.")
    data = path_to_json(keyframe_path(keyframes, num_frames, width, height, closed), fps=fps)
    folder.mkdir(parents=True, exist_ok=True)
    stem = name[:-5] if name.endswith(".json") else name
    path, n = folder / f"{stem}.json", 1
    while path.exists():  # never overwrite a file
        path, n = folder / f"{stem}-{n}.json", n + 1
    write_text_atomic(path, json.dumps(data, indent=1))
    return path


def render_command(run_dir: Path, path_file: Path) -> str:
    """The command that renders a saved path into a video."""
    return (
        f"nerfplex render --load-config {shlex.quote(str(run_dir))} --path json "
        f"--path-file {shlex.quote(str(path_file))}"
    )
