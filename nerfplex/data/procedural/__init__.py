"""Built-in procedural scenes with analytic geometry, for tests and benchmarks without downloads.

``make_procedural_scene("object" | "room", resolution, num_train, num_test, seed)`` renders a
:class:`~nerfplex.data.scene.SceneData` by sphere tracing an analytic SDF (see :mod:`.scenes`).
"""

from __future__ import annotations

import numpy as np
import torch

from nerfplex.cameras import Cameras, focal_from_fov
from nerfplex.data.procedural.raytrace import TraceSettings, render_images
from nerfplex.data.procedural.scenes import SCENES, SceneSpec
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.errors import NerfplexError

__all__ = ["make_procedural_scene", "procedural_kinds"]

_TRAIN_STREAM, _TEST_STREAM = 0, 1


def procedural_kinds() -> list[str]:
    """The scene kinds :func:`make_procedural_scene` accepts."""
    return sorted(SCENES)


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise NerfplexError(f"procedural scene: {name} must be a positive integer, got {value!r}")
    return int(value)


def _cameras(spec: SceneSpec, seed: int, stream: int, count: int, resolution: int) -> Cameras:
    rng = np.random.default_rng([stream, seed])
    c2w = spec.sample_c2w(rng, count)
    focal = torch.full((count,), focal_from_fov(spec.fov_x, resolution))
    centre = torch.full((count,), resolution / 2.0)
    return Cameras(c2w, focal, focal.clone(), centre, centre.clone(), resolution, resolution)


def _split(spec: SceneSpec, cameras: Cameras) -> SceneSplit:
    settings = TraceSettings(opaque=spec.opaque, clip_aabb=spec.clip_aabb)
    images = render_images(spec.sdf, cameras, spec.near, spec.far, settings, spec.lighting)
    alpha = None if spec.opaque else images.alpha
    names = [f"r_{i}" for i in range(len(cameras))]
    return SceneSplit(images.rgb, alpha, cameras, names, depth=images.depth[..., None])


def make_procedural_scene(kind: str, resolution: int, num_train: int, num_test: int, seed: int = 0) -> SceneData:
    """Render a built-in scene.

    Args:
        kind: ``"object"`` (solids on a white background, cameras on a sphere around them) or
            ``"room"`` (opaque room interior, cameras inside).
        resolution: image width and height in pixels.
        num_train, num_test: number of views per split. Train and test cameras come from separate
            random streams of the same distribution; the first ``k`` views of a split do not depend
            on how many views are asked for.
        seed: draws the cameras (the geometry is the same for every seed).
    Returns:
        SceneData with premultiplied rgb ``[N, H, W, 3]``, alpha ``[N, H, W, 1]`` (object) or None
        (room), ground-truth ``depth`` ``[N, H, W, 1]`` on each split (distance along the unit
        pixel-centre ray, ``inf`` where the ray misses), and ``extras["sdf"]`` (``points [P, 3] ->
        signed distance [P]``, negative inside solids).
    """
    if kind not in SCENES:
        raise NerfplexError(f"unknown procedural scene {kind!r}; choose one of: {', '.join(procedural_kinds())}")
    resolution = _check_size("resolution", resolution)
    num_train = _check_size("num_train", num_train)
    num_test = _check_size("num_test", num_test)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NerfplexError(f"procedural scene: seed must be a non-negative integer, got {seed!r}")
    spec = SCENES[kind]()
    train = _split(spec, _cameras(spec, int(seed), _TRAIN_STREAM, num_train, resolution))
    test = _split(spec, _cameras(spec, int(seed), _TEST_STREAM, num_test, resolution))
    return SceneData(
        train=train,
        test=test,
        near=spec.near,
        far=spec.far,
        aabb=spec.aabb.clone(),
        name=spec.name,
        extras={"sdf": spec.sdf},
    )
