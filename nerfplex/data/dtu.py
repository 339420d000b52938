"""DTU in the IDR / NeuS format -> :class:`SceneData` (NeuS and the DTU Chamfer protocol).

Layout (NeuS's ``data_DTU`` / IDR's ``DTU`` archives, one folder per scan)::

    dtu_scan24/cameras_sphere.npz     (IDR: cameras.npz) world_mat_i, scale_mat_i for every image i
    dtu_scan24/image/000.png ...      1600x1200 photographs
    dtu_scan24/mask/000.png ...       object masks (white = object), same names / sizes

``world_mat_i`` is the projection ``K [R | t]`` of image ``i`` (sorted file order) in DTU's world
(millimetres); ``scale_mat_i`` maps the unit sphere that holds the object into that world. Like NeuS,
nerfplex works in the normalised frame: each camera is ``world_mat_i @ scale_mat_i`` decomposed
(:mod:`nerfplex.data.projection`; the intrinsics' skew term is ignored). ``extras["scale_mat"]``
(``scale_mat_0``) maps meshes back to millimetres for
:func:`nerfplex.geometry.geometry_protocols.evaluate_dtu`, and ``extras["dtu_scan"]`` is the scan number
read from the folder name (``scan24`` / ``dtu_scan24``).

With ``masks=True`` the masks become the images' alpha (the colour is premultiplied: NeuS's
"wmask" setting); ``masks=False`` keeps the whole photographs ("womask"). Views with
``index % test_every == 0`` form the test split (IDR and NeuS train on every view: see
``data.train_on_test_views``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from nerfplex.cameras import Cameras
from nerfplex.data.files import read_npz
from nerfplex.data.image_stack import check_downscale, read_image_stack, read_mask_stack
from nerfplex.data.poses import rigid_pose
from nerfplex.data.projection import decompose_projection
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.data.transforms_frames import IMAGE_EXTENSIONS
from nerfplex.errors import NerfplexError

__all__ = ["load_dtu", "CAMERA_FILES", "DTU_TEST_EVERY"]

CAMERA_FILES = ("cameras_sphere.npz", "cameras.npz")
"""NeuS's name first, then IDR's."""
DTU_TEST_EVERY = 8
DTU_AABB = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))
"""The box around the unit sphere that ``scale_mat`` fits the object into (NeuS meshes [-1.01, 1.01]³)."""


def load_dtu(
    root: str | Path,
    *,
    downscale: int = 1,
    test_every: int = DTU_TEST_EVERY,
    masks: bool = True,
    near: Optional[float] = None,
    far: Optional[float] = None,
) -> SceneData:
    """Load one IDR / NeuS DTU scan folder.

    Returns:
        SceneData in the normalised (unit-sphere) frame: ``rgb [N, H, W, 3]`` (premultiplied by the
        mask ``alpha`` with ``masks=True``), OpenCV cameras, ``aabb`` = [-1, 1]³, near / far that hold
        the unit sphere from every camera (``min |c| - 1``, ``max |c| + 1``) unless given.
    """
    factor = check_downscale(downscale)
    root = Path(root)
    if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 2:
        raise NerfplexError(
            f"test_every must be an integer >= 2 (views i % test_every == 0 of {root} are "
            f"held out), got {test_every!r}."
        )
    if not root.is_dir():
        raise NerfplexError(
            f"dataset folder {root} does not exist or is not a folder; point data.path at "
            f"one DTU scan folder (e.g. .../data_DTU/dtu_scan24 with image/, mask/ and "
            f"cameras_sphere.npz)."
        )
    camera_file = next((root / n for n in CAMERA_FILES if (root / n).is_file()), None)
    if camera_file is None:
        raise NerfplexError(
            f"no cameras file in {root}: looked for {' and '.join(CAMERA_FILES)} (IDR / NeuS "
            f"DTU layout, with world_mat_i and scale_mat_i per image)."
        )
    images = _listed(root / "image", "image")
    if len(images) < 2:
        raise NerfplexError(f"{root / 'image'} holds {len(images)} image; at least 2 are needed.")
    mask_files: list[Path] = []
    if masks:
        if not (root / "mask").is_dir():
            raise NerfplexError(
                f"{root / 'mask'} not found; data.masks is true (NeuS 'wmask'), which needs "
                f"one mask per image. Set data.masks to false to train on the whole images."
            )
        mask_files = _listed(root / "mask", "mask")
        if len(mask_files) != len(images):
            raise NerfplexError(
                f"{root / 'image'} holds {len(images)} images but {root / 'mask'} holds "
                f"{len(mask_files)} masks; every image needs its mask (same order)."
            )
    cameras_npz = read_npz(camera_file, "DTU cameras file")
    intrinsics, c2w = [], []
    for i in range(len(images)):
        for key in (f"world_mat_{i}", f"scale_mat_{i}"):
            if key not in cameras_npz:
                raise NerfplexError(
                    f"{camera_file} has no '{key}' for image {i} ({images[i].name}); it "
                    f"holds {_count(cameras_npz)} cameras for {len(images)} images. Every "
                    f"image needs world_mat_i and scale_mat_i (images in sorted name order)."
                )
        world = _square(cameras_npz[f"world_mat_{i}"], f"'world_mat_{i}' of {camera_file}")
        scale = _square(cameras_npz[f"scale_mat_{i}"], f"'scale_mat_{i}' of {camera_file}")
        K, pose = decompose_projection((world @ scale)[:3, :4], f"'world_mat_{i}' @ 'scale_mat_{i}' of {camera_file}")
        intrinsics.append(K)
        c2w.append(rigid_pose(pose, f"the camera decomposed from 'world_mat_{i}' of {camera_file}")[:3, :4])
    test_ids = [i for i in range(len(images)) if i % test_every == 0]
    train_ids = [i for i in range(len(images)) if i % test_every != 0]
    warned: set[str] = set()
    splits = [_split(ids, images, mask_files, intrinsics, c2w, factor, warned, root) for ids in (train_ids, test_ids)]
    dist = np.linalg.norm(np.stack(c2w)[:, :, 3], axis=1)
    near = float(max(dist.min() - 1.0, 0.05)) if near is None else float(near)
    far = float(dist.max() + 1.0) if far is None else float(far)
    if not (np.isfinite(near) and np.isfinite(far) and 0 <= near < far):
        raise NerfplexError(f"near ({near}) must be smaller than far ({far}) and both >= 0.")
    match = re.search(r"scan(\d+)", root.name)
    scale_mat = _square(cameras_npz["scale_mat_0"], f"'scale_mat_0' of {camera_file}")
    extras = {"layout": "dtu", "scale_mat": scale_mat, "camera_file": str(camera_file), "masks": masks}
    if match:
        extras["dtu_scan"] = int(match.group(1))
    return SceneData(
        train=splits[0],
        test=splits[1],
        near=near,
        far=far,
        aabb=torch.tensor(DTU_AABB, dtype=torch.float32),
        name=root.name,
        extras=extras,
        sphere_radius=1.0,
    )


def _listed(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise NerfplexError(
            f"{folder} not found; a DTU scan folder holds image/ (and mask/) next to cameras_sphere.npz."
        )
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )
    if not files:
        raise NerfplexError(f"no {what} files in {folder}; restore or re-download the scan.")
    return files


def _count(npz: dict) -> int:
    return sum(1 for k in npz if re.fullmatch(r"world_mat_\d+", k))


def _square(matrix: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4):
        raise NerfplexError(f"{what} has shape {list(np.shape(matrix))}; it must be 4x4 (or 3x4).")
    if not np.isfinite(m).all():
        raise NerfplexError(f"{what} contains NaN or infinite values; restore or re-download the cameras file.")
    return m


def _split(
    ids: list[int],
    images: list[Path],
    masks: list[Path],
    intrinsics: list[np.ndarray],
    c2w: list[np.ndarray],
    factor: int,
    warned: set[str],
    root: Path,
) -> SceneSplit:
    paths = [images[i] for i in ids]
    stack = read_image_stack(paths, factor, warned, label=root.name)
    alpha = stack.alpha
    rgb = stack.rgb
    if masks:
        alpha = read_mask_stack([masks[i] for i in ids], factor, stack.width, stack.height, images=paths)
        rgb = rgb * alpha  # premultiply (the photographs are opaque)
    K = np.stack([intrinsics[i] for i in ids])
    as_tensor = lambda a: torch.from_numpy(a / factor).float()  # noqa: E731
    cameras = Cameras(
        torch.from_numpy(np.stack([c2w[i] for i in ids])).float(),
        as_tensor(K[:, 0, 0]),
        as_tensor(K[:, 1, 1]),
        as_tensor(K[:, 0, 2]),
        as_tensor(K[:, 1, 2]),
        stack.width // factor,
        stack.height // factor,
    )
    return SceneSplit(rgb, alpha, cameras, [p.stem for p in paths])
