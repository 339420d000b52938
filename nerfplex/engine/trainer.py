"""The training loop: batches, losses, optimiser, evaluation, logging, checkpoints, resume."""

from __future__ import annotations

import json
import resource
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor
from tqdm import tqdm

from nerfplex.data.loading import load_scene
from nerfplex.data.ray_sampler import RayBatchSampler
from nerfplex.data.scene import SceneData
from nerfplex.engine.amp import MixedPrecision
from nerfplex.engine.checkpoint import (
    check_matches,
    checkpoint_meta,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    load_model_weights,
    non_finite_entries,
    prune_checkpoints,
    save_checkpoint,
)
from nerfplex.engine.distributed import (
    average_gradients,
    broadcast_object,
    check_batch_size,
    init_distributed,
    slice_batch,
)
from nerfplex.engine.evaluation import evaluate_split, evenly_spaced
from nerfplex.engine.hooks import TrainerHook
from nerfplex.engine.host_memory import keep_freed_memory
from nerfplex.engine.logger import TensorBoardLogger
from nerfplex.engine.optim import build_optimizer, decay_factor, set_decay
from nerfplex.errors import NerfplexError
from nerfplex.eval.visualize import depth_image, error_image
from nerfplex.io import remove_orphan_temporaries, write_text_atomic
from nerfplex.losses.shared_losses import shared_losses
from nerfplex.metrics.image_metrics import mean_metric
from nerfplex.metrics.psnr import mse_to_psnr
from nerfplex.models.registry import build_model
from nerfplex.render.background import background_colors

