"""Random ray batches drawn across all training images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from nerfplex.cameras import RayBundle
from nerfplex.data.scene import SceneSplit


@dataclass
class RayBatch:
    """Rays and their supervision.

    Attributes:
        rays: the rays (``[R]``).
        rgb: ``[R, 3]`` target colour, premultiplied when ``alpha`` is set.
        alpha: ``[R, 1]`` target coverage, or None for opaque images.
        pixel_ids: ``[R]`` flat index ``image * H * W + y * W + x`` of each ray's pixel.
        depth: ``[R, 1]`` ground-truth ray distance (``inf`` where unknown), or None.
    """

    rays: RayBundle
    rgb: Tensor
    alpha: Optional[Tensor]
    pixel_ids: Tensor
    depth: Optional[Tensor] = None

    def target(self, background: Tensor) -> Tensor:
        """Target colours ``[R, 3]`` composited on per-ray ``background [R, 3]``."""
        if self.alpha is None:
            return self.rgb
        return self.rgb + (1.0 - self.alpha) * background


class RayBatchSampler:
    """Draws ``batch_size`` pixels uniformly (with replacement) from all images of a split, or from the
    pool left by :meth:`restrict`.

    Rays are generated on the fly from the cameras, so memory stays at the images themselves.
    With ``aabb`` ``[2, 3]`` the rays' bounds are clipped to the box. The indices come from ``generator``
    (a CPU generator the trainer owns and checkpoints).
    ``batch_size`` may equal ``patch_height * patch_width`` of a virtual image (S3IM); nothing here
    assumes a shape.
    """

    def __init__(
        self,
        split: SceneSplit,
        batch_size: int,
        near: float,
        far: float,
        device: torch.device | str = "cpu",
        aabb: Optional[Tensor] = None,
    ) -> None:
        self.split = split
        self.batch_size = batch_size
        self.near, self.far = near, far
        self.device = torch.device(device)
        self.aabb = None if aabb is None else aabb.to(self.device)
        self._rgb = split.rgb.reshape(-1, 3).to(self.device)
        self._alpha = None if split.alpha is None else split.alpha.reshape(-1, 1).to(self.device)
        self._depth = None if split.depth is None else split.depth.reshape(-1, 1).to(self.device)
        self._cameras = split.cameras.to(self.device)
        self.num_pixels = self._rgb.shape[0]
        self.pool: Optional[Tensor] = None
        """Flat pixel ids ``[P]`` batches are drawn from; None: every pixel."""

    def sample(self, generator: torch.Generator) -> RayBatch:
        if self.pool is None:
            ids = torch.randint(self.num_pixels, (self.batch_size,), generator=generator)
        else:
            ids = self.pool[torch.randint(self.pool.shape[0], (self.batch_size,), generator=generator)]
        return self.batch_from_ids(ids.to(self.device))

    @torch.no_grad()
    def restrict(self, keep: Callable[[RayBundle], Tensor], chunk_rays: int = 1 << 16) -> int:
        """Draw from now on only pixels whose rays ``keep(rays) -> bool [R]`` accepts (from the current
        pool). Returns the pool size. An empty result leaves the pool unchanged (and returns 0): a
        model that sees nothing yet should not stop the run."""
        candidates = torch.arange(self.num_pixels) if self.pool is None else self.pool
        kept = [ids[keep(self.batch_from_ids(ids.to(self.device)).rays).cpu()] for ids in candidates.split(chunk_rays)]
        pool = torch.cat(kept)
        if pool.shape[0] == 0:
            return 0
        self.pool = pool
        return pool.shape[0]

    def state_dict(self) -> dict:
        """The pool as a boolean mask over pixels (None when unrestricted)."""
        if self.pool is None:
            return {"pool_mask": None}
        mask = torch.zeros(self.num_pixels, dtype=torch.bool)
        mask[self.pool] = True
        return {"pool_mask": mask}

    def load_state_dict(self, state: dict) -> None:
        mask = state.get("pool_mask")
        self.pool = None if mask is None else mask.cpu().nonzero().squeeze(1)

    def batch_from_ids(self, pixel_ids: Tensor) -> RayBatch:
        """The batch for given flat pixel ids ``[R]``."""
        width, height = self._cameras.width, self._cameras.height
        cam_idx = pixel_ids // (width * height)
        rest = pixel_ids % (width * height)
        origins, directions = self._cameras.generate_rays(cam_idx, rest % width, rest // width)
        rays = RayBundle.with_bounds(origins, directions, self.near, self.far)
        if self.aabb is not None:
            rays = rays.clipped_to_aabb(self.aabb)
        alpha = None if self._alpha is None else self._alpha[pixel_ids]
        depth = None if self._depth is None else self._depth[pixel_ids]
        return RayBatch(rays, self._rgb[pixel_ids], alpha, pixel_ids, depth)
