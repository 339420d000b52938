"""The interface every method implements; the trainer and evaluator only talk to this."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor, nn

from nerfplex.cameras import RayBundle
from nerfplex.errors import NerfplexError
from nerfplex.models.surface import SurfaceField

if TYPE_CHECKING:
    from nerfplex.data.ray_sampler import RayBatch


class Model(nn.Module):
    """A field + sampler + compositor.

    Subclasses implement :meth:`get_outputs`, :meth:`get_loss_dict` and :meth:`get_param_groups`.
    Randomness (stratified jitter) comes only from the ``generator`` argument, so that a run resumed
    from a checkpoint continues bit for bit. ``self.training`` switches jitter on.
    """

    def get_outputs(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        """Render rays: at least ``rgb [R, 3]``, ``depth [R, 1]``, ``opacity [R, 1]``."""
        raise NotImplementedError

    def get_loss_dict(
        self, outputs: dict[str, Tensor], target_rgb: Tensor, batch: Optional[RayBatch] = None
    ) -> dict[str, Tensor]:
        """Weighted loss terms (scalars); the trainer optimises their sum.

        ``target_rgb [R, 3]``: the batch's colours on this step's background. ``batch``: the ray batch
        itself (the trainer always passes it; e.g. ``batch.alpha [R, 1]`` for mask losses)."""
        raise NotImplementedError

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Named parameter groups (each may get its own learning rate)."""
        return {"all": list(self.parameters())}

    def get_learning_rates(self) -> dict[str, float]:
        """Initial learning rates of named groups; groups not named use ``optim.lr``."""
        return {}

    optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam
    """The method's optimiser, built as ``optimizer_class(groups, lr=, betas=, eps=)`` from ``optim.*``
    (DVGO: the authors' ``MaskedAdam``)."""

    def get_param_group_options(self) -> dict[str, dict]:
        """Extra settings of named groups for :attr:`optimizer_class` (DVGO: ``skip_zero_grad``,
        ``lr_scale``; see :mod:`nerfplex.models.masked_adam`); {} (the default): none."""
        return {}

    def learning_rate_factor(self, step: int, decay: Callable[[int], float]) -> float:
        """The factor on every group's initial rate at ``step`` (a pure function of the step, so resume
        needs no state). ``decay(n)`` is ``optim``'s exponential decay after ``n`` steps; the default
        is ``decay(step)``. Methods that restart the decay when they re-create the optimiser (TensoRF
        after upsampling) return ``decay(step - restart)``; methods with their own schedule (NeuS's
        warm-up + cosine) ignore ``decay``."""
        return decay(step)

    def on_train_step(self, step: int) -> bool:
        """Called before each training step (schedules such as grid upsampling hook in here).

        Returns True when the parameters changed (new tensors or shapes): the trainer then builds a
        new optimiser, as the TensoRF and DVGO authors do after upsampling.
        """
        return False

    def training_ray_filter(self, step: int) -> Optional[Callable[[RayBundle], Tensor]]:
        """Called before each training step, after :meth:`on_train_step`.

        Returns a predicate ``rays [R] -> keep [R] (bool)`` when the pool of training rays should be
        cut down to the rays it keeps from now on (TensoRF after its second alpha-mask update, DVGO's
        fine stage: rays that only cross empty space teach nothing); None leaves the pool as it is.
        """
        return None

    def surface(self, aabb: Tensor) -> SurfaceField:
        """The field meshes are extracted from, within the scene box ``aabb [2, 3]``."""
        raise NerfplexError(f"{type(self).__name__} does not define a surface for mesh extraction.")

    def match_shapes(self, state_dict: dict[str, Tensor]) -> None:
        """Give parameters and buffers the shapes they have in ``state_dict`` (empty tensors), so that a
        checkpoint saved after grids were upsampled, cropped or re-masked loads into a fresh model."""
        for name, tensor in list(self.named_parameters()) + list(self.named_buffers()):
            saved = state_dict.get(name)
            if saved is None or saved.shape == tensor.shape:
                continue
            owner_name, _, attr = name.rpartition(".")
            owner = self.get_submodule(owner_name)
            empty = tensor.new_empty(saved.shape)
            if isinstance(tensor, nn.Parameter):
                setattr(owner, attr, nn.Parameter(empty))
            else:
                owner._buffers[attr] = empty

    def render(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        """:meth:`get_outputs` on the rays with ``far > near`` only; empty rays see the background.

        Per-ray outputs ``[R, ...]`` are scattered back; colours (keys starting with ``rgb``) of empty
        rays are their background, every other output is 0 there.
        """
        hit = (rays.far > rays.near)[:, 0]
        if bool(hit.all()):
            return self.get_outputs(rays, background, generator)
        inner = self.get_outputs(rays[hit], background[hit], generator)
        full = {}
        for key, value in inner.items():
            base = (background if key.startswith("rgb") else value.new_zeros((len(rays),) + value.shape[1:])).to(
                value.dtype
            )
            full[key] = base.index_put((hit,), value)
        return full

    def max_samples_per_ray(self, rays: RayBundle) -> Optional[int]:
        """An upper bound on the samples any of ``rays`` holds while rendering, or None when unknown.
        The view renderer (:func:`nerfplex.eval.view_rendering.render_view`) sizes its chunks by it."""
        return None
