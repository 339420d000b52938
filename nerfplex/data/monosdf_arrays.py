"""Per-pixel ``.npy`` arrays of MonoSDF / sdfstudio datasets: sensor depth and monocular cues.

* Sensor depth (``sensor_depth_path``, sdfstudio's RGB-D datasets): metric *z-depth* ``[H, W]`` in the
  scene's units; converted here to distance along each pixel's unit ray (``z · |K⁻¹ (u, v, 1)|``),
  ``inf`` where it is not positive and finite. It becomes :attr:`SceneSplit.depth`.
* Monocular cues (MonoSDF's Omnidata predictions, ``NNNNNN_depth.npy`` / ``_normal.npy`` /
  ``_mask.npy`` next to ``NNNNNN_rgb.png``): depth ``[H, W]`` is *relative* (right only up to an
  unknown scale and shift: it is not metric and never becomes ``depth``), normals ``[3, H, W]`` in
  [0, 1] (``n · 2 - 1``, camera axes; rotated here into world axes), masks ``[H, W]`` (1 where the
  cues are trusted; MonoSDF uses them on Replica). They go to :attr:`SceneSplit.priors`.

All arrays are area-downscaled with the images (``inf`` depth stays ``inf`` where it touches a block).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nerfplex.data.files import read_npy
from nerfplex.data.image_stack import parallel_map
from nerfplex.data.images import downscale
from nerfplex.errors import NerfplexError

__all__ = ["read_sensor_depth", "present_cues", "read_mono_cues", "cue_paths", "MONO_SUFFIXES"]

MONO_SUFFIXES = {"mono_depth": "_depth.npy", "mono_normal": "_normal.npy", "mono_mask": "_mask.npy"}
"""MonoSDF's file names: ``000012_rgb.png`` -> ``000012_depth.npy``, ``000012_normal.npy``, ..."""
_JSON_KEYS = {"mono_depth": "mono_depth_path", "mono_normal": "mono_normal_path"}
"""sdfstudio's per-frame keys that name the cue files explicitly."""


def _plane(array: np.ndarray, path: Path, what: str, height: int, width: int) -> np.ndarray:
    """``[H, W]`` / ``[H, W, 1]`` / ``[1, H, W]`` -> float64 ``[H, W]``, or a size error naming ``path``."""
    a = np.asarray(array)
    if a.ndim == 3 and 1 in (a.shape[0], a.shape[-1]):
        a = a.reshape(a.shape[1:] if a.shape[0] == 1 else a.shape[:2])
    if a.shape != (height, width):
        raise NerfplexError(
            f"{what} {path} has shape {list(np.shape(array))}, expected [{height}, {width}] "
            f"(the image size in meta_data.json); re-export it at the image size."
        )
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise NerfplexError(f"{what} {path} holds {a.dtype} values, not numbers.")
    return a.astype(np.float64)


