"""``TrainerConfig``: the training loop's settings (``trainer.*``), apart from the loop so that the
config tree imports no training code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nerfplex.config_checks import Check, non_negative, positive
from nerfplex.engine.amp import PrecisionDtype
from nerfplex.render.background import BackgroundMode


@dataclass
class TrainerConfig:
    """The training loop."""

    max_steps: int = 30000
    """Number of optimisation steps."""
    batch_size: int = 4096
    """Rays per step, drawn at random across all training images."""
    eval_every: int = 5000
    """Render the held-out views and log PSNR every this many steps (0: only at the end)."""
    log_every: int = 50
    """Log training scalars every this many steps."""
    checkpoint_every: int = 5000
    """Save a checkpoint every this many steps (and always at the end)."""
    keep_checkpoints: int = 2
    """How many of the newest checkpoints to keep."""
    render_chunk: int = 8192
    """Rays per forward pass when rendering whole images (bounds memory)."""
    render_max_samples: int = 1 << 21
    """Most candidate samples held at once when rendering whole images (evaluation, ``nerfplex eval`` /
    ``render``): chunks shrink below ``render_chunk`` rays for models that bound their samples per ray
    (``ngp``'s marching). 0: ``render_chunk`` alone."""
    eval_views: int = 0
    """Held-out views rendered by each evaluation during training, evenly spaced (0: all of them, up
    to ``data.max_test_views``). The final evaluation and ``nerfplex eval`` always use all of them."""
    eval_stride: int = 1
    """Evaluations during training render every this-many-th row and column of each view and score
    them against the same pixels of the photo (1: full images; SSIM is then of the strided image).
    The final evaluation always renders full images."""
    train_background: BackgroundMode = "white"
    """Background behind transparent pixels while training: white, black or random."""
    eval_background: Literal["white", "black"] = "white"
    """Background behind transparent pixels for evaluation (the NeRF papers: white)."""
    seed: int = 0
    """Seed of model initialisation, ray sampling and jitter."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: auto picks CUDA when available."""
    progress_bar: bool = True
    """Show progress bars with ETA (training steps; evaluation rays with rays/s)."""
    keep_freed_memory: bool = True
    """On the CPU, tell glibc to keep freed memory for reuse instead of returning it to the OS after
    every large temporary: 13x fewer page faults for a higher peak (TensoRF's first 56 lego steps:
    1.9x faster, 8.1 GB instead of 5.4 GB peak; docs/performance.md). Turn off when memory is tight."""
    mixed_precision: bool = False
    """On CUDA, run the forward pass and losses under autocast (``mixed_precision_dtype``; float16
    adds gradient scaling). On the CPU this is a no-op: training stays float32 (engine/amp.py)."""
    mixed_precision_dtype: PrecisionDtype = "bfloat16"
    """Autocast dtype of ``mixed_precision``: bfloat16 (no loss scaling needed) or float16."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(
                self,
                "max_steps",
                "batch_size",
                "log_every",
                "checkpoint_every",
                "keep_checkpoints",
                "render_chunk",
                "eval_stride",
            ),
            *non_negative(self, "render_max_samples", "eval_views"),
            *non_negative(self, "eval_every"),
            ("seed", 0 <= self.seed < 2**63, "an integer in [0, 2^63)"),
        ]