if TYPE_CHECKING:
    from nerfplex.config import ExperimentConfig


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM during training; a checkpoint was saved. ``args[0]`` is the checkpoint path,
    ``args[1]`` the signal number (``signal.SIGINT`` or ``signal.SIGTERM``)."""


class Trainer:
    """Trains ``config.model`` on ``config.data``; writes TensorBoard events, checkpoints and metrics
    into ``run_dir``.

    All randomness is drawn from two generators the trainer owns and checkpoints (ray indices on the
    CPU; jitter and random backgrounds on the device), so a resumed run continues exactly.
    """

    def __init__(self, config: ExperimentConfig, run_dir: Path, scene: Optional[SceneData] = None):
        self.config = config
        self.run_dir = Path(run_dir)
        cfg = config.trainer
        self.device = torch.device(
            "cuda"
            if cfg.device == "auto" and torch.cuda.is_available()
            else ("cpu" if cfg.device == "auto" else cfg.device)
        )
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise NerfplexError(
                "trainer.device is 'cuda' but no CUDA device is available. Use --trainer.device cpu (or auto)."
            )
        # Under torchrun: join the process group; rank 0's run folder is everyone's (docs/distributed.md).
        self.dist, self.device = init_distributed(self.device)
        check_batch_size(cfg.batch_size, self.dist)
        self.run_dir = Path(broadcast_object(str(self.run_dir), self.dist))
        self.amp = MixedPrecision(cfg.mixed_precision, cfg.mixed_precision_dtype, self.device)
        if self.amp.ignored and self.dist.is_main:
            tqdm.write("trainer.mixed_precision applies on CUDA only: training on the CPU in float32.")
        if self.device.type == "cpu" and cfg.keep_freed_memory:
            keep_freed_memory()
        self.scene = scene if scene is not None else load_scene(config.data)
        torch.manual_seed(cfg.seed)
        self.model = build_model(config.model, self.scene, self.device).to(self.device)
        self.optimizer = build_optimizer(self.model, config.optim)
        self.aabb = self.scene.aabb if config.data.ray_bounds == "aabb" else None
        self.sampler = RayBatchSampler(
            self.scene.train, cfg.batch_size, self.scene.near, self.scene.far, self.device, self.aabb
        )
        self.index_generator = torch.Generator().manual_seed(cfg.seed)
        # Ray ids: the same stream on every process. Jitter, backgrounds, S3IM: one stream per process.
        self.sample_generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 1 + 1000 * self.dist.rank)
        self.eval_indices = evenly_spaced(len(self.scene.test), config.data.max_test_views)
        self.step = 0
        self.train_seconds = 0.0
        self.eval_history: list[dict] = []  # [{"step", "psnr", "ssim"}] of each evaluation
        self._stop_requested = False
        self._stop_signal = signal.SIGINT
        self.hooks: list[TrainerHook] = []  # called between steps (engine/hooks.py; e.g. the viewer)
        self.last_batch: Optional[dict[str, Tensor]] = None  # with hooks: the last step's "rgb" / "target"

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "train_seconds": self.train_seconds,
            "eval_history": self.eval_history,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "index_rng": self.index_generator.get_state(),
            "sample_rng": self.sample_generator.get_state(),
            "grad_scaler": self.amp.state_dict(),
            "meta": checkpoint_meta(self.config, self.model),
        }

    def save(self) -> Path:
        """Write a checkpoint (rank 0 only under torchrun; every rank returns its path)."""
        path = checkpoint_path(self.run_dir, self.step)
        state = self.state_dict()
        # A checkpoint is only good when every weight and optimiser value is finite (every rank checks).
        bad = non_finite_entries({"model": state["model"], "optimizer": state["optimizer"]})
        if bad:
            self._diverged(
                f"non-finite values in {', '.join(bad[:3])}" + (" ..." if len(bad) > 3 else ""), step=self.step
            )
        if self.dist.is_main:
            save_checkpoint(path, state)
            prune_checkpoints(self.run_dir, self.config.trainer.keep_checkpoints)
        return path

    def resume(self, path: Optional[Path] = None) -> None:
        """Continue from ``path`` or the run's newest checkpoint."""
        path = path or latest_checkpoint(self.run_dir)
        if path is None:
            raise NerfplexError(
                f"no checkpoint in {self.run_dir / 'checkpoints'}; nothing to resume. Start a new run instead."
            )
        remove_orphan_temporaries(Path(path).parent)  # what a killed run was writing
        state = load_checkpoint(path, map_location=self.device)
        fix = (
            "Resume without changing --model.* flags (the run's config.yaml has the right settings), "
            "or start a new run."
        )
        check_matches(state.get("meta"), self.config, path, fix)
        load_model_weights(self.model, state, path, fix)
        # Rebuilt, because loading may have changed parameter shapes (e.g. upsampled grids).
        self.optimizer = build_optimizer(self.model, self.config.optim)
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state.get("sampler", {}))
        self.index_generator.set_state(state["index_rng"].cpu())
        self.sample_generator.set_state(state["sample_rng"].cpu())
        self.amp.load_state_dict(state.get("grad_scaler", {}))
        self.step, self.train_seconds = state["step"], state["train_seconds"]
        if self.dist.rank:  # the checkpoint holds rank 0's stream; the others branch off it
            seed = self.config.trainer.seed + 1 + 1000 * self.dist.rank + self.step
            self.sample_generator.manual_seed(seed)
        self.eval_history = list(state.get("eval_history", []))

    # ----------------------------------------------------------------- training
    def train_step(self) -> dict[str, Tensor | float]:
        """One optimisation step; returns the loss terms (0-d tensors), PSNR and the learning rate."""
        cfg = self.config.trainer
        if self.model.on_train_step(self.step):
            self.optimizer = build_optimizer(self.model, self.config.optim)
        keep = self.model.training_ray_filter(self.step)
        if keep is not None:
            kept = self.sampler.restrict(keep)
            tqdm.write(
                f"step {self.step}: training rays restricted to {kept:,} of {self.sampler.num_pixels:,} pixels"
                if kept
                else f"step {self.step}: no training ray passed the model's filter; the rays stay as they were"
            )
        set_decay(
            self.optimizer,
            self.model.learning_rate_factor(
                self.step, lambda steps: decay_factor(self.config.optim, steps, cfg.max_steps)
            ),
        )
        batch = self.sampler.sample(self.index_generator)
        background = background_colors(
            cfg.train_background, cfg.batch_size, self.device, generator=self.sample_generator
        )
        if self.dist.enabled:  # this process's slice of the global batch
            part = self.dist.slice(cfg.batch_size)
            batch, background = slice_batch(batch, part), background[part]
        with self.amp.autocast():
            outputs = self.model.render(batch.rays, background, generator=self.sample_generator)
            target = batch.target(background)
            losses = self.model.get_loss_dict(outputs, target, batch)
            losses.update(
                shared_losses(self.config.loss, outputs, target, batch.depth, self.scene.far, self.sample_generator)
            )
        total = sum(losses.values())
        finite = bool(torch.isfinite(total))
        if not finite and not self.dist.enabled:
            self._diverged(f"the loss became {float(total.detach())}")
        self.optimizer.zero_grad(set_to_none=True)
        self.amp.backward(total)
        if self.dist.enabled:  # average gradients; every process learns of a NaN or a Ctrl-C anywhere
            diverged, self._stop_requested = average_gradients(
                self.model, self.dist, [not finite, self._stop_requested]
            )
            if diverged:
                self._diverged(f"the loss became {float(total.detach())}")
        self.amp.step(self.optimizer)
        self.step += 1
        if self.hooks:
            self.last_batch = {"rgb": outputs["rgb"].detach(), "target": target.detach()}
        with torch.no_grad():
            psnr = mse_to_psnr(torch.mean((outputs["rgb"] - target) ** 2))
        # Detached tensors: converting to floats only when logging spares a device sync per term.
        return {
            "loss/total": total.detach(),
            **{f"loss/{k}": v.detach() for k, v in losses.items()},
            "train/psnr": psnr,
            "train/lr": self.optimizer.param_groups[0]["lr"],
        }

    def _diverged(self, what: str, step: Optional[int] = None) -> None:
        last = latest_checkpoint(self.run_dir)
        resume = f"resume with --resume {self.run_dir} after lowering it" if last else "start again"
        raise NerfplexError(
            f"{what} at step {step or self.step + 1}: training diverged. The last good checkpoint "
            f"({last or 'none yet'}) is intact. Lower the learning rate (docs/reliability.md), check the "
            f"images for NaN pixels, and {resume}."
        )

    def train(self, until_step: Optional[int] = None) -> dict:
        """Train to ``trainer.max_steps`` (or stop early at ``until_step``, saving a checkpoint).

        Returns the final metrics (also written to ``metrics.json``) when the run completes; raises
        :class:`TrainingInterrupted` after Ctrl-C (a checkpoint of the last full step is saved first).
        """
        cfg = self.config.trainer
        stop_at = min(until_step or cfg.max_steps, cfg.max_steps)
        main = self.dist.is_main  # under torchrun, rank 0 alone logs, evaluates and checkpoints
        logger = TensorBoardLogger(self.run_dir / "tensorboard") if main else None
        previous_handler = self._install_sigint_handler()
        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            disable=not cfg.progress_bar or not main,
            desc="train",
            unit="step",
            dynamic_ncols=True,
        )
        try:
            for hook in self.hooks:
                hook.on_train_start(self)
            window_start, window_steps = time.perf_counter(), 0
            while self.step < stop_at:
                values = self.train_step()
                window_steps += 1
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == stop_at:
                    elapsed = time.perf_counter() - window_start
                    self.train_seconds += elapsed
                    values = {key: float(value) for key, value in values.items()}
                    values["train/rays_per_sec"] = window_steps * cfg.batch_size / max(elapsed, 1e-9)
                    if logger is not None:
                        logger.scalars(values, self.step)
                    bar.set_postfix(loss=f"{values['loss/total']:.4f}", psnr=f"{values['train/psnr']:.2f}")
                    window_start, window_steps = time.perf_counter(), 0
                pause = time.perf_counter()  # evaluation and checkpoints do not count as training time
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps and main:
                    self.evaluate(logger, train_seconds=self.train_seconds + pause - window_start, final=False)
                if self.step % cfg.checkpoint_every == 0 and self.step < stop_at:
                    self.save()
                for hook in self.hooks:  # hooks (a paused viewer, its renders) do not count either
                    hook.on_step_end(self, values)
                window_start += time.perf_counter() - pause
                if self._stop_requested:
                    raise TrainingInterrupted(self.save(), self._stop_signal)
            self.train_seconds += time.perf_counter() - window_start if window_steps else 0.0
            if self.step < cfg.max_steps:
                self.save()
                return {}
            return broadcast_object(self.finish(logger) if main else None, self.dist)
        finally:
            for hook in self.hooks:
                hook.on_train_end(self)
            bar.close()
            if logger is not None:
                logger.close()
            for signum, previous in previous_handler.items():
                if previous is not None:
                    signal.signal(signum, previous)

    def _install_sigint_handler(self) -> dict:
        """First Ctrl-C (or SIGTERM): finish the current step, checkpoint, stop. Second: stop at once.
        Returns the handlers it replaced."""

        def handler(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested, self._stop_signal = True, signum
            name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
            tqdm.write(f"{name}: finishing this step and saving a checkpoint (press Ctrl-C again to abort).")

        previous = {}
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: leave the signals alone
            pass
        return previous

    # ----------------------------------------------------------------- evaluation
    def evaluate(
        self, logger: Optional[TensorBoardLogger] = None, train_seconds: Optional[float] = None, final: bool = True
    ) -> list[dict]:
        """Render the held-out views; record and log mean PSNR / SSIM (means of per-image values) and
        pictures. The history entry also keeps the training time so far (``train_seconds``, default
        the trainer's count), the seconds spent rendering and scoring the views, how many views and the
        pixel stride. ``final=False`` (evaluations during training) renders the bounded budget of
        ``trainer.eval_views`` / ``trainer.eval_stride``; the final evaluation every view in full."""
        cfg = self.config.trainer
        background = background_colors(cfg.eval_background, 1, "cpu")[0]
        indices, stride = self.eval_indices, 1
        if not final:
            indices = [indices[i] for i in evenly_spaced(len(indices), cfg.eval_views or None)]
            stride = cfg.eval_stride
        start = time.perf_counter()
        results, view = evaluate_split(
            self.model,
            self.scene.test,
            self.scene.near,
            self.scene.far,
            background,
            cfg.render_chunk,
            indices,
            self.aabb,
            max_samples=cfg.render_max_samples,
            stride=stride,
            progress=cfg.progress_bar,
            desc=f"eval step {self.step}",
        )
        render_seconds = time.perf_counter() - start
        means = {key: mean_metric(results, key) for key in ("psnr", "ssim")}
        self.eval_history = [h for h in self.eval_history if h["step"] != self.step]
        self.eval_history.append(
            {
                "step": self.step,
                **means,
                "train_seconds": self.train_seconds if train_seconds is None else train_seconds,
                "render_seconds": render_seconds,
                "views": len(indices),
                "stride": stride,
            }
        )
        tqdm.write(
            f"step {self.step}: held-out " + ", ".join(f"{k} {v:.4f}" for k, v in means.items() if v is not None)
        )
        if logger is not None:
            logger.scalars({f"eval/{k}": v for k, v in means.items() if v is not None}, self.step)
            target = self.scene.test.composite(background, indices[0])[::stride, ::stride]
            logger.image("eval/rgb", torch.cat([view.rgb, target], dim=1), self.step)
            logger.image(
                "eval/depth", depth_image(view.depth, view.opacity, self.scene.near, self.scene.far), self.step
            )
            logger.image("eval/error", error_image(view.rgb, target), self.step)
            logger.flush()
        return results

    def finish(self, logger: TensorBoardLogger) -> dict:
        """Final checkpoint, then the final evaluation (a failure there loses no training); writes
        ``metrics.json`` atomically and returns it."""
        self.save()
        results = self.evaluate(logger)
        self.save()  # again, now with the final evaluation in its history (same step: replaced atomically)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if self.device.type == "cuda":
            peak_mb = torch.cuda.max_memory_allocated() / 2**20
        metrics = {
            "step": self.step,
            "psnr": self.eval_history[-1]["psnr"],
            "ssim": self.eval_history[-1]["ssim"],
            "per_image": results,
            "num_test_views": len(results),
            "train_seconds": self.train_seconds,
            "rays_per_second": self.step * self.config.trainer.batch_size / max(self.train_seconds, 1e-9),
            "peak_memory_mb": peak_mb,
            "peak_memory_kind": "cuda_allocated" if self.device.type == "cuda" else "process_rss",
            "method": self.config.model.method,
            "scene": self.scene.name,
            "s3im_weight": self.config.loss.s3im.weight,
            "eval_history": self.eval_history,
        }
        write_text_atomic(self.run_dir / "metrics.json", json.dumps(metrics, indent=2))
        return metrics
