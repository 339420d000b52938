"""NSVF-layout datasets (Tanks and Temples as DVGO and TensoRF read it, NSVF's synthetic sets) ->
:class:`SceneData`.

Layout (``https://dl.fbaipublicfiles.com/nsvf/dataset/TanksAndTemple.zip``, one folder per scene)::

    Truck/intrinsics.txt        4x4 (or 3x3) pixel matrix, or NSVF's "f cx cy [0]" first line
    Truck/bbox.txt              xmin ymin zmin xmax ymax zmax [voxel size]
    Truck/rgb/0_0000.png ...    0_ = train, 1_ = validation, 2_ = test
    Truck/pose/0_0000.txt ...   4x4 camera-to-world, OpenCV camera axes (same stems as rgb/)

The held-out split is ``2_*`` (``test_split="test"``; the ``1_*`` views when a scene has no ``2_``
files, as TensoRF does: Tanks and Temples ships only ``0_`` and ``1_``) or ``1_*``
(``test_split="val"``). The intrinsics are in pixels of the images in ``rgb/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from nerfplex.cameras import Cameras
from nerfplex.data.files import read_text_numbers, require_file
from nerfplex.data.image_stack import check_downscale, read_image_stack
from nerfplex.data.poses import rigid_pose
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.data.transforms_bounds import near_far_around_box
from nerfplex.data.transforms_frames import IMAGE_EXTENSIONS
from nerfplex.errors import NerfplexError

__all__ = ["load_nsvf", "read_nsvf_intrinsics", "read_nsvf_bbox"]


def load_nsvf(
    root: str | Path,
    *,
    downscale: int = 1,
    test_split: str = "test",
    near: Optional[float] = None,
    far: Optional[float] = None,
) -> SceneData:
    """Load one NSVF-layout scene folder.

    Returns:
        SceneData: ``rgb [N, H, W, 3]`` (premultiplied by ``alpha`` when the PNGs have one), OpenCV
        cameras sharing the intrinsics, ``aabb`` from ``bbox.txt``, near / far that hold the box
        (:func:`nerfplex.data.transforms_bounds.near_far_around_box`) unless given; ``extras`` holds
        ``layout``, ``test_prefix`` (``"1_"`` or ``"2_"``) and ``voxel_size`` when bbox.txt has it.
    """
    factor = check_downscale(downscale)
    root = Path(root)
    if test_split not in ("test", "val"):
        raise NerfplexError(f"test_split must be 'test' or 'val', got {test_split!r}.")
    if not root.is_dir():
        raise NerfplexError(
            f"dataset folder {root} does not exist or is not a folder; point data.path at "
            f"one NSVF-layout scene (e.g. .../TanksAndTemple/Truck, holding rgb/, pose/, "
            f"intrinsics.txt and bbox.txt)."
        )
    for sub in ("rgb", "pose"):
        if not (root / sub).is_dir():
            raise NerfplexError(
                f"{root / sub} not found; an NSVF-layout scene holds rgb/ (images "
                f"0_*.png, 1_*.png, 2_*.png), pose/ (same stems, .txt), intrinsics.txt and "
                f"bbox.txt."
            )
    images = _by_stem(root / "rgb", IMAGE_EXTENSIONS, "image")
    poses = _by_stem(root / "pose", (".txt",), "pose file")
    _check_pairs(images, poses, root)
    test_prefix = "1_" if test_split == "val" else "2_"
    if test_prefix == "2_" and not any(s.startswith("2_") for s in images):
        test_prefix = "1_"
    train_stems = sorted(s for s in images if s.startswith("0_"))
    test_stems = sorted(s for s in images if s.startswith(test_prefix))
    for stems, prefix, label in ((train_stems, "0_", "training"), (test_stems, test_prefix, "held-out")):
        if not stems:
            raise NerfplexError(
                f"no {label} images ({prefix}*) in {root / 'rgb'}; NSVF names train / val / "
                f"test images 0_*, 1_*, 2_*. Check the scene folder."
            )
    fx, fy, cx, cy = read_nsvf_intrinsics(
        require_file(
            root / "intrinsics.txt",
            "camera intrinsics",
            "an NSVF-layout scene needs intrinsics.txt (a 4x4 pixel matrix, or 'f cx cy' on its first line).",
        )
    )
    aabb, voxel = read_nsvf_bbox(
        require_file(
            root / "bbox.txt",
            "scene box",
            "an NSVF-layout scene needs bbox.txt: 'xmin ymin zmin xmax ymax zmax [voxel size]'.",
        )
    )
    warned: set[str] = set()
    splits = [
        _split(stems, images, poses, (fx, fy, cx, cy), factor, warned, root) for stems in (train_stems, test_stems)
    ]
    origins = torch.cat([s.cameras.c2w[:, :, 3] for s in splits]).double().numpy()
    default_near, default_far = near_far_around_box(aabb, origins)
    near = default_near if near is None else float(near)
    far = default_far if far is None else float(far)
    if not (np.isfinite(near) and np.isfinite(far) and 0 <= near < far):
        raise NerfplexError(f"near ({near}) must be smaller than far ({far}) and both >= 0.")
    extras = {"layout": "nsvf", "test_prefix": test_prefix}
    if voxel is not None:
        extras["voxel_size"] = voxel
    return SceneData(
        train=splits[0],
        test=splits[1],
        near=near,
        far=far,
        aabb=torch.tensor(aabb, dtype=torch.float32),
        name=root.name,
        extras=extras,
    )


def read_nsvf_intrinsics(path: Path) -> tuple[float, float, float, float]:
    """``fx, fy, cx, cy`` (pixels) from ``intrinsics.txt``: a 4x4 / 3x3 matrix (Tanks and Temples), or
    ``f cx cy [...]`` on the first line (NSVF's synthetic sets, DeepVoxels' files)."""
    rows = read_text_numbers(path, "intrinsics file")
    widths = {len(r) for r in rows}
    if len(rows) in (3, 4) and widths == {len(rows)}:
        fx, fy, cx, cy = rows[0][0], rows[1][1], rows[0][2], rows[1][2]
    elif len(rows[0]) >= 3:
        fx = fy = rows[0][0]
        cx, cy = rows[0][1], rows[0][2]
    else:
        raise NerfplexError(
            f"intrinsics file {path} is neither a 3x3 / 4x4 matrix nor 'f cx cy' on its "
            f"first line (got rows of {sorted(widths)} numbers)."
        )
    if fx <= 0 or fy <= 0:
        raise NerfplexError(
            f"intrinsics file {path} gives focal lengths fx={fx:g}, fy={fy:g}; both must be positive (pixels)."
        )
    return fx, fy, cx, cy


def read_nsvf_bbox(path: Path) -> tuple[np.ndarray, Optional[float]]:
    """``aabb [2, 3]`` and the optional voxel size from ``bbox.txt``."""
    values = [v for row in read_text_numbers(path, "scene box file") for v in row]
    if len(values) < 6:
        raise NerfplexError(
            f"scene box file {path} has {len(values)} numbers; it needs 'xmin ymin zmin "
            f"xmax ymax zmax' (and optionally the voxel size)."
        )
    aabb = np.asarray(values[:6], dtype=np.float64).reshape(2, 3)
    if (aabb[1] <= aabb[0]).any():
        raise NerfplexError(
            f"scene box file {path} gives min {aabb[0].tolist()} and max {aabb[1].tolist()}; "
            f"every min must be below its max (order: xmin ymin zmin xmax ymax zmax)."
        )
    return aabb, (values[6] if len(values) > 6 else None)


def _by_stem(folder: Path, extensions, what: str) -> dict[str, Path]:
    """``{stem: path}`` of the files in ``folder`` with one of ``extensions`` (case-insensitive)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in extensions and not path.name.startswith("."):
            if path.stem in found:
                raise NerfplexError(f"{found[path.stem]} and {path} have the same name stem; keep one {what} per view.")
            found[path.stem] = path
    if not found:
        raise NerfplexError(
            f"no {what}s ({', '.join(extensions)}) in {folder}; check the scene folder or re-download it."
        )
    return found


