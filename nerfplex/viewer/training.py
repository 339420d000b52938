"""The viewer's side of a training run: a :class:`~nerfplex.engine.hooks.TrainerHook` that reports the
training state to the page, pauses, writes checkpoints on request and lends the model to renders."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from torch import Tensor

from nerfplex.engine.hooks import TrainerHook
from nerfplex.viewer.config import ViewerConfig, check_viewer_config
from nerfplex.viewer.server import ViewedRun, Viewer

if TYPE_CHECKING:
    from nerfplex.engine.trainer import Trainer

STATUS_EVERY_SECONDS = 0.5
"""How often the page's training state is refreshed (each refresh converts the loss terms to floats)."""


class ViewerHook(TrainerHook):
    """Connects a :class:`Trainer` to a :class:`Viewer` (both in this process)."""

    def __init__(self, viewer: Viewer):
        self.viewer = viewer
        self._attached = False
        self._last_end = 0.0
        self._last_status = 0.0
        self._window_steps, self._window_seconds, self._rays_per_second = 0, 0.0, 0.0

    def on_train_start(self, trainer: Trainer) -> None:
        self.viewer.time_share.attach_trainer()
        self._attached = True
        self.viewer.finished = False
        self.viewer.pause_button.disabled = False
        self._last_end = time.perf_counter()
        self._report(trainer, {}, "running")

    def on_step_end(self, trainer: Trainer, values: dict[str, Tensor | float]) -> None:
        viewer = self.viewer
        step_seconds = time.perf_counter() - self._last_end
        viewer.last_batch = trainer.last_batch
        self._window_steps += 1
        self._window_seconds += step_seconds
        now = time.perf_counter()
        if now - self._last_status >= STATUS_EVERY_SECONDS:
            self._rays_per_second = (
                self._window_steps * trainer.config.trainer.batch_size / max(self._window_seconds, 1e-9)
            )
            self._window_steps, self._window_seconds = 0, 0.0
            self._report(trainer, values, "running")
            self._last_status = now
        self._save_if_asked(trainer)
        if viewer.paused.is_set():
            self._pause(trainer, values)
        viewer.time_share.lend(step_seconds)
        self._last_end = time.perf_counter()

    def on_train_end(self, trainer: Trainer) -> None:
        if self._attached:
            self.viewer.time_share.detach_trainer()
            self._attached = False
        done = trainer.step >= trainer.config.trainer.max_steps
        self.viewer.finished = True
        self._report(trainer, {}, "finished" if done else "stopped")
        self.viewer.pause_button.disabled = True

    # ------------------------------------------------------------------
    def _pause(self, trainer: Trainer, values) -> None:
        """Hold the training loop while the page says paused; renders have the model meanwhile."""
        viewer = self.viewer
        viewer.time_share.detach_trainer()
        self._report(trainer, values, "paused")
        try:
            while viewer.paused.is_set() and not getattr(trainer, "_stop_requested", False):
                viewer.changed.wait(timeout=0.1)
                viewer.changed.clear()
                self._save_if_asked(trainer)
        finally:
            viewer.time_share.attach_trainer()
        self._report(trainer, values, "running")

    def _save_if_asked(self, trainer: Trainer) -> None:
        if self.viewer.save_requested.is_set():
            self.viewer.save_requested.clear()
            path = trainer.save()
            self.viewer.show_message(f"checkpoint saved: `{path}`")

    def _report(self, trainer: Trainer, values: dict, state: str) -> None:
        losses = {key.removeprefix("loss/"): float(value) for key, value in values.items() if key.startswith("loss/")}
        last_eval = trainer.eval_history[-1] if trainer.eval_history else None
        self.viewer.show_training_state(
            {
                "step": trainer.step,
                "state": state,
                "losses": losses,
                "psnr": None if last_eval is None else last_eval["psnr"],
                "psnr_step": None if last_eval is None else last_eval["step"],
                "rays_per_second": self._rays_per_second,
            }
        )


def attach_viewer(trainer: Trainer, config: ViewerConfig) -> Viewer:
    """Start a viewer on ``trainer``'s model and register its hook; returns the viewer (call ``stop``)."""
    check_viewer_config(config)
    run = ViewedRun(trainer.model, trainer.scene, trainer.config, trainer.run_dir, trainer.step)
    viewer = Viewer(run, config, training=True)
    trainer.hooks.append(ViewerHook(viewer))
    return viewer


def start_training_viewer(trainer: Trainer, config: ViewerConfig | None, main: bool = True) -> Viewer | None:
    """``nerfplex train``: start the viewer when asked (``config``) and print its URL; otherwise print
    how to turn it on. Under torchrun only rank 0 (``main``) serves a page."""
    if not main:
        return None
    if config is None:
        print("watch and steer training in a browser: add --viewer (nerfplex view RUN for a finished run)", flush=True)
        return None
    viewer = attach_viewer(trainer, config)
    viewer.announce()
    return viewer


def close_training_viewer(viewer: Viewer | None) -> None:
    """After a finished ``nerfplex train --viewer``: keep serving until Ctrl-C (``keep_open``), then stop."""
    if viewer is None:
        return
    try:
        if viewer.config.keep_open:
            print(f"training finished; the viewer stays open at {viewer.url} (Ctrl-C to close)", flush=True)
            while True:
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nviewer closed")
    finally:
        viewer.stop()
