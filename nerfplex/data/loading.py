"""The data config section and the dispatch from it to a parser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from nerfplex.data.degrade import degrade_training_split
from nerfplex.data.scene import SceneData
from nerfplex.errors import NerfplexError

DatasetKind = Literal["procedural", "blender"]


@dataclass
class DataConfig:
    """Where the scene comes from."""

    kind: DatasetKind = "procedural"
    """``procedural``: a built-in scene rendered on the fly; ``blender``: a folder with
    ``transforms_*.json`` (NeRF-synthetic) or one ``transforms.json`` (instant-ngp)."""
    path: Optional[Path] = None
    """Dataset folder (for ``blender``)."""
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
    """Blender layout: which file is held out (``transforms_test.json`` or ``transforms_val.json``)."""
    test_every: int = 8
    """Single ``transforms.json``: every n-th frame is held out."""
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


def load_scene(config: DataConfig) -> SceneData:
    """Load the configured scene."""
    if config.kind == "procedural":
        from nerfplex.data.procedural import make_procedural_scene

        scene = make_procedural_scene(config.scene, config.resolution, config.num_train_views,
                                      config.num_test_views, config.seed)
    elif config.kind == "blender":
        from nerfplex.data.blender import load_blender

        if config.path is None:
            raise NerfplexError("data.kind is 'blender' but data.path is not set. Pass "
                                "--data.path FOLDER (the folder with transforms_*.json).")
        scene = load_blender(Path(config.path), downscale=config.downscale,
                             test_split=config.test_split, test_every=config.test_every)
    else:  # the config loader only admits the kinds above
        raise NerfplexError(f"unknown data.kind {config.kind!r}")
    if config.near is not None:
        scene.near = config.near
    if config.far is not None:
        scene.far = config.far
    if config.train_fraction < 1.0 or config.train_noise_std > 0 or config.train_blur_sigma > 0:
        scene = degrade_training_split(scene, fraction=config.train_fraction,
                                       noise_std=config.train_noise_std,
                                       blur_sigma=config.train_blur_sigma, seed=config.seed)
    if scene.near >= scene.far:
        raise NerfplexError(f"near ({scene.near}) must be smaller than far ({scene.far}). "
                            f"Fix --data.near / --data.far.")
    return scene