def read_sensor_depth(
    paths: Sequence[Path], fx: Tensor, fy: Tensor, cx: Tensor, cy: Tensor, height: int, width: int, factor: int
) -> Tensor:
    """Metric ray distances ``[N, H // f, W // f, 1]`` from z-depth files (full-size intrinsics ``[N]``)."""
    out = np.empty((len(paths), height // factor, width // factor, 1), dtype=np.float32)
    u = np.arange(width, dtype=np.float64) + 0.5
    v = np.arange(height, dtype=np.float64) + 0.5

    def load(i: int) -> None:
        z = _plane(read_npy(paths[i], "sensor depth"), paths[i], "sensor depth", height, width)
        x = (u[None, :] - float(cx[i])) / float(fx[i])
        y = (v[:, None] - float(cy[i])) / float(fy[i])
        distance = z * np.sqrt(x * x + y * y + 1.0)
        distance[~(np.isfinite(z) & (z > 0))] = np.inf
        out[i] = downscale(distance[..., None].astype(np.float32), factor)

    parallel_map(load, len(paths))
    return torch.from_numpy(out)


def cue_paths(root: Path, frames: list[dict], rgb_paths: Sequence[Path], kind: str) -> list[Path]:
    """Where each frame's cue ``kind`` (a key of :data:`MONO_SUFFIXES`) should be."""
    key, suffix = _JSON_KEYS.get(kind), MONO_SUFFIXES[kind]
    paths = []
    for frame, rgb in zip(frames, rgb_paths):
        named = frame.get(key) if key else None
        if isinstance(named, str) and named.strip():
            paths.append(root / named)
        else:
            stem = rgb.stem[: -len("_rgb")] if rgb.stem.endswith("_rgb") else rgb.stem
            paths.append(rgb.with_name(stem + suffix))
    return paths


def present_cues(root: Path, frames: list[dict], rgb_paths: Sequence[Path], source: Path) -> list[str]:
    """The cue kinds present for every frame (call it with *all* frames of the file).

    Raises:
        NerfplexError: a cue present for some frames only: names the first missing file and the counts.
    """
    kinds = []
    for kind in MONO_SUFFIXES:
        present = [p.is_file() for p in cue_paths(root, frames, rgb_paths, kind)]
        if not any(present):
            continue
        if not all(present):
            missing = present.index(False)
            path = cue_paths(root, frames[missing : missing + 1], rgb_paths[missing : missing + 1], kind)[0]
            raise NerfplexError(
                f"{sum(present)} of the {len(present)} frames in {source} have a {MONO_SUFFIXES[kind]} file, "
                f"but {path} (for {rgb_paths[missing].name}) is missing; the monocular cues must exist for "
                f"every frame or none. Restore it or re-download the scene."
            )
        kinds.append(kind)
    return kinds


def read_mono_cues(
    root: Path,
    frames: list[dict],
    rgb_paths: Sequence[Path],
    c2w: Tensor,
    kinds: Sequence[str],
    height: int,
    width: int,
    factor: int,
) -> dict[str, Tensor]:
    """The cues ``kinds`` (from :func:`present_cues`) of these frames: ``{"mono_depth": [N, h, w, 1],
    "mono_normal": [N, h, w, 3] (world axes, unit), "mono_mask": [N, h, w, 1]}``.

    Raises:
        NerfplexError: a file of the wrong shape or corrupt (named).
    """
    cues: dict[str, Tensor] = {}
    h, w = height // factor, width // factor
    for kind in kinds:
        paths = cue_paths(root, frames, rgb_paths, kind)
        channels = 3 if kind == "mono_normal" else 1
        out = np.empty((len(paths), h, w, channels), dtype=np.float32)

        def load(i: int, kind=kind, paths=paths, out=out) -> None:
            array = read_npy(paths[i], f"monocular {kind[5:]}")
            if kind == "mono_normal":
                out[i] = _world_normals(array, paths[i], c2w[i].double().numpy(), height, width, factor)
            else:
                plane = _plane(array, paths[i], f"monocular {kind[5:]}", height, width)
                out[i] = downscale(plane[..., None].astype(np.float32), factor)

        parallel_map(load, len(paths))
        cues[kind] = torch.from_numpy(out)
    return cues


def _world_normals(array: np.ndarray, path: Path, c2w: np.ndarray, height: int, width: int, factor: int) -> np.ndarray:
    """Omnidata normals ``[3, H, W]`` in [0, 1] (camera axes) -> unit world normals ``[h, w, 3]``."""
    a = np.asarray(array, dtype=np.float64)
    if a.shape == (height, width, 3):
        a = a.transpose(2, 0, 1)
    if a.shape != (3, height, width):
        raise NerfplexError(
            f"monocular normal {path} has shape {list(np.shape(array))}, expected "
            f"[3, {height}, {width}]; re-export it at the image size."
        )
    n = a.reshape(3, -1) * 2.0 - 1.0
    n = c2w[:3, :3] @ (n / np.maximum(np.linalg.norm(n, axis=0, keepdims=True), 1e-12))
    n = downscale(n.T.reshape(height, width, 3).astype(np.float32), factor)
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
