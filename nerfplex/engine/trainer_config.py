"""``TrainerConfig``: the training loop's settings (``trainer.*``), apart from the loop so that the
config tree imports no training code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    train_background: BackgroundMode = "white"
    """Background behind transparent pixels while training: white, black or random."""
    eval_background: Literal["white", "black"] = "white"
    """Background behind transparent pixels for evaluation (the NeRF papers: white)."""
    seed: int = 0
    """Seed of model initialisation, ray sampling and jitter."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: auto picks CUDA when available."""
    progress_bar: bool = True
    """Show a progress bar with ETA."""
    keep_freed_memory: bool = True
    """On the CPU, tell glibc to keep freed memory for reuse instead of returning it to the OS after
    every large temporary: 13x fewer page faults for a higher peak (TensoRF's first 56 lego steps:
    1.9x faster, 8.1 GB instead of 5.4 GB peak; docs/performance.md). Turn off when memory is tight."""
    mixed_precision: bool = False
    """On CUDA, run the forward pass and losses under autocast (``mixed_precision_dtype``; float16
    adds gradient scaling). On the CPU this is a no-op: training stays float32 (engine/amp.py)."""
    mixed_precision_dtype: PrecisionDtype = "bfloat16"
    """Autocast dtype of ``mixed_precision``: bfloat16 (no loss scaling needed) or float16."""
