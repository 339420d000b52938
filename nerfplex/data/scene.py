"""SceneData: what every dataset parser produces and every model trains on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.errors import NerfplexError


@dataclass
class SceneSplit:
    """The images and cameras of one split.

    Attributes:
        rgb: ``[N, H, W, 3]`` float32 colour in [0, 1], *premultiplied* by ``alpha`` when alpha exists,
            so that ``rgb + (1 - alpha) * background`` composites onto any background.
        alpha: ``[N, H, W, 1]`` float32 coverage in [0, 1], or None for opaque images.
        cameras: the ``N`` cameras (OpenCV axes).
        names: ``N`` image names (file stems), for reports.
        depth: ``[N, H, W, 1]`` ground-truth *metric* distance along each pixel's unit ray (``inf``
            where unknown), or None when the dataset has no such depth. Monocular predictions are
            not depth in this sense (they are right only up to scale and shift): see ``priors``.
        priors: per-pixel cues that are not ground truth, ``[N, H, W, C]`` each, keyed by name:
            ``mono_depth`` (C = 1, a monocular network's relative depth, scale and shift unknown),
            ``mono_normal`` (C = 3, unit normals in world axes), ``mono_mask`` (C = 1, 1 where the
            monocular cues are trusted). Empty unless the loader was asked for them.
    """

    rgb: Tensor
    alpha: Optional[Tensor]
    cameras: Cameras
    names: list[str]
    depth: Optional[Tensor] = None
    priors: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.rgb.shape[0]

    def subset(self, index) -> SceneSplit:
        """The views ``index`` (a list or ``[K]`` integer tensor), every per-view tensor indexed alike."""
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return SceneSplit(
            self.rgb[index],
            pick(self.alpha),
            self.cameras[index],
            [self.names[i] for i in index.tolist()],
            pick(self.depth),
            {k: v[index] for k, v in self.priors.items()},
        )

    def composite(self, background: Tensor, index: Optional[int] = None) -> Tensor:
        """Images on a background colour ``[3]``: ``[N, H, W, 3]``, or image ``index``: ``[H, W, 3]``."""
        rgb = self.rgb if index is None else self.rgb[index]
        if self.alpha is None:
            return rgb
        alpha = self.alpha if index is None else self.alpha[index]
        return rgb + (1.0 - alpha) * background


@dataclass
class SceneData:
    """A dataset ready for training.

    Attributes:
        train, test: the splits.
        near, far: ray distance bounds (metric, along unit directions).
        aabb: ``[2, 3]`` min / max corner of the region that holds the scene.
        name: a short name for logs.
        gt_mesh_path: a ground-truth mesh file, when the dataset has one.
        extras: optional per-dataset data (e.g. the procedural scene's analytic SDF) keyed by name.
        sphere_radius: radius of the sphere about the aabb's centre that holds the scene, when the
            format defines one (DTU's ``cameras_sphere.npz`` normalises the object into the unit
            sphere: 1); None: the aabb's circumscribed sphere. NeuS samples inside this sphere.
    """

    train: SceneSplit
    test: SceneSplit
    near: float
    far: float
    aabb: Tensor
    name: str = "scene"
    gt_mesh_path: Optional[Path] = None
    extras: dict = field(default_factory=dict)
    sphere_radius: Optional[float] = None


def concat_splits(first: SceneSplit, second: SceneSplit) -> SceneSplit:
    """The views of ``first`` followed by those of ``second`` (same image size required).

    Alpha, depth and priors are kept when either split has them (opaque alpha 1, unknown depth
    ``inf``); a prior only one split has is dropped.
    """
    a, b = first.cameras, second.cameras
    if (a.width, a.height) != (b.width, b.height):
        raise NerfplexError(
            f"cannot join splits with {a.width}x{a.height} and {b.width}x{b.height} "
            f"images; use one image size for the whole dataset."
        )

    def join(x: Optional[Tensor], y: Optional[Tensor], fill: float, like: Tensor) -> Optional[Tensor]:
        if x is None and y is None:
            return None
        x = like[0].new_full((len(first), *like.shape[1:]), fill) if x is None else x
        y = like[0].new_full((len(second), *like.shape[1:]), fill) if y is None else y
        return torch.cat([x, y])

    alpha_like = first.alpha if first.alpha is not None else second.alpha
    depth_like = first.depth if first.depth is not None else second.depth
    if (a.distortion is None) != (b.distortion is None):
        zeros = lambda c: c.c2w.new_zeros(len(c), 5)  # noqa: E731
        dist = torch.cat(
            [
                a.distortion if a.distortion is not None else zeros(a),
                b.distortion if b.distortion is not None else zeros(b),
            ]
        )
    else:
        dist = None if a.distortion is None else torch.cat([a.distortion, b.distortion])
    cameras = Cameras(
        torch.cat([a.c2w, b.c2w]),
        torch.cat([a.fx, b.fx]),
        torch.cat([a.fy, b.fy]),
        torch.cat([a.cx, b.cx]),
        torch.cat([a.cy, b.cy]),
        a.width,
        a.height,
        dist,
        a.ndc,
    )
    priors = {k: torch.cat([v, second.priors[k]]) for k, v in first.priors.items() if k in second.priors}
    alpha = join(first.alpha, second.alpha, 1.0, alpha_like) if alpha_like is not None else None
    depth = join(first.depth, second.depth, float("inf"), depth_like) if depth_like is not None else None
    return SceneSplit(torch.cat([first.rgb, second.rgb]), alpha, cameras, first.names + second.names, depth, priors)
