"""COLMAP scenes (``images/`` + ``sparse/0/``, the Mip-NeRF 360 / 3D Gaussian Splatting layout) -> SceneData.

Layout::

    scene/
      images/IMG_0001.JPG ...          the photographs (names as in the model; sub-folders allowed)
      images_2/ images_4/ images_8/    optional smaller copies, used for data.downscale 2 / 4 / 8 (intrinsics:
                                       exactly 1 / N when they are W // N x H // N, the box filter of nerfplex
                                       and process-data; else the actual size ratio, as for resized copies)
      sparse/0/cameras.bin images.bin points3D.bin   (or the .txt files; or sparse/ directly)

Cameras (:func:`camera_intrinsics`): SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV and FULL_OPENCV
(when its rational terms k4 k5 k6 are 0) become nerfplex pinholes with OpenCV radial-tangential
distortion ``(k1, k2, p1, p2, k3)``, undistorted at ray generation (:mod:`nerfplex.distortion`).
Fisheye and other models are refused with the command that undistorts the images.

Split: images sorted by name; every ``test_every``-th (from the first) is held out: the Mip-NeRF 360 and
3DGS convention (``llffhold = 8``).

Normalisation (:func:`normalising_transform`), a similarity ``x -> s R (x - c)`` applied to poses and
points and kept in ``scene.extras["world_from_colmap"]`` (``[4, 4]``):

* up: the mean of the cameras' up vectors (``-y`` of each camera, OpenCV axes) is turned to ``+z``;
* centre ``c``: the mean camera centre; scale ``s``: the farthest camera is at distance 1.

Bounds from the sparse points (:func:`bounds_from_points`), robust to stray points:

* ``near`` = 0.9 x the 0.1th percentile of the depths (camera z) of every observed point in the images
  that see it, ``far`` = the 99.9th percentile x the largest ray length per unit depth in the image
  (the corner's ``sqrt(1 + x^2 + y^2)``): LLFF's per-image percentiles and NeRF's 0.9 margin, pooled;
* ``aabb``: per axis the 1st and 99th percentile of the points (grow it with ``data.box_scale``).

Without ``points3D`` (or without observations) the box is the cube ``[-1, 1]^3`` that holds every camera
and near / far hold that box (:func:`nerfplex.data.transforms_bounds.near_far_around_box`), with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from nerfplex.cameras import Cameras
from nerfplex.data.colmap_model import ColmapCamera, ColmapModel, read_model
from nerfplex.data.image_stack import check_downscale, read_image_stack
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.data.transforms_bounds import near_far_around_box
from nerfplex.errors import NerfplexError

__all__ = [
    "load_colmap",
    "find_sparse_model",
    "camera_intrinsics",
    "normalising_transform",
    "bounds_from_points",
    "scene_geometry",
    "SceneGeometry",
    "COLMAP_TEST_EVERY",
    "UNDISTORT_HINT",
]

COLMAP_TEST_EVERY = 8
"""Held-out views: every 8th image in name order (Mip-NeRF 360, 3DGS)."""

UNDISTORT_HINT = (
    "undistort the images to a pinhole model first, e.g. `colmap image_undistorter --image_path "
    "images --input_path sparse/0 --output_path undistorted` or pycolmap.undistort_images(...), "
    "then point --data.path at the undistorted folder"
)

_SUPPORTED = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV")


def camera_intrinsics(
    camera: ColmapCamera, where: str = ""
) -> tuple[float, float, float, float, Optional[tuple[float, ...]]]:
    """``fx, fy, cx, cy`` (pixels) and ``(k1, k2, p1, p2, k3)`` (None when all 0) of a COLMAP camera.

    COLMAP's parameter orders: SIMPLE_PINHOLE ``f cx cy``; PINHOLE ``fx fy cx cy``; SIMPLE_RADIAL
    ``f cx cy k``; RADIAL ``f cx cy k1 k2``; OPENCV ``fx fy cx cy k1 k2 p1 p2``; FULL_OPENCV
    ``fx fy cx cy k1 k2 p1 p2 k3 k4 k5 k6`` (k4..k6: the rational model's denominator, supported only
    when 0). COLMAP's pixel coordinates put the centre of the top-left pixel at (0.5, 0.5), as nerfplex.
    """
    p = camera.params
    model = camera.model
    if model not in _SUPPORTED:
        raise NerfplexError(
            f"camera {camera.camera_id}{where} uses COLMAP's {model} model, which nerfplex does "
            f"not model (supported: {', '.join(_SUPPORTED)}). To train on these images, "
            f"{UNDISTORT_HINT}."
        )
    if model == "SIMPLE_PINHOLE":
        fx = fy = p[0]
        cx, cy, dist = p[1], p[2], (0.0,) * 5
    elif model == "PINHOLE":
        fx, fy, cx, cy, dist = p[0], p[1], p[2], p[3], (0.0,) * 5
    elif model == "SIMPLE_RADIAL":
        fx = fy = p[0]
        cx, cy, dist = p[1], p[2], (p[3], 0.0, 0.0, 0.0, 0.0)
    elif model == "RADIAL":
        fx = fy = p[0]
        cx, cy, dist = p[1], p[2], (p[3], p[4], 0.0, 0.0, 0.0)
    elif model == "OPENCV":
        fx, fy, cx, cy = p[:4]
        dist = (p[4], p[5], p[6], p[7], 0.0)
    else:  # FULL_OPENCV
        fx, fy, cx, cy = p[:4]
        if np.any(p[9:12] != 0):
            raise NerfplexError(
                f"camera {camera.camera_id}{where} is FULL_OPENCV with rational distortion "
                f"k4 k5 k6 = {p[9:12].tolist()}, which nerfplex does not model (it models "
                f"k1 k2 p1 p2 k3). To train on these images, {UNDISTORT_HINT}."
            )
        dist = (p[4], p[5], p[6], p[7], p[8])
    if not (fx > 0 and fy > 0):
        raise NerfplexError(
            f"camera {camera.camera_id}{where} has focal lengths {fx}, {fy}; they must be "
            f"positive. The model is corrupt."
        )
    dist_out = tuple(float(v) for v in dist) if any(v != 0 for v in dist) else None
    return float(fx), float(fy), float(cx), float(cy), dist_out


def find_sparse_model(root: Path) -> Path:
    """The model folder of a scene: ``sparse/0``, else ``sparse`` (when it holds the files), else ``root``."""
    for folder in (root / "sparse" / "0", root / "sparse", root):
        if any((folder / f"cameras.{ext}").is_file() for ext in ("bin", "txt")):
            return folder
    raise NerfplexError(
        f"no COLMAP sparse model under {root}: looked for sparse/0/cameras.bin (or .txt), "
        f"sparse/cameras.bin and cameras.bin. Run `nerfplex process-data --images "
        f"{root / 'images'} --out SCENE` to reconstruct one."
    )


def normalising_transform(c2w: np.ndarray) -> np.ndarray:
    """The similarity ``[4, 4]`` (``s R | -s R c``) that turns the mean camera up vector to ``+z``, moves
    the mean camera centre to the origin and scales the farthest camera to distance 1.

    Args:
        c2w: ``[N, 3, 4]`` camera-to-world, OpenCV axes (camera up is ``-y``).
    """
    up = -c2w[:, :, 1].mean(axis=0)
    norm = np.linalg.norm(up)
    up = up / norm if norm > 1e-8 else np.array([0.0, 0.0, 1.0])
    rotation = _rotation_between(up, np.array([0.0, 0.0, 1.0]))
    centres = c2w[:, :, 3]
    centre = centres.mean(axis=0)
    radius = np.linalg.norm(centres - centre, axis=1).max()
    scale = 1.0 / radius if radius > 1e-9 else 1.0
    transform = np.eye(4)
    transform[:3, :3] = scale * rotation
    transform[:3, 3] = -scale * rotation @ centre
    return transform


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``a`` to unit vector ``b`` (Rodrigues)."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-10:  # opposite: turn half a circle about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def bounds_from_points(points: np.ndarray, depths: np.ndarray, corner_factor: float) -> tuple[float, float, np.ndarray]:
    """``near, far, aabb [2, 3]`` from points ``[P, 3]`` and observed depths ``[M]`` (camera z).

    ``near = 0.9 * P0.1(depths)``, ``far = P99.9(depths) * corner_factor`` (ray length per unit depth at
    the image corner, so far is a distance along unit rays), ``aabb`` = per-axis P1 / P99 of ``points``.
    """
    near = 0.9 * float(np.percentile(depths, 0.1))
    far = float(np.percentile(depths, 99.9)) * corner_factor
    aabb = np.stack([np.percentile(points, 1.0, axis=0), np.percentile(points, 99.0, axis=0)])
    span = aabb[1] - aabb[0]
    aabb[0] -= np.where(span <= 0, 1e-3, 0.0)
    aabb[1] += np.where(span <= 0, 1e-3, 0.0)
    return near, far, aabb


def load_colmap(root: str | Path, *, downscale: int = 1, test_every: int = COLMAP_TEST_EVERY) -> SceneData:
    """Load a COLMAP scene folder (module docstring) into normalised, split :class:`SceneData`."""
    factor = check_downscale(downscale)
    root = Path(root)
    if not root.is_dir():
        raise NerfplexError(
            f"COLMAP scene folder {root} {'is not a folder' if root.exists() else 'does not exist'}"
            f"; pass the folder that holds images/ and sparse/0/."
        )
    if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 2:
        raise NerfplexError(f"test_every must be an integer >= 2, got {test_every!r}.")
    model_dir = find_sparse_model(root)
    model = read_model(model_dir)
    registered = [
        im
        for im in model.images.values()
        if np.isfinite(im.qvec).all() and np.isfinite(im.tvec).all() and np.linalg.norm(im.qvec) > 0
    ]
    if not registered:
        raise NerfplexError(
            f"the COLMAP model in {model_dir} has no registered image (images file lists "
            f"{len(model.images)}); the reconstruction failed. Re-run `nerfplex process-data` "
            f"with more overlapping, sharper photos (or --matcher exhaustive)."
        )
    registered.sort(key=lambda im: im.name)
    image_dir, from_small_copy = _image_folder(root, factor)
    present = [im for im in registered if (image_dir / im.name).is_file()]
    missing = len(registered) - len(present)
    if not present:
        listed = ", ".join(im.name for im in registered[:3])
        raise NerfplexError(
            f"none of the {len(registered)} images of the model in {model_dir} is in {image_dir} "
            f"(looked for {listed}, ...). Put the photographs there under the names the model "
            f"uses."
        )
    if missing:
        warnings.warn(
            f"{missing} of the {len(registered)} images of the COLMAP model in {model_dir} are not in "
            f"{image_dir}; training without them.",
            stacklevel=2,
        )
    if len(present) < 2:
        raise NerfplexError(
            f"only 1 image of the model in {model_dir} is in {image_dir}; at least 2 are needed "
            f"(one to train on, one to test on)."
        )
    sizes = {(model.cameras[im.camera_id].width, model.cameras[im.camera_id].height) for im in present}
    if len(sizes) > 1:
        counts = {
            s: sum((model.cameras[im.camera_id].width, model.cameras[im.camera_id].height) == s for im in present)
            for s in sizes
        }
        listing = ", ".join(f"{w}x{h}: {n} images" for (w, h), n in sorted(counts.items()))
        raise NerfplexError(
            f"the COLMAP model in {model_dir} has images of different sizes ({listing}); nerfplex "
            f"trains on one image size. Resize the photographs to one size and reconstruct them "
            f"again (`nerfplex process-data` uses one shared camera), or remove the odd ones."
        )

    width, height = sizes.pop()
    geometry = scene_geometry(model, present, width, height, model_dir)
    c2w_n, intrinsics = geometry.c2w, geometry.intrinsics

    order = list(range(len(present)))
    test_ids = [i for i in order if i % test_every == 0]
    train_ids = [i for i in order if i % test_every != 0]
    warned: set[str] = set()
    splits = []
    for ids in (train_ids, test_ids):
        splits.append(
            _split(ids, present, image_dir, c2w_n, intrinsics, width, height, factor, from_small_copy, warned)
        )
    return SceneData(
        train=splits[0],
        test=splits[1],
        near=geometry.near,
        far=geometry.far,
        aabb=torch.tensor(geometry.aabb, dtype=torch.float32),
        name=root.name,
        extras={
            "layout": "colmap",
            "world_from_colmap": geometry.transform,
            "colmap_model": str(model_dir),
            "images_missing": missing,
        },
    )


def _scale_of(transform: np.ndarray) -> float:
    return float(np.cbrt(np.linalg.det(transform[:3, :3])))


def _image_folder(root: Path, factor: int) -> tuple[Path, bool]:
    """``images_{factor}/`` when it exists (a pre-shrunk copy), else ``images/``."""
    if factor > 1 and (root / f"images_{factor}").is_dir():
        return root / f"images_{factor}", True
    folder = root / "images"
    if not folder.is_dir():
        raise NerfplexError(
            f"{root} has a COLMAP model but no images/ folder; put the photographs in "
            f"{folder} under the names the model uses."
        )
    if not any(p.is_file() for p in folder.rglob("*")):
        raise NerfplexError(f"{folder} is empty; put the photographs the COLMAP model was made from there.")
    return folder, False


def _camera_to_world(image) -> np.ndarray:
    w2c = image.world_to_camera()
    rot = w2c[:, :3].T
    return np.concatenate([rot, -rot @ w2c[:, 3:]], axis=1)


def _split(
    ids: list[int],
    present: list,
    image_dir: Path,
    c2w: np.ndarray,
    intrinsics: list,
    width: int,
    height: int,
    factor: int,
    from_small_copy: bool,
    warned: set[str],
) -> SceneSplit:
    paths = [image_dir / present[i].name for i in ids]
    stack = read_image_stack(
        paths,
        1 if from_small_copy else factor,
        warned,
        label=str(image_dir),
        describe=lambda k: f"image {present[ids[k]].name!r} of the COLMAP model",
    )
    if from_small_copy:  # a pre-shrunk folder
        out_w, out_h = stack.width, stack.height
        if (out_w, out_h) == (width // factor, height // factor):  # box filter of a cropped image (process-data)
            sx = sy = 1.0 / factor
        else:  # resized as a whole (e.g. Mip-NeRF 360's images_4): scale by the actual size ratio
            sx, sy = out_w / width, out_h / height
    else:
        if (stack.width, stack.height) != (width, height):
            raise NerfplexError(
                f"image {paths[0]} is {stack.width}x{stack.height} but its COLMAP camera is "
                f"{width}x{height}; the images must be the ones the model was made from (for a "
                f"smaller copy use an images_N/ folder and --data.downscale N)."
            )
        sx = sy = 1.0 / factor
        out_w, out_h = width // factor, height // factor
    values = np.array([intrinsics[i][:4] for i in ids], dtype=np.float64)  # [n, 4]
    dist = None
    if any(intrinsics[i][4] is not None for i in ids):
        dist = torch.tensor([intrinsics[i][4] or (0.0,) * 5 for i in ids], dtype=torch.float64).float()
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()  # noqa: E731
    cameras = Cameras(
        as_tensor(c2w[ids]),
        as_tensor(values[:, 0] * sx),
        as_tensor(values[:, 1] * sy),
        as_tensor(values[:, 2] * sx),
        as_tensor(values[:, 3] * sy),
        out_w,
        out_h,
        dist,
    )
    names = [str(Path(present[i].name).with_suffix("")) for i in ids]
    return SceneSplit(rgb=stack.rgb, alpha=stack.alpha, cameras=cameras, names=names)


@dataclass
class SceneGeometry:
    """Normalised cameras and bounds of a COLMAP model's images (what :func:`load_colmap` and the
    ``transforms.json`` of ``nerfplex process-data`` share).

    Attributes:
        c2w: ``[N, 3, 4]`` camera-to-world in the normalised frame, OpenCV axes.
        intrinsics: per image ``(fx, fy, cx, cy, distortion or None)`` (:func:`camera_intrinsics`).
        transform: ``[4, 4]`` similarity from COLMAP's world to the normalised one.
        near, far, aabb: ray bounds and box ``[2, 3]`` in the normalised frame.
    """

    c2w: np.ndarray
    intrinsics: list
    transform: np.ndarray
    near: float
    far: float
    aabb: np.ndarray


def scene_geometry(model: ColmapModel, images: list, width: int, height: int, model_dir: Path) -> SceneGeometry:
    """Normalise ``images`` (registered :class:`ColmapImage` s of ``model``, all ``width x height``) and
    bound the scene (module docstring)."""
    c2w = np.stack([_camera_to_world(im) for im in images])  # [N, 3, 4]
    transform = normalising_transform(c2w)
    c2w_n = np.concatenate(
        [
            transform[:3, :3] @ c2w[:, :, :3] / _scale_of(transform),
            (transform[:3, :3] @ c2w[:, :, 3:] + transform[:3, 3:]),
        ],
        axis=2,
    )
    intrinsics = [camera_intrinsics(model.cameras[im.camera_id], f" of {model_dir}") for im in images]
    near, far, aabb = _scene_bounds(model, images, c2w, transform, intrinsics, width, height, model_dir)
    return SceneGeometry(c2w_n, intrinsics, transform, near, far, aabb)


def _scene_bounds(
    model: ColmapModel,
    present: list,
    c2w: np.ndarray,
    transform: np.ndarray,
    intrinsics: list,
    width: int,
    height: int,
    model_dir: Path,
) -> tuple[float, float, np.ndarray]:
    scale = _scale_of(transform)
    depths = _observed_depths(model, present)
    if depths.size == 0 or len(model.points) == 0:
        reason = (
            "has no points3D file"
            if not model.has_points_file
            else "has no 3D points"
            if len(model.points) == 0
            else "links no image point to a 3D point"
        )
        warnings.warn(
            f"the COLMAP model in {model_dir} {reason}, so near / far and the scene box cannot come "
            f"from the points; using the cube [-1, 1]^3 that holds the cameras. Set --data.near / "
            f"--data.far / --data.box-scale if the scene reaches beyond it.",
            stacklevel=4,
        )
        aabb = np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
        origins = (transform[:3, :3] @ c2w[:, :, 3].T).T + transform[:3, 3]
        near, far = near_far_around_box(aabb, origins)
        return near, far, aabb
    # Largest ray length per unit depth: at the image corner farthest from the principal point.
    corner = 1.0
    for fx, fy, cx, cy, _ in intrinsics:
        x = max(cx, width - cx) / fx
        y = max(cy, height - cy) / fy
        corner = max(corner, float(np.sqrt(1.0 + x * x + y * y)))
    points = (transform[:3, :3] @ model.points.T).T + transform[:3, 3]
    near, far, aabb = bounds_from_points(points, depths * scale, corner)
    return near, far, aabb


def _observed_depths(model: ColmapModel, present: list) -> np.ndarray:
    """Camera-z depths (COLMAP units) of every (image, observed 3D point) pair, ``[M]``; only ``z > 0``."""
    if len(model.point_ids) == 0:
        return np.zeros(0)
    order = np.argsort(model.point_ids)
    sorted_ids = model.point_ids[order]
    out = []
    for image in present:
        ids = image.point3d_ids[image.point3d_ids >= 0]
        if ids.size == 0:
            continue
        pos = np.searchsorted(sorted_ids, ids)
        pos = np.clip(pos, 0, len(sorted_ids) - 1)
        found = sorted_ids[pos] == ids
        xyz = model.points[order[pos[found]]]
        w2c = image.world_to_camera()
        z = xyz @ w2c[2, :3] + w2c[2, 3]
        out.append(z[z > 0])
    return np.concatenate(out) if out else np.zeros(0)
