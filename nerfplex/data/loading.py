"""The data config section and the dispatch from it to a parser."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from nerfplex.data.degrade import degrade_training_split
from nerfplex.data.image_stack import dataset_root
from nerfplex.data.scene import SceneData, concat_splits
from nerfplex.errors import NerfplexError

DatasetKind = Literal["auto", "procedural", "blender", "monosdf", "nsvf", "dtu", "colmap", "llff"]

_FOLDER_HINTS = {
    "auto": "a dataset folder in any layout nerfplex reads (docs/datasets.md)",
    "blender": "the folder with transforms_*.json or transforms.json",
    "monosdf": "one scene folder with meta_data.json, e.g. data/Replica/scan1",
    "nsvf": "one scene folder with rgb/, pose/, intrinsics.txt, bbox.txt, e.g. data/TanksAndTemple/Truck",
    "dtu": "one scan folder with cameras_sphere.npz, image/, mask/, e.g. data/DTU/dtu_scan24",
    "colmap": "one scene folder with images/ and sparse/0/, e.g. data/360_v2/garden or process-data output",
    "llff": "one scene folder with poses_bounds.npy and images/, e.g. data/nerf_llff_data/fern",
}


@dataclass
class DataConfig:
    """Where the scene comes from (docs/datasets.md describes every format)."""

    kind: DatasetKind = "auto"
    """``auto`` (default): the layout of ``data.path`` found from its files (docs/datasets.md), or the
    built-in scene when no path is given; ``procedural``: a built-in scene rendered on the fly;
    ``blender``: a folder with
    ``transforms_*.json`` (NeRF-synthetic) or one ``transforms.json`` (instant-ngp, with per-frame
    intrinsics and k1 k2 p1 p2 k3 distortion); ``monosdf``: a MonoSDF / sdfstudio ``meta_data.json``
    scene (Replica, Tanks and Temples advanced); ``nsvf``: an NSVF-layout scene (``rgb/``, ``pose/``,
    ``intrinsics.txt``, ``bbox.txt``: Tanks and Temples as DVGO / TensoRF read it); ``dtu``: a DTU scan
    in the IDR / NeuS layout (``cameras_sphere.npz``, ``image/``, ``mask/``); ``colmap``: a COLMAP sparse
    model with its images (``images/``, ``sparse/0/``: Mip-NeRF 360, 3DGS, ``nerfplex process-data``);
    ``llff``: ``poses_bounds.npy`` + ``images/`` (LLFF forward-facing scenes)."""
    path: Optional[Path] = None
    """Dataset folder (every kind but ``procedural``)."""
    scene: Literal["object", "room"] = "object"
    """Built-in scene: ``object`` (textured solids, cameras around it) or ``room`` (cameras inside)."""
    resolution: int = 64
    """Built-in scenes: image width and height in pixels."""
    num_train_views: int = 100
    """Built-in scenes: number of training views."""
    num_test_views: int = 10
    """Built-in scenes: number of held-out views."""
    seed: int = 0
    """Built-in scenes: the seed that draws the cameras (the layout is fixed)."""
    downscale: int = 1
    """Folder datasets: integer factor to shrink images by (area averaging)."""
    test_split: Literal["test", "val"] = "test"
    """Blender layout: which file is held out (``transforms_test.json`` or ``transforms_val.json``);
    NSVF layout: ``test`` holds out the ``2_*`` views (``1_*`` when there are none), ``val`` the ``1_*``."""
    test_every: Optional[int] = None
    """Single ``transforms.json``, ``meta_data.json``, DTU, COLMAP and LLFF: frames with
    ``index % test_every == 0`` (in name order) are held out. None: the format's default
    (``transforms.json`` 8; ``meta_data.json`` 10, the S3IM authors' Replica split; DTU 8; COLMAP 8, the
    Mip-NeRF 360 / 3DGS convention; LLFF 8, NeRF's ``llffhold``)."""
    ndc: bool = False
    """LLFF: warp rays into normalised device coordinates (NeRF's forward-facing setting: depth from the
    near plane to infinity becomes [-1, 1]); needs ``ray_bounds: aabb``. Only for forward-facing scenes."""
    masks: bool = True
    """DTU: use ``mask/*.png`` as the images' alpha (NeuS's wmask setting); false keeps the whole
    photographs (womask)."""
    mono_priors: bool = False
    """``meta_data.json``: also load the monocular cues (``*_depth.npy``, ``*_normal.npy``,
    ``*_mask.npy``: Omnidata predictions, depth only up to scale and shift) into each split's
    ``priors``. They are never used as ground-truth depth."""
    box_scale: float = 1.0
    """Grow (> 1) or shrink the dataset's scene box about its centre by this factor (the TensoRF
    authors' Tanks and Temples loader and the S3IM authors' Replica loader use 1.2)."""
    train_on_test_views: bool = False
    """Also train on the held-out views (the IDR / NeuS protocol on DTU, where the goal is the surface,
    not novel views); the test split stays as it is, for monitoring."""
    near: Optional[float] = None
    """Override the dataset's near ray bound."""
    far: Optional[float] = None
    """Override the dataset's far ray bound."""
    ray_bounds: Literal["near_far", "aabb"] = "aabb"
    """``near_far``: sample every ray between near and far (the NeRF paper); ``aabb``: also clip rays to
    the scene's bounding box and skip rays that miss it (same field, far fewer wasted samples)."""
    train_fraction: float = 1.0
    """Ablations: train on this fraction of the training views (evenly spaced); 1 keeps all."""
    train_noise_std: float = 0.0
    """Ablations: add Gaussian noise of this standard deviation to the training images."""
    train_blur_sigma: float = 0.0
    """Ablations: blur the training images with a Gaussian of this sigma (pixels)."""
    max_test_views: Optional[int] = None
    """Evaluate on at most this many held-out views (evenly spaced); None: all."""

    def checks(self) -> list[tuple[str, bool, str]]:
        """Value checks of the layout options (the config validation protocol)."""
        return [
            (
                "test_every",
                self.test_every is None or (not isinstance(self.test_every, bool) and self.test_every >= 2),
                "null (the format's default) or an integer of at least 2",
            ),
            (
                "ndc",
                not self.ndc or self.ray_bounds == "aabb",
                "false unless data.ray_bounds is aabb (NDC rays are bounded by clipping to the NDC box)",
            ),
            (
                "ndc",
                not self.ndc or self.kind in ("auto", "llff"),
                "false unless the scene is an LLFF one (data.kind llff or auto)",
            ),
            (
                "path",
                self.kind != "procedural" or self.path is None,
                "unset when data.kind is procedural (the built-in scene); pass --data.kind auto to train on the folder",
            ),
            *self._value_checks(),
        ]

    def _value_checks(self) -> list[tuple[str, bool, str]]:
        """Ranges of the numeric options (non-finite values are rejected for every field)."""
        positive = [
            (key, getattr(self, key) > 0, "a positive number")
            for key in ("resolution", "num_train_views", "num_test_views", "downscale", "box_scale")
        ]
        return [
            *positive,
            ("train_fraction", 0 < self.train_fraction <= 1, "in (0, 1]"),
            ("train_noise_std", self.train_noise_std >= 0, "0 or positive"),
            ("train_blur_sigma", self.train_blur_sigma >= 0, "0 or positive"),
            ("near", self.near is None or self.near >= 0, "null (the dataset's) or 0 or positive"),
            ("far", self.far is None or self.far > (self.near or 0.0), "null (the dataset's) or larger than data.near"),
            (
                "max_test_views",
                self.max_test_views is None or self.max_test_views >= 1,
                "null (all test views) or at least 1",
            ),
        ]


def load_scene(config: DataConfig) -> SceneData:
    """Load the configured scene."""
    if config.kind == "procedural" or (config.kind == "auto" and config.path is None):
        from nerfplex.data.procedural import make_procedural_scene

        scene = make_procedural_scene(
            config.scene, config.resolution, config.num_train_views, config.num_test_views, config.seed
        )
    else:
        with dataset_root(config.path) if config.path is not None else contextlib.nullcontext():
            scene = _load_folder(config)  # image paths that leave config.path are warned about
    if config.near is not None:
        scene.near = config.near
    if config.far is not None:
        scene.far = config.far
    if config.box_scale != 1.0:
        if not config.box_scale > 0:
            raise NerfplexError(f"data.box_scale must be positive, got {config.box_scale}.")
        centre = scene.aabb.mean(dim=0)
        scene.aabb = centre + (scene.aabb - centre) * config.box_scale
    if config.train_on_test_views:
        scene.train = concat_splits(scene.train, scene.test)
    if config.train_fraction < 1.0 or config.train_noise_std > 0 or config.train_blur_sigma > 0:
        scene = degrade_training_split(
            scene,
            fraction=config.train_fraction,
            noise_std=config.train_noise_std,
            blur_sigma=config.train_blur_sigma,
            seed=config.seed,
        )
    if scene.near >= scene.far:
        raise NerfplexError(
            f"near ({scene.near}) must be smaller than far ({scene.far}). Fix --data.near / --data.far."
        )
    return scene


def _load_folder(config: DataConfig) -> SceneData:
    """Dispatch a folder dataset to its parser (each imported only when used)."""
    if config.kind not in _FOLDER_HINTS:  # the config loader only admits the kinds above
        raise NerfplexError(f"unknown data.kind {config.kind!r}")
    if config.path is None:
        raise NerfplexError(
            f"data.kind is {config.kind!r} but data.path is not set. Pass --data.path FOLDER "
            f"({_FOLDER_HINTS[config.kind]})."
        )
    path = Path(config.path)
    kind = config.kind
    if kind == "auto":
        from nerfplex.data.detect import detect_layout

        kind = detect_layout(path)
    if config.ndc and kind != "llff":
        raise NerfplexError(
            f"--data.ndc is set but {path} is a {kind} scene; NDC rays are for forward-facing "
            f"LLFF scenes. Leave out --data.ndc."
        )
    if kind == "colmap":
        from nerfplex.data.colmap import COLMAP_TEST_EVERY, load_colmap

        return load_colmap(path, downscale=config.downscale, test_every=config.test_every or COLMAP_TEST_EVERY)
    if kind == "llff":
        from nerfplex.data.llff import LLFF_TEST_EVERY, load_llff

        return load_llff(
            path, downscale=config.downscale, test_every=config.test_every or LLFF_TEST_EVERY, ndc=config.ndc
        )
    if kind == "blender":
        from nerfplex.data.blender import load_blender

        return load_blender(
            path, downscale=config.downscale, test_split=config.test_split, test_every=config.test_every or 8
        )
    if kind == "monosdf":
        from nerfplex.data.monosdf import MONOSDF_TEST_EVERY, load_monosdf

        every = config.test_every or MONOSDF_TEST_EVERY
        return load_monosdf(path, downscale=config.downscale, test_every=every, mono_priors=config.mono_priors)
    if kind == "nsvf":
        from nerfplex.data.nsvf import load_nsvf

        return load_nsvf(path, downscale=config.downscale, test_split=config.test_split)
    from nerfplex.data.dtu import DTU_TEST_EVERY, load_dtu

    return load_dtu(
        path, downscale=config.downscale, test_every=config.test_every or DTU_TEST_EVERY, masks=config.masks
    )
