"""SceneData: what every dataset parser produces and every model trains on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from torch import Tensor

from nerfplex.cameras import Cameras


@dataclass
class SceneSplit:
    """The images and cameras of one split.

    Attributes:
        rgb: ``[N, H, W, 3]`` float32 colour in [0, 1], *premultiplied* by ``alpha`` when alpha exists,
            so that ``rgb + (1 - alpha) * background`` composites onto any background.
        alpha: ``[N, H, W, 1]`` float32 coverage in [0, 1], or None for opaque images.
        cameras: the ``N`` cameras (OpenCV axes).
        names: ``N`` image names (file stems), for reports.
        depth: ``[N, H, W, 1]`` ground-truth distance along each pixel's unit ray (``inf`` where
            unknown), or None when the dataset has no depth.
    """

    rgb: Tensor
    alpha: Optional[Tensor]
    cameras: Cameras
    names: list[str]
    depth: Optional[Tensor] = None

    def __len__(self) -> int:
        return self.rgb.shape[0]

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
    """

    train: SceneSplit
    test: SceneSplit
    near: float
    far: float
    aabb: Tensor
    name: str = "scene"
    gt_mesh_path: Optional[Path] = None
    extras: dict = field(default_factory=dict)
