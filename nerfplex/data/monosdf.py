"""MonoSDF / sdfstudio ``meta_data.json`` datasets -> :class:`SceneData`.

This is the layout of the Replica (``scan1`` .. ``scan8`` = room0-2, office0-4) and Tanks and Temples
advanced (``tnt_advanced/scan1`` .. ``scan4``) archives that MonoSDF publishes, in the form sdfstudio
reads them and the S3IM authors trained on (their DVGO / TensoRF Replica loaders)::

    scan1/meta_data.json
    scan1/000000_rgb.png  000000_depth.npy  000000_normal.npy  [000000_mask.npy]  ...

``meta_data.json`` holds ``height``, ``width``, ``scene_box`` (``aabb`` ``[[x, y, z], [x, y, z]]``,
``near``, ``far``, ``radius``, ``collider_type``) and ``frames``; each frame has ``rgb_path`` (relative
to the folder), ``camtoworld`` (4x4, OpenCV camera axes, as nerfplex) and ``intrinsics`` (4x4 or 3x3
pixel matrix; its skew term is ignored). Optional per-frame ``sensor_depth_path`` (metric z-depth,
sdfstudio's RGB-D scenes), ``mono_depth_path`` / ``mono_normal_path`` (monocular cues) and top-level
``worldtogt`` (4x4 map to the ground-truth mesh's frame) are read too: see
:mod:`nerfplex.data.monosdf_arrays` for what the arrays mean (the MonoSDF ``*_depth.npy`` files are
*monocular* predictions, not metric depth).

Split: frames with ``index % test_every == 0`` are held out (the S3IM authors: every 10th).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from nerfplex.cameras import Cameras
from nerfplex.data.files import finite_positive, read_json_object, require_file
from nerfplex.data.image_stack import check_downscale, read_image_stack
from nerfplex.data.monosdf_arrays import present_cues, read_mono_cues, read_sensor_depth
from nerfplex.data.poses import rigid_pose
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.errors import NerfplexError

__all__ = ["load_monosdf", "META_FILE", "MONOSDF_TEST_EVERY"]

META_FILE = "meta_data.json"
MONOSDF_TEST_EVERY = 10
"""The S3IM authors' split of Replica: frames 0, 10, 20, ... are the test views."""
GT_MESH_NAMES = ("gt_mesh.ply", "gt_mesh.obj")


