"""Ray bounds (near / far) and scene box (aabb) of a Blender / instant-ngp dataset.

Explicit arguments win, then an optional ``"nerfplex": {"near", "far", "aabb"}`` block in
``transforms_train.json`` / ``transforms.json`` (as written by
:func:`nerfplex.data.blender_writer.write_blender_scene`), then these defaults:

* Blender layout: near / far = 2 / 6 (the NeRF paper's values), aabb = [-1.5, 1.5]^3 (lego bounds).
* instant-ngp: the aabb is instant-ngp's ``aabb_scale`` box when any of ``aabb_scale`` / ``scale`` /
  ``offset`` / ``aabb`` is present (instant-ngp maps ``position * scale + offset`` into its unit cube,
  default scale 0.33 and offset 0.5, and the scene box is that cube grown ``aabb_scale`` times about
  its centre: ``aabb_scale = 1`` is about [-1.52, 1.52]^3). Otherwise the scene centre is the point
  closest to all optical axes (the mean camera position when the axes are near parallel) and the
  aabb is the cube about it whose half-side is the largest camera distance (so it holds every
  camera). near / far: with ``d`` the camera distances to the aabb centre and ``r`` the radius of the
  aabb's bounding sphere, ``far = max(d) + r`` and ``near = max(min(d) - r, 0.05 * min(d))``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from nerfplex.data.scene import SceneSplit
from nerfplex.data.transforms_frames import is_finite_number
from nerfplex.errors import NerfplexError

__all__ = [
    "scene_bounds",
    "near_far_around_box",
    "BLENDER_NEAR",
    "BLENDER_FAR",
    "BLENDER_AABB",
    "NGP_SCALE",
    "NGP_OFFSET",
]

BLENDER_NEAR, BLENDER_FAR = 2.0, 6.0
"""The NeRF paper's ray bounds for the NeRF-synthetic scenes."""
BLENDER_AABB = ((-1.5, -1.5, -1.5), (1.5, 1.5, 1.5))
"""The usual NeRF-synthetic scene box (holds lego and the other synthetic objects)."""

NGP_SCALE, NGP_OFFSET = 0.33, 0.5
"""instant-ngp's default mapping of world positions into its unit cube: ``p * scale + offset``."""


def scene_bounds(
    layout: str,
    meta: dict,
    files: dict[str, Path],
    train: SceneSplit,
    test: SceneSplit,
    near: float | None,
    far: float | None,
) -> tuple[float, float, torch.Tensor]:
    """near, far, aabb ``[2, 3]``: explicit arguments > the file's ``nerfplex`` block > defaults.

    ``layout`` is ``"blender"`` or ``"ngp"``; ``meta`` is ``transforms_train.json`` / ``transforms.json``
    (``files["train"]`` / ``files["all"]``); the cameras of ``train`` and ``test`` place the ngp box.
    """
    source = files.get("train", files.get("all"))
    block = meta.get("nerfplex", {})
    if not isinstance(block, dict):
        raise NerfplexError(f"'nerfplex' in {source} must be an object with near / far / aabb.")
    aabb = _stored_aabb(block, source)
    if aabb is None:
        if layout == "blender":
            aabb = np.array(BLENDER_AABB, dtype=np.float64)
        else:
            aabb = _ngp_aabb(meta, source, train, test)
    if near is None and "near" in block:
        near = _bound_value(block["near"], f"'nerfplex.near' in {source}")
    if far is None and "far" in block:
        far = _bound_value(block["far"], f"'nerfplex.far' in {source}")
    if near is None or far is None:
        if layout == "blender":
            default_near, default_far = BLENDER_NEAR, BLENDER_FAR
        else:
            default_near, default_far = _ngp_near_far(aabb, train, test)
        if layout == "blender" and near is None and far is None:
            _check_blender_defaults(train, test, source)
        near = default_near if near is None else near
        far = default_far if far is None else far
    near = _bound_value(near, "near")
    far = _bound_value(far, "far")
    if far <= near:
        raise NerfplexError(f"near ({near}) must be smaller than far ({far}); fix the near/far settings.")
    return near, far, torch.tensor(aabb, dtype=torch.float32)


def _check_blender_defaults(train: SceneSplit, test: SceneSplit, source: Path) -> None:
    """Warn when the NeRF-synthetic near/far clearly do not fit the cameras."""
    origins = torch.cat([train.cameras.c2w, test.cameras.c2w])[:, :, 3]
    dist = float(origins.double().norm(dim=-1).median())
    if not BLENDER_NEAR < dist < BLENDER_FAR:
        warnings.warn(
            f"{source}: the cameras are {dist:.3g} from the origin, outside the NeRF-synthetic "
            f"defaults near={BLENDER_NEAR}, far={BLENDER_FAR}; pass near= and far= that bracket "
            f"the scene.",
            stacklevel=4,
        )


