"""``nerfplex ablate``: one config with and without S3IM (several λ, several seeds) → table + plot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import tyro

from nerfplex.config import ExperimentConfig, load_config
from nerfplex.ablation import (ablation_configs, apply_overrides, plot_curves, summary_rows,
                                      write_tables)
from nerfplex.data.loading import load_scene
from nerfplex.engine.trainer import Trainer, TrainingInterrupted


@dataclass
class AblateArgs:
    """Train one config at each S3IM weight and seed, evaluate, and write ``results.csv``,
    ``summary.md`` and ``psnr_curves.png`` into the output folder. Example:
    nerfplex ablate --config configs/ablations/sparse_views.yaml --weights 0 1 --seeds 0 1"""

    config: Optional[Path] = None
    """Base experiment YAML (default: the built-in demo)."""
    weights: tuple[float, ...] = (0.0, 1.0)
    """S3IM weights λ to compare (0 = MSE only)."""
    seeds: tuple[int, ...] = (0,)
    """Training seeds; each weight is trained once per seed."""
    overrides: Annotated[tuple[str, ...], tyro.conf.arg(name="set")] = ()
    """Config overrides as KEY=VALUE, e.g. --set trainer.max_steps=500 data.resolution=32."""
    out: Optional[Path] = None
    """Output folder (default: OUTPUT_DIR/ablation/EXPERIMENT_NAME-TIMESTAMP)."""


def run(argv: list[str]) -> int:
    args = tyro.cli(AblateArgs, args=argv, prog="nerfplex ablate")
    base = load_config(args.config) if args.config else ExperimentConfig()
    base = apply_overrides(base, list(args.overrides))
    out = args.out or (Path(base.output_dir) / "ablation" /
                       f"{base.experiment_name}-{datetime.now():%Y%m%d-%H%M%S}")
    runs = ablation_configs(base, list(args.weights), list(args.seeds), out)
    scene = load_scene(base.data)  # the runs differ in loss weight and seed only
    results = []
    for index, (weight, seed, config) in enumerate(runs, start=1):
        run_dir = Path(config.output_dir) / config.experiment_name
        print(f"[{index}/{len(runs)}] S3IM weight {weight:g}, seed {seed} -> {run_dir}", flush=True)
        try:
            metrics = Trainer(config, run_dir, scene=scene).train()
        except TrainingInterrupted:
            print(f"interrupted; finished runs are tabulated in {out}", flush=True)
            return 130
        results.append({"weight": weight, "seed": seed, "psnr": metrics["psnr"], "ssim": metrics["ssim"],
                        "train_seconds": metrics["train_seconds"], "steps": metrics["step"],
                        "run_dir": str(run_dir), "history": metrics["eval_history"]})
        write_tables(results, out)  # partial tables survive an interrupted ablation
    plot_curves(results, out)
    print((out / "summary.md").read_text())
    print(f"ablation folder: {out}")
    return 0
