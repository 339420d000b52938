"""What the trainer calls back between steps: the interface for watchers such as the live viewer.

A hook runs in the training thread, after a step and its evaluation / checkpoint, outside the time the
trainer counts as training. It may block (the viewer pauses training there, or lends the model to a
render), call ``trainer.save()``, or read ``trainer.last_batch``; it must not draw from the trainer's
random generators, so that a run with hooks reaches the same weights as one without.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

if TYPE_CHECKING:
    from nerfplex.engine.trainer import Trainer


class TrainerHook:
    """Base class with no-op callbacks; override what you need and append to ``trainer.hooks``."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Before the first step of :meth:`Trainer.train` (also after a resume)."""

    def on_step_end(self, trainer: Trainer, values: dict[str, Tensor | float]) -> None:
        """After step ``trainer.step`` (already incremented); ``values`` are the loss terms, PSNR and
        learning rate that :meth:`Trainer.train_step` returned (0-d tensors or floats)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """When :meth:`Trainer.train` returns or raises (finished, stopped early, interrupted)."""
