"""The viewer's frames: pictures of the run's model from a browser's camera, rendered in slices handed
to the :class:`~nerfplex.viewer.time_share.TimeShare`, each sized by a measured render rate.

A quick frame (after a camera move) is one *priority* slice, sized to render in about a given time. A
larger frame is rendered in slices of its pixels taken in :func:`~nerfplex.viewer.frames.pixel_order`:
each slice is an even sample of the image, so it costs what the measured rays/s predicts wherever the
scene is in the picture, and is at most twice the one before it. Renders use the model in eval mode,
without gradients and inside ``torch.random.fork_rng``, so they never change what training computes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.cameras import Cameras, RayBundle
from nerfplex.eval.view_rendering import RenderedView, render_rays, render_view, view_rays
from nerfplex.models.base import Model
from nerfplex.viewer.frames import OutputName, output_picture, pixel_order, quick_frame_size
from nerfplex.viewer.time_share import SliceCancelled, TimeShare

FIRST_RAYS_PER_SECOND = 2000.0
"""The render rate assumed before one is measured: low, because too low costs one blurry quick frame and
one small slice, too high a frame or slice that takes seconds (a real capture on a CPU renders ~2k rays/s)."""
MIN_SLICE_RAYS = 256
"""Fewest rays in a slice of a larger frame (below that, per-slice overheads dominate)."""


class FrameRenderer:
    """Renders one-camera pictures of ``model`` as the run's evaluation does (box or near / far, eval
    background, chunk and sample caps), through ``time_share``'s slices."""

    def __init__(
        self,
        model: Model,
        time_share: TimeShare,
        near: float,
        far: float,
        background: Tensor,
        chunk_rays: int,
        max_samples: int,
        aabb: Optional[Tensor],
        slice_seconds: float,
    ):
        self.model, self.time_share = model, time_share
        self.near, self.far, self.background, self.aabb = near, far, background, aabb
        self.chunk_rays, self.max_samples, self.slice_seconds = chunk_rays, max_samples, slice_seconds
        device = next(model.parameters()).device
        self._rng_devices = [device.index or 0] if device.type == "cuda" else []
        # Rays/s measured by the quick frames and by the larger frames' slices, kept apart (a quick frame
        # is one block of rows, a slice a few hundred to a few thousand scattered pixels: their rates
        # differ), so each sizes its own kind.
        self.quick_rays_per_second = FIRST_RAYS_PER_SECOND
        self.slice_rays_per_second = FIRST_RAYS_PER_SECOND

    def quick_frame_size(self, aspect: float, max_long_side: int, seconds: float) -> tuple[int, int]:
        """``(width, height)`` of a quick frame that renders in about ``seconds`` at the measured rate."""
        return quick_frame_size(aspect, max_long_side, seconds * self.quick_rays_per_second)

    def picture(
        self, camera: Cameras, output: OutputName, priority: bool, cancelled: Callable[[], bool]
    ) -> Optional[np.ndarray]:
        """``output``'s picture of ``camera`` (``uint8 [H, W, 3]``): a priority (quick) frame in one
        slice, a larger one in slices sized to the render credit (at most ``slice_seconds``); the last
        slice also makes the picture. None when ``cancelled()`` turned true (checked between slices, and
        while a slice of a larger frame waits for its turn)."""
        total = camera.width * camera.height
        prepared: dict[str, Optional[Tensor] | RayBundle] = {}  # made in the first slice: torch work

        def rays_of(first: int, count: int) -> RayBundle:
            if not prepared:
                device = next(self.model.parameters()).device
                prepared["rays"], _ = view_rays(camera.to(device), 0, self.near, self.far, self.aabb)
                prepared["order"] = None if priority else pixel_order(total).to(device)
            rays, order = prepared["rays"], prepared["order"]
            return rays if order is None else rays[order[first : first + count]]

        pieces: list[dict[str, Tensor]] = []
        done, previous, picture = 0, 0, None
        while done < total:
            if cancelled():
                return None
            if priority:
                count = total
            else:
                budget = self.time_share.slice_budget(self.slice_seconds)
                count = int(budget * self.slice_rays_per_second)
                count = min(total - done, max(MIN_SLICE_RAYS, min(count, 2 * previous) if previous else count))

            def work(first=done, count=count):
                start = time.perf_counter()
                pieces.append(self.render_rays(rays_of(first, count)))
                seconds = time.perf_counter() - start
                last = first + count >= total
                return seconds, (self._assemble(pieces, prepared["order"], camera, output) if last else None)

            try:
                seconds, picture = self.time_share.run_slice(work, priority, None if priority else cancelled)
            except SliceCancelled:
                return None
            rate = count / max(seconds, 1e-4)
            if priority:
                self.quick_rays_per_second = 0.5 * self.quick_rays_per_second + 0.5 * rate
            else:
                self.slice_rays_per_second = 0.5 * self.slice_rays_per_second + 0.5 * rate
            done, previous = done + count, count
        return picture

    @staticmethod
    def _assemble(
        pieces: list[dict[str, Tensor]], order: Optional[Tensor], camera: Cameras, output: OutputName
    ) -> np.ndarray:
        """``output``'s picture of ``camera``'s image, rendered in ``pieces`` (its pixels in ``order``;
        None: row-major)."""

        def image(key: str) -> Tensor:  # [H, W, C]
            values = torch.cat([piece[key] for piece in pieces])
            if order is not None:
                values = torch.empty_like(values).index_copy_(0, order, values)
            return values.reshape(camera.height, camera.width, -1).cpu()

        normals = image("normals") if "normals" in pieces[0] else None
        return output_picture(output, image("rgb"), image("depth"), image("opacity"), normals, camera)

    @contextmanager
    def _render_mode(self) -> Iterator[Model]:
        """The model in eval mode, without gradients, the global random state restored afterwards."""
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with torch.random.fork_rng(devices=self._rng_devices), torch.no_grad():
                yield model
        finally:
            model.train(was_training)

    def render_rays(self, rays: RayBundle) -> dict[str, Tensor]:
        """``rgb``, ``depth``, ``opacity`` (and ``normals`` where the model has them) of ``rays``, ``[R, C]``.
        Call it with the model held (inside ``time_share.run_slice``)."""
        with self._render_mode() as model:
            background = self.background.to(rays.origins).expand(len(rays), 3)
            return render_rays(model, rays, background, self.chunk_rays, self.max_samples)

    def render(self, camera: Cameras) -> RenderedView:
        """A one-camera image rendered as the frames are, at once. Call it with the model held (inside
        ``time_share.run_slice``)."""
        with self._render_mode() as model:
            return render_view(
                model,
                camera,
                0,
                self.near,
                self.far,
                self.background,
                self.chunk_rays,
                self.aabb,
                max_samples=self.max_samples,
            )