def _check_pairs(images: dict[str, Path], poses: dict[str, Path], root: Path) -> None:
    lone_images = sorted(set(images) - set(poses))
    lone_poses = sorted(set(poses) - set(images))
    if lone_images or lone_poses:
        first = (
            f"{images[lone_images[0]]} has no pose file pose/{lone_images[0]}.txt"
            if lone_images
            else f"{poses[lone_poses[0]]} has no image rgb/{lone_poses[0]}.png"
        )
        raise NerfplexError(
            f"{root}: rgb/ holds {len(images)} images but pose/ holds {len(poses)} pose "
            f"files ({len(lone_images)} images without a pose, {len(lone_poses)} poses "
            f"without an image); {first}. Every view needs both, with the same name stem."
        )


def _split(
    stems: list[str],
    images: dict[str, Path],
    poses: dict[str, Path],
    intrinsics,
    factor: int,
    warned: set[str],
    root: Path,
) -> SceneSplit:
    paths = [images[s] for s in stems]
    stack = read_image_stack(paths, factor, warned, label=root.name, describe=lambda i: f"pose {poses[stems[i]].name}")
    fx, fy, cx, cy = intrinsics
    if not (0 <= cx <= stack.width and 0 <= cy <= stack.height):
        raise NerfplexError(
            f"the principal point (cx={cx:g}, cy={cy:g}) of {root / 'intrinsics.txt'} lies "
            f"outside the {stack.width}x{stack.height} images of {root / 'rgb'}; the "
            f"intrinsics must be in pixels of these images (rescale them, or restore the "
            f"full-size images)."
        )
    c2w = np.stack(
        [
            rigid_pose(
                read_text_numbers(poses[s], "pose file"),
                f"pose file {poses[s]}",
                remedy="restore or re-download the file",
            )[:3, :4]
            for s in stems
        ]
    )
    n = len(stems)
    full = lambda v: torch.full((n,), v / factor, dtype=torch.float32)  # noqa: E731
    cameras = Cameras(
        torch.from_numpy(c2w).float(),
        full(fx),
        full(fy),
        full(cx),
        full(cy),
        stack.width // factor,
        stack.height // factor,
    )
    return SceneSplit(stack.rgb, stack.alpha, cameras, stems)
