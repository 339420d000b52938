"""Write a reconstructed capture as one scene folder that both the ``colmap`` and the ``blender``
(instant-ngp) readers load the same way::

    scene/
      images/            the registered images (names as in the model)
      images_2/ images_4/ images_8/   area-averaged copies (exact box filter; bottom / right remainder cropped)
      sparse/0/          the binary COLMAP model (cameras.bin, images.bin, points3D.bin, rigs.bin, frames.bin)
      transforms.json    instant-ngp / nerfstudio layout: OpenCV intrinsics and distortion (camera_model
                         "OPENCV": fl_x fl_y cx cy w h k1 k2 p1 p2 [k3]), per frame an OpenGL camera-to-world
                         in the frame ``data.kind colmap`` normalises to, each frame's sharpness, and a
                         ``nerfplex`` block with the same near / far / aabb
      process_data.json  what was done: inputs, options, registered / unregistered images, timings

The caller writes into a staging folder (:func:`nerfplex.io.staged_directory`), so the scene appears whole
or not at all.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nerfplex.captures.frames import sharpness
from nerfplex.data.colmap import scene_geometry
from nerfplex.data.colmap_model import read_model
from nerfplex.data.images import downscale, read_image
from nerfplex.errors import NerfplexError
from nerfplex.io import write_text_atomic

__all__ = ["write_scene", "DOWNSCALES", "REPORT_NAME"]

DOWNSCALES = (2, 4, 8)
REPORT_NAME = "process_data.json"
"""The report every process-data scene holds; its presence marks a folder nerfplex wrote."""


def write_scene(
    stage: Path,
    source_dir: Path,
    reconstruction,
    registered: Sequence[str],
    *,
    downscales: Sequence[int] = DOWNSCALES,
    move_images: bool = False,
    show_progress: bool = True,
) -> dict:
    """Fill ``stage`` (an empty staging folder) with the scene but its report; return the ``transforms.json``
    content (the caller writes :data:`REPORT_NAME` last, with the timings).

    Args:
        stage: the folder to fill.
        source_dir: where the images are (``registered`` names are relative to it).
        reconstruction: the pycolmap reconstruction of those images.
        registered: registered image names.
        downscales: which ``images_N/`` copies to write.
        move_images: move instead of copy (frames extracted from a video into the staging folder).
    """
    import imageio.v3 as iio
    from tqdm import tqdm

    images_dir = stage / "images"
    for name in registered:
        target = images_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if move_images:
            if (source_dir / name).resolve() != target.resolve():
                shutil.move(str(source_dir / name), target)
        else:
            shutil.copyfile(source_dir / name, target)  # new file: the user's umask, not the source's mode
    sharp: dict[str, float] = {}
    for name in tqdm(registered, desc="images_2/4/8", unit="img", disable=not show_progress, dynamic_ncols=True):
        image = read_image(images_dir / name)[..., :3]
        sharp[name] = sharpness(image)
        for factor in downscales:
            small = downscale(image, factor)
            target = stage / f"images_{factor}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            data = (np.clip(small, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
            if target.suffix.lower() in (".jpg", ".jpeg"):
                iio.imwrite(target, data, quality=95)
            else:
                iio.imwrite(target, data)

    sparse = stage / "sparse" / "0"
    sparse.mkdir(parents=True)
    reconstruction.write_binary(str(sparse))
    transforms = _transforms(sparse, sharp)
    write_text_atomic(stage / "transforms.json", json.dumps(transforms, indent=2) + "\n")
    return transforms


def _transforms(sparse: Path, sharp: dict[str, float]) -> dict:
    """``transforms.json`` of the model in ``sparse`` (read back with nerfplex's own reader)."""
    model = read_model(sparse)
    images = sorted(model.images.values(), key=lambda im: im.name)
    sizes = {(model.cameras[im.camera_id].width, model.cameras[im.camera_id].height) for im in images}
    if len(sizes) != 1:
        raise NerfplexError(f"the reconstruction has images of {len(sizes)} sizes; process-data needs one size.")
    width, height = sizes.pop()
    geometry = scene_geometry(model, images, width, height, sparse)
    shared = len({im.camera_id for im in images}) == 1

    def lens(intrinsics) -> dict:
        fx, fy, cx, cy, dist = intrinsics
        k1, k2, p1, p2, k3 = dist or (0.0,) * 5
        out = {"fl_x": fx, "fl_y": fy, "cx": cx, "cy": cy, "k1": k1, "k2": k2, "p1": p1, "p2": p2}
        if k3:
            out["k3"] = k3
        return out

    frames = []
    for i, im in enumerate(images):
        c2w = np.eye(4)
        c2w[:3] = geometry.c2w[i]
        c2w[:3, 1:3] *= -1.0  # OpenCV camera axes -> OpenGL (instant-ngp, nerfstudio)
        frame = {
            "file_path": f"images/{im.name}",
            "transform_matrix": c2w.tolist(),
            "sharpness": sharp.get(im.name, 1.0),
            "colmap_image_id": im.image_id,
        }
        if not shared:
            frame.update(lens(geometry.intrinsics[i]))
        frames.append(frame)
    out = {"camera_model": "OPENCV", "w": width, "h": height}
    if shared:
        out.update(lens(geometry.intrinsics[0]))
    out["frames"] = frames
    out["nerfplex"] = {"near": geometry.near, "far": geometry.far, "aabb": geometry.aabb.tolist()}
    out["world_from_colmap"] = geometry.transform.tolist()
    return out