def load_monosdf(
    root: str | Path,
    *,
    downscale: int = 1,
    test_every: int = MONOSDF_TEST_EVERY,
    near: Optional[float] = None,
    far: Optional[float] = None,
    mono_priors: bool = False,
) -> SceneData:
    """Load a ``meta_data.json`` scene folder (or the file itself).

    Args:
        root: the scene folder, e.g. ``data/Replica/scan1``.
        downscale: integer factor; images (and depth, cues) are area-averaged, intrinsics divided by it.
        test_every: frames with ``index % test_every == 0`` form the test split (>= 2).
        near, far: override ``scene_box.near`` / ``far``.
        mono_priors: also read the monocular cues into each split's ``priors``.
    Returns:
        SceneData: opaque ``rgb [N, H, W, 3]``, per-frame intrinsics, ``depth`` from sensor depth when
        the frames name it (else None), ``aabb`` = ``scene_box.aabb``; ``extras`` holds ``layout``,
        ``radius`` and, when present, ``world_to_gt`` ``[4, 4]``.
    """
    factor = check_downscale(downscale)
    meta_path = _find_meta(Path(root))
    folder = meta_path.parent
    if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 2:
        raise NerfplexError(
            f"test_every must be an integer >= 2 (frames i % test_every == 0 of {meta_path} "
            f"are held out), got {test_every!r}."
        )
    meta = read_json_object(meta_path, "meta_data.json (MonoSDF / sdfstudio layout)")
    height, width = _size(meta, "height", meta_path), _size(meta, "width", meta_path)
    box = _scene_box(meta, meta_path)
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise NerfplexError(
            f"'frames' in {meta_path} must be a non-empty list of {{rgb_path, camtoworld, "
            f"intrinsics}} objects, got {_short(frames)}."
        )
    if len(frames) < 2:
        raise NerfplexError(f"{meta_path} has only 1 frame; at least 2 are needed (one to train on, one to test on).")
    parsed = [_parse_frame(frame, i, folder, meta_path) for i, frame in enumerate(frames)]
    test_ids = [i for i in range(len(parsed)) if i % test_every == 0]
    train_ids = [i for i in range(len(parsed)) if i % test_every != 0]
    if not train_ids:
        raise NerfplexError(f"test_every={test_every} leaves no training frame in {meta_path}.")
    cues = present_cues(folder, frames, [p["image"] for p in parsed], meta_path) if mono_priors else []
    if any("sensor_depth_path" in f for f in frames):
        missing = next(
            (p["where"] for p, f in zip(parsed, frames) if not isinstance(f.get("sensor_depth_path"), str)), None
        )
        if missing is not None:
            raise NerfplexError(
                f"{missing} has no 'sensor_depth_path' but other frames do; sensor depth "
                f"must be given for every frame or none."
            )
    warned: set[str] = set()
    splits = [
        _load_split(
            [parsed[i] for i in ids], [frames[i] for i in ids], folder, meta_path, height, width, factor, warned, cues
        )
        for ids in (train_ids, test_ids)
    ]
    near = box["near"] if near is None else float(near)
    far = box["far"] if far is None else float(far)
    if not (np.isfinite(near) and np.isfinite(far) and 0 <= near < far):
        raise NerfplexError(
            f"near ({near}) and far ({far}) of {meta_path} must satisfy 0 <= near < far; "
            f"fix scene_box or pass near= / far=."
        )
    extras: dict[str, Any] = {"layout": "monosdf", "radius": box["radius"]}
    if "worldtogt" in meta:
        extras["world_to_gt"] = _matrix(meta["worldtogt"], f"'worldtogt' of {meta_path}", (4, 4))
    gt_mesh = next((folder / n for n in GT_MESH_NAMES if (folder / n).is_file()), None)
    return SceneData(
        train=splits[0],
        test=splits[1],
        near=float(near),
        far=float(far),
        aabb=torch.tensor(box["aabb"], dtype=torch.float32),
        name=folder.name,
        gt_mesh_path=gt_mesh,
        extras=extras,
    )


