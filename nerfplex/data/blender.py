"""Blender / NeRF-synthetic and instant-ngp ``transforms.json`` datasets -> :class:`SceneData`.

Two layouts are recognised in ``root`` (Blender wins when both are present):

* Blender / NeRF-synthetic: ``transforms_train.json`` + ``transforms_test.json`` (or
  ``transforms_val.json``, picked with ``test_split="val"``).
* instant-ngp: one ``transforms.json``; every ``test_every``-th frame (after sorting frames by
  ``file_path`` in natural order, as instant-ngp does) is held out, the rest train.

This module finds the layout, reads the JSON files and assembles the splits; the work is done by

* :mod:`nerfplex.data.transforms_frames`: frames, poses and intrinsics keys (the file format);
* :mod:`nerfplex.data.transforms_split`: images and OpenCV cameras of a split;
* :mod:`nerfplex.data.transforms_bounds`: near / far / aabb defaults.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nerfplex.data.files import read_json_object
from nerfplex.data.image_stack import check_downscale
from nerfplex.data.scene import SceneData
from nerfplex.data.transforms_bounds import BLENDER_AABB, BLENDER_FAR, BLENDER_NEAR, scene_bounds
from nerfplex.data.transforms_frames import parse_frames
from nerfplex.data.transforms_split import load_split
from nerfplex.errors import NerfplexError

TRANSFORMS = "transforms JSON file, an object with a 'frames' list"

__all__ = ["load_blender", "BLENDER_NEAR", "BLENDER_FAR", "BLENDER_AABB"]

_BLENDER_FILES = ("transforms_train.json", "transforms_test.json", "transforms_val.json")


def load_blender(
    root: str | Path,
    *,
    downscale: int = 1,
    test_split: str = "test",
    test_every: int = 8,
    near: float | None = None,
    far: float | None = None,
    max_train_images: int | None = None,
) -> SceneData:
    """Load a Blender/NeRF-synthetic or instant-ngp dataset.

    Args:
        root: the dataset folder (or the ``transforms*.json`` file itself).
        downscale: integer factor; images are area-averaged (premultiplied rgb and alpha) and
            intrinsics divided by it. Sizes not divisible by it lose their last rows/columns
            (bottom/right, with a warning), which keeps the cameras exact.
        test_split: Blender layout only: ``"test"`` or ``"val"``, the file held out for evaluation.
        test_every: instant-ngp layout only: frames with ``index % test_every == 0`` are held out.
        near, far: ray bounds; defaults are described in :mod:`nerfplex.data.transforms_bounds`.
        max_train_images: keep at most this many training frames, evenly spaced over the list.
    Returns:
        SceneData with ``rgb [N, H, W, 3]`` premultiplied by ``alpha [N, H, W, 1]`` (alpha is None
        when every image of the split is opaque), OpenCV cameras, near/far and ``aabb [2, 3]``.

    The NeRF-synthetic white background is not baked in: composite at use time with
    :meth:`SceneSplit.composite`, so no ``background`` argument is needed here.
    """
    factor = check_downscale(downscale)
    root = Path(root)
    layout, files, root = _find_layout(root, test_split)
    if max_train_images is not None and (
        isinstance(max_train_images, bool) or not isinstance(max_train_images, int) or max_train_images < 1
    ):
        raise NerfplexError(f"max_train_images must be a positive integer or None, got {max_train_images!r}.")

    warned: set[str] = set()
    if layout == "blender":
        train_meta = read_json_object(files["train"], TRANSFORMS)
        test_meta = read_json_object(files["test"], TRANSFORMS)
        train_frames = parse_frames(train_meta, files["train"], warned)
        test_frames = parse_frames(test_meta, files["test"], warned)
        main_meta = train_meta
    else:
        if isinstance(test_every, bool) or not isinstance(test_every, int) or test_every < 2:
            raise NerfplexError(
                f"test_every must be an integer >= 2 (every test_every-th frame of "
                f"{files['all'].name} is held out for testing), got {test_every!r}."
            )
        main_meta = read_json_object(files["all"], TRANSFORMS)
        frames = parse_frames(main_meta, files["all"], warned, drop_missing=True)
        frames.sort(key=lambda f: _natural_key(f.file_path))
        if len(frames) < 2:
            raise NerfplexError(
                f"{files['all']} has only {len(frames)} frame; at least 2 are needed (one to train on, one to test on)."
            )
        test_frames = [f for i, f in enumerate(frames) if i % test_every == 0]
        train_frames = [f for i, f in enumerate(frames) if i % test_every != 0]

    if max_train_images is not None and max_train_images < len(train_frames):
        keep = np.linspace(0, len(train_frames) - 1, max_train_images).round().astype(int)
        train_frames = [train_frames[i] for i in keep]

    train = load_split(train_frames, factor, warned)
    test = load_split(test_frames, factor, warned)
    near, far, aabb = scene_bounds(layout, main_meta, files, train, test, near, far)
    gt_mesh = next((root / name for name in GT_MESH_NAMES if (root / name).is_file()), None)
    return SceneData(
        train=train,
        test=test,
        near=near,
        far=far,
        aabb=aabb,
        name=root.name,
        gt_mesh_path=gt_mesh,
        extras={"layout": layout},
    )


GT_MESH_NAMES = ("gt_mesh.ply", "gt_mesh.obj")
"""A ground-truth mesh next to the transforms files (as ``nerfplex make-scene`` writes it)."""


def _find_layout(root: Path, test_split: str) -> tuple[str, dict[str, Path], Path]:
    """Which layout ``root`` holds: ``("blender", {train, test}, root)`` or ``("ngp", {all}, root)``."""
    if test_split not in ("test", "val"):
        raise NerfplexError(f"test_split must be 'test' or 'val', got {test_split!r}.")
    if root.is_file():
        if root.suffix.lower() != ".json":
            raise NerfplexError(
                f"{root} is a file; pass the dataset folder that holds "
                f"transforms_train.json / transforms.json (or the .json file itself)."
            )
        if root.name in _BLENDER_FILES:
            root = root.parent
        else:
            return "ngp", {"all": root}, root.parent
    if not root.exists():
        resolved = "" if root.is_absolute() else f" (resolved to {root.absolute()})"
        raise NerfplexError(
            f"dataset folder {root} does not exist{resolved}; check the path or download the dataset there."
        )
    if not root.is_dir():
        raise NerfplexError(f"{root} is not a folder; pass the dataset folder.")
    train = root / "transforms_train.json"
    if train.is_file():
        test = root / f"transforms_{test_split}.json"
        if not test.is_file():
            other = "val" if test_split == "test" else "test"
            hint = (
                f"; {root / f'transforms_{other}.json'} exists: pass test_split='{other}'"
                if (root / f"transforms_{other}.json").is_file()
                else "; add the held-out frames' file"
            )
            raise NerfplexError(
                f"{test.name} not found in {root} (it holds transforms_train.json, so this "
                f"is a Blender-layout dataset){hint}."
            )
        return "blender", {"train": train, "test": test}, root
    single = root / "transforms.json"
    if single.is_file():
        return "ngp", {"all": single}, root
    present = sorted(p.name for p in root.glob("*.json"))
    raise NerfplexError(
        f"no transforms file found in {root}: looked for transforms_train.json + transforms_test.json / "
        f"transforms_val.json (Blender / NeRF-synthetic layout) and transforms.json (instant-ngp "
        f"layout); JSON files present: {present or 'none'}. Point to the folder that holds them."
    )


def _natural_key(text: str) -> list:
    """Sort key that orders ``img2`` before ``img10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]
