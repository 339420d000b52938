"""Write a :class:`SceneData` as a Blender / NeRF-synthetic dataset folder.

Layout written (readable by :func:`nerfplex.data.blender.load_blender` and other NeRF tools)::

    out_dir/transforms_train.json   transforms_test.json
    out_dir/train/r_0.png ...       test/r_0.png ...

Images are 8-bit PNGs: RGBA with straight (un-premultiplied) colour when the split has alpha, RGB
otherwise. Poses are converted back to Blender/OpenGL camera axes. Each file also carries a
``"nerfplex": {"near", "far", "aabb", "name"}`` block that ``load_blender`` uses for the scene bounds
(other tools ignore unknown keys).
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras
from nerfplex.data.images import write_png
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.data.transforms_frames import DISTORTION_KEYS
from nerfplex.errors import NerfplexError
from nerfplex.io import check_output_folder, os_error_message, staged_output, write_text_atomic

__all__ = ["write_blender_files", "write_blender_scene"]

_FOV_KEYS = ("camera_angle_x", "fl_x")


def write_blender_scene(
    scene: SceneData, out_dir: str | Path, *, fov_key: str = "camera_angle_x", overwrite: bool = False
) -> Path:
    """Write ``scene`` to ``out_dir`` in the Blender layout; returns ``out_dir``.

    Args:
        scene: the dataset; its ``gt_mesh_path`` is not copied (the caller handles meshes).
        out_dir: destination folder. Everything is written into a staging folder that is renamed into
            place at the end (:func:`nerfplex.io.staged_output`), so a failure leaves nothing half-written.
        fov_key: ``"camera_angle_x"`` writes the horizontal field of view when a split's cameras share
            intrinsics with ``fx == fy`` and a centred principal point, and explicit
            ``fl_x, fl_y, cx, cy, w, h`` otherwise; ``"fl_x"`` always writes the explicit keys.
            Intrinsics shared by a split go at the top level of its file, differing ones per frame.
        overwrite: replace an existing non-empty ``out_dir`` that nerfplex wrote (otherwise, and always
            for a folder nerfplex did not write, that is an error).
    """
    if fov_key not in _FOV_KEYS:
        raise NerfplexError(f"fov_key must be one of {_FOV_KEYS}, got {fov_key!r}.")
    out_dir = Path(out_dir)
    check_output_folder(out_dir, overwrite, flag="--out")
    try:
        with staged_output(out_dir, "dataset", overwrite, flag="--out") as staging:
            write_blender_files(scene, staging, fov_key=fov_key)
    except OSError as exc:
        raise NerfplexError(f"could not write the dataset to {out_dir}: {os_error_message(exc, out_dir)}") from None
    return out_dir


def write_blender_files(scene: SceneData, folder: Path, *, fov_key: str = "camera_angle_x") -> None:
    """Write ``scene``'s files into the existing (staging) ``folder``; see :func:`write_blender_scene`."""
    for split_name, split in (("train", scene.train), ("test", scene.test)):
        if len(split) == 0:
            raise NerfplexError(
                f"the {split_name} split of scene '{scene.name}' has no images; the Blender "
                f"layout needs at least one image per split."
            )
    extra = {
        "name": scene.name,
        "near": float(scene.near),
        "far": float(scene.far),
        "aabb": torch.as_tensor(scene.aabb, dtype=torch.float64).reshape(2, 3).tolist(),
    }
    for split_name, split in (("train", scene.train), ("test", scene.test)):
        _write_split(split, split_name, Path(folder), fov_key, extra)


def _write_split(split: SceneSplit, name: str, root: Path, fov_key: str, extra: dict) -> None:
    cams = split.cameras
    meta: dict = {}
    per_frame = _intrinsics(cams, fov_key)
    if all(entry == per_frame[0] for entry in per_frame):
        meta.update(per_frame[0])
        per_frame = [{} for _ in per_frame]
    meta["nerfplex"] = extra

    c2w = cams.c2w.detach().cpu().double()
    rot_gl = c2w[:, :, :3] @ OPENGL_TO_OPENCV.double()  # the flip is its own inverse
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64).expand(len(cams), 1, 4)
    c2w_gl = torch.cat([torch.cat([rot_gl, c2w[:, :, 3:]], dim=-1), bottom], dim=1)
    meta["frames"] = [
        {"file_path": f"./{name}/r_{i}", "transform_matrix": c2w_gl[i].tolist(), **per_frame[i]}
        for i in range(len(cams))
    ]

    (root / name).mkdir()
    rgb = split.rgb.detach().cpu()
    alpha = None if split.alpha is None else split.alpha.detach().cpu()

    def write(i: int) -> None:
        image = rgb[i].numpy()
        if alpha is not None:
            a = alpha[i].numpy()
            straight = np.divide(image, a, out=np.zeros_like(image), where=a > 0)
            image = np.concatenate([straight, a], axis=-1)
        write_png(root / name / f"r_{i}.png", image)

    with ThreadPoolExecutor(max_workers=min(8, len(cams))) as pool:
        list(pool.map(write, range(len(cams))))
    write_text_atomic(root / f"transforms_{name}.json", json.dumps(meta, indent=2) + "\n")


def _intrinsics(cams: Cameras, fov_key: str) -> list[dict]:
    """The intrinsics keys of each camera, as they go into a transforms file."""
    fx, fy, cx, cy = (t.detach().cpu().double().tolist() for t in (cams.fx, cams.fy, cams.cx, cams.cy))
    width, height = cams.width, cams.height
    entries = []
    for i in range(len(cams)):
        centred = abs(cx[i] - width / 2) <= 1e-4 and abs(cy[i] - height / 2) <= 1e-4
        square = abs(fx[i] - fy[i]) <= 1e-7 * abs(fx[i])
        if fov_key == "camera_angle_x" and centred and square:
            entries.append({"camera_angle_x": 2.0 * math.atan(0.5 * width / fx[i])})
        else:
            entries.append({"fl_x": fx[i], "fl_y": fy[i], "cx": cx[i], "cy": cy[i], "w": width, "h": height})
        if cams.distortion is not None:  # instant-ngp's keys, read back by transforms_frames
            entries[-1].update(zip(DISTORTION_KEYS, cams.distortion[i].detach().cpu().double().tolist()))
    return entries