# ----------------------------------------------------------------------------- layout and keys
def _find_meta(root: Path) -> Path:
    if root.is_file():
        if root.name != META_FILE:
            raise NerfplexError(
                f"{root} is a file; pass the scene folder that holds {META_FILE} (or that file itself)."
            )
        return root
    if not root.is_dir():
        resolved = "" if root.is_absolute() else f" (resolved to {root.absolute()})"
        raise NerfplexError(
            f"dataset folder {root} does not exist{resolved}; check the path or download "
            f"the scene there (docs/datasets.md)."
        )
    present = sorted(p.name for p in root.iterdir())[:8]
    hint = (
        f"this folder holds {present}: point data.path at one scene folder such as .../Replica/scan1"
        if present
        else "the folder is empty"
    )
    return require_file(
        root / META_FILE,
        "MonoSDF / sdfstudio scene description",
        f"{hint} (data.kind 'monosdf' reads Replica and tnt_advanced scenes).",
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _size(meta: dict, key: str, source: Path) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1 or not float(value).is_integer():
        raise NerfplexError(f"'{key}' in {source} must be a positive whole number of pixels, got {_short(value)}.")
    return int(value)


def _matrix(value: Any, what: str, shapes) -> np.ndarray:
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        m = None
    shapes = [shapes] if isinstance(shapes[0], int) else shapes
    if m is None or m.shape not in [tuple(s) for s in shapes]:
        expected = " or ".join("x".join(map(str, s)) for s in shapes)
        raise NerfplexError(f"{what} must be a {expected} matrix of numbers, got {_short(value)}.")
    if not np.isfinite(m).all():
        raise NerfplexError(f"{what} contains NaN or infinite values; fix or re-download the file.")
    return m


def _scene_box(meta: dict, source: Path) -> dict:
    box = meta.get("scene_box")
    if not isinstance(box, dict):
        raise NerfplexError(
            f"{source} has no 'scene_box' object; it needs scene_box.aabb "
            f"[[xmin, ymin, zmin], [xmax, ymax, zmax]], scene_box.near and scene_box.far."
        )
    aabb = _matrix(box.get("aabb"), f"'scene_box.aabb' of {source}", (2, 3))
    if (aabb[1] <= aabb[0]).any():
        raise NerfplexError(
            f"'scene_box.aabb' of {source} must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] "
            f"with min < max, got {aabb.tolist()}."
        )
    out = {"aabb": aabb}
    for key in ("near", "far"):
        value = box.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise NerfplexError(f"'scene_box.{key}' of {source} must be a finite number >= 0, got {_short(value)}.")
        out[key] = float(value)
    radius = box.get("radius", float(np.linalg.norm(aabb[1] - aabb[0]) / 2))
    out["radius"] = float(radius) if finite_positive(radius) else float(np.linalg.norm(aabb[1] - aabb[0]) / 2)
    return out


def _parse_frame(frame: Any, index: int, folder: Path, source: Path) -> dict:
    """``{image, c2w [4, 4], fx, fy, cx, cy, where}`` of one frame; errors name the frame and file."""
    if not isinstance(frame, dict):
        raise NerfplexError(f"frame {index} of {source} must be a JSON object, got {type(frame).__name__}.")
    for key in ("rgb_path", "camtoworld", "intrinsics"):
        if key not in frame:
            raise NerfplexError(
                f"frame {index} of {source} has no '{key}'; every frame needs 'rgb_path', "
                f"'camtoworld' and 'intrinsics'."
            )
    rgb_path = frame["rgb_path"]
    if not isinstance(rgb_path, str) or not rgb_path.strip():
        raise NerfplexError(
            f"'rgb_path' of frame {index} in {source} must be a non-empty string, got {_short(rgb_path)}."
        )
    where = f"frame {index} ('{rgb_path}') of {source}"
    c2w = rigid_pose(frame["camtoworld"], f"'camtoworld' of {where}")
    k = _matrix(frame["intrinsics"], f"'intrinsics' of {where}", [(4, 4), (3, 3)])
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    if fx <= 0 or fy <= 0:
        raise NerfplexError(
            f"'intrinsics' of {where} has focal lengths fx={fx:g}, fy={fy:g}; both must be positive (pixels)."
        )
    image = folder / rgb_path.replace("\\", "/")
    require_file(
        image, f"image of {where}:", "restore the image or fix 'rgb_path' (relative to meta_data.json's folder)."
    )
    return {"image": image, "c2w": c2w, "fx": fx, "fy": fy, "cx": cx, "cy": cy, "where": where}


def _load_split(
    parsed: list[dict],
    frames: list[dict],
    folder: Path,
    source: Path,
    height: int,
    width: int,
    factor: int,
    warned: set[str],
    cues: list[str],
) -> SceneSplit:
    paths = [p["image"] for p in parsed]
    stack = read_image_stack(paths, factor, warned, label=source.name, describe=lambda i: parsed[i]["where"])
    if (stack.width, stack.height) != (width, height):
        raise NerfplexError(
            f"image {paths[0]} is {stack.width}x{stack.height} but {source} says "
            f"width={width}, height={height}; fix 'width' / 'height' (and the intrinsics) "
            f"or use the images the file describes."
        )
    as_tensor = lambda key: torch.tensor([p[key] for p in parsed], dtype=torch.float64)  # noqa: E731
    fx, fy, cx, cy = (as_tensor(k) for k in ("fx", "fy", "cx", "cy"))
    c2w = torch.from_numpy(np.stack([p["c2w"][:3, :4] for p in parsed]))
    cameras = Cameras(
        c2w.float(),
        (fx / factor).float(),
        (fy / factor).float(),
        (cx / factor).float(),
        (cy / factor).float(),
        width // factor,
        height // factor,
    )
    depth = None
    if "sensor_depth_path" in frames[0]:
        depth = read_sensor_depth(
            [folder / f["sensor_depth_path"] for f in frames], fx, fy, cx, cy, height, width, factor
        )
    priors = read_mono_cues(folder, frames, paths, c2w, cues, height, width, factor) if cues else {}
    names = [p.stem[: -len("_rgb")] if p.stem.endswith("_rgb") else p.stem for p in paths]
    return SceneSplit(stack.rgb, stack.alpha, cameras, names, depth, priors)