def _bound_value(value: Any, name: str) -> float:
    if not is_finite_number(value) or value < 0:
        raise NerfplexError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _stored_aabb(block: dict, source: Path, label: str = "nerfplex.aabb") -> Optional[np.ndarray]:
    if "aabb" not in block:
        return None
    try:
        aabb = np.asarray(block["aabb"], dtype=np.float64)
    except (TypeError, ValueError):
        aabb = None
    if aabb is None or aabb.shape != (2, 3) or not np.isfinite(aabb).all() or (aabb[1] <= aabb[0]).any():
        raise NerfplexError(
            f"'{label}' in {source} must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] "
            f"with min < max, got {block['aabb']!r}."
        )
    return aabb


def _ngp_aabb(meta: dict, source: Path, train: SceneSplit, test: SceneSplit) -> np.ndarray:
    """instant-ngp's ``aabb_scale`` box in world units, or a box about the cameras' focus point."""
    if not any(key in meta for key in ("aabb_scale", "scale", "offset", "aabb")):
        return _camera_aabb(train, test)
    scale, offset = NGP_SCALE, np.full(3, NGP_OFFSET)
    if "aabb" in meta:  # instant-ngp maps this box (made cubic) onto its unit cube
        box = _stored_aabb({"aabb": meta["aabb"]}, source, "aabb")
        scale = 1.0 / max((box[1] - box[0]).max(), 1e-6)
        offset = 0.5 - 0.5 * (box[0] + box[1]) * scale
    else:
        if "scale" in meta:
            if not is_finite_number(meta["scale"]) or meta["scale"] <= 0:
                raise NerfplexError(f"'scale' in {source} must be a positive number, got {meta['scale']!r}.")
            scale = float(meta["scale"])
        if "offset" in meta:
            try:
                offset = np.broadcast_to(np.asarray(meta["offset"], dtype=np.float64), (3,)).copy()
            except (TypeError, ValueError):
                offset = np.full(3, np.nan)
            if not np.isfinite(offset).all():
                raise NerfplexError(f"'offset' in {source} must be a number or 3 numbers, got {meta['offset']!r}.")
    k = meta.get("aabb_scale", 1)
    if not is_finite_number(k) or k <= 0:
        raise NerfplexError(
            f"'aabb_scale' in {source} must be a positive number (instant-ngp uses a power "
            f"of two such as 1, 2, 4, 16), got {k!r}."
        )
    # instant-ngp's scene box is its unit cube [0, 1]^3 grown k times about (0.5, 0.5, 0.5).
    return np.stack([(0.5 - 0.5 * k - offset) / scale, (0.5 + 0.5 * k - offset) / scale])


def _camera_aabb(train: SceneSplit, test: SceneSplit) -> np.ndarray:
    """Cube about the point nearest to all optical axes, holding every camera."""
    c2w = torch.cat([train.cameras.c2w, test.cameras.c2w]).double().numpy()
    origins, axes = c2w[:, :, 3], c2w[:, :, 2]  # OpenCV: z is the viewing direction
    # Minimise sum_i |(I - a_i a_i^T)(c - o_i)|^2  ->  (sum P_i) c = sum P_i o_i.
    proj = np.eye(3) - axes[:, :, None] * axes[:, None, :]
    lhs, rhs = proj.sum(0), np.einsum("nij,nj->i", proj, origins)
    if np.linalg.cond(lhs) < 1e6:
        centre = np.linalg.solve(lhs, rhs)
    else:  # optical axes (nearly) parallel, e.g. a forward-facing capture
        centre = origins.mean(0)
        warnings.warn(
            "the cameras' optical axes are (nearly) parallel, so the scene box cannot be found "
            "from where they look; using a box about the cameras, which may cut off the scene. "
            "Set 'aabb_scale' in transforms.json and/or pass near= / far=.",
            stacklevel=5,
        )
    half = max(np.linalg.norm(origins - centre, axis=1).max(), 1e-3)
    return np.stack([centre - half, centre + half])


def _ngp_near_far(aabb: np.ndarray, train: SceneSplit, test: SceneSplit) -> tuple[float, float]:
    origins = torch.cat([train.cameras.c2w, test.cameras.c2w])[:, :, 3].double().numpy()
    return near_far_around_box(aabb, origins)


def near_far_around_box(aabb: np.ndarray, origins: np.ndarray) -> tuple[float, float]:
    """Ray bounds that hold the box ``aabb [2, 3]`` for cameras at ``origins [N, 3]``: with ``d`` the
    cameras' distances to the box centre and ``r`` the radius of its bounding sphere,
    ``far = max(d) + r`` and ``near = max(min(d) - r, 0.05 min(d))`` (``1e-3 far`` if that is 0,
    i.e. for cameras inside the box)."""
    aabb = np.asarray(aabb, dtype=np.float64)
    centre, radius = aabb.mean(0), 0.5 * np.linalg.norm(aabb[1] - aabb[0])
    dist = np.linalg.norm(np.asarray(origins, dtype=np.float64) - centre, axis=1)
    far = float(dist.max() + radius)
    near = float(max(dist.min() - radius, 0.05 * dist.min()))
    if near <= 0.0:
        near = 1e-3 * far
    return near, far
