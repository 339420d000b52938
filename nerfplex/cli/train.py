"""``nerfplex train [--config FILE.yaml | --resume RUN_DIR] [--section.field VALUE ...]``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import tyro

from nerfplex.config import ExperimentConfig, load_config, save_config, validate
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.errors import NerfplexError
from nerfplex.eval.run_report import report_after_training

DESCRIPTION = """Train a neural field. With no arguments: the built-in demo scene (configs/demo.yaml).

  --config FILE.yaml   start from this YAML (it sets defaults; the flags below override it)
  --resume RUN_DIR     continue a run from its newest checkpoint, with its saved config
                       (flags still override it, e.g. a larger --trainer.max-steps)

Runs are written to OUTPUT_DIR/EXPERIMENT_NAME/TIMESTAMP: config.yaml, checkpoints/, tensorboard/,
metrics.json. Watch with: tensorboard --logdir OUTPUT_DIR"""


def _take_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """Remove ``--name VALUE`` / ``--name=VALUE`` from ``args``."""
    rest, value, i = [], None, 0
    while i < len(args):
        if args[i] == name:
            if i + 1 >= len(args):
                raise NerfplexError(f"{name} needs a value.")
            value, i = args[i + 1], i + 2
            continue
        if args[i].startswith(name + "="):
            value = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return value, rest


def new_run_dir(config: ExperimentConfig) -> Path:
    """A fresh folder name OUTPUT_DIR/EXPERIMENT_NAME/TIMESTAMP (not created yet)."""
    base = Path(config.output_dir) / config.experiment_name / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir, n = base, 1
    while run_dir.exists():
        run_dir, n = base.with_name(f"{base.name}-{n}"), n + 1
    return run_dir


def parse(args: list[str]) -> tuple[ExperimentConfig, Path | None]:
    """The resolved config and, when resuming, the run folder."""
    config_path, args = _take_option(args, "--config")
    resume, args = _take_option(args, "--resume")
    if config_path and resume:
        raise NerfplexError("use either --config or --resume, not both (a resumed run keeps its config).")
    base = ExperimentConfig()
    run_dir = None
    if resume:
        run_dir = Path(resume)
        if not (run_dir / "config.yaml").is_file():
            raise NerfplexError(f"{run_dir} is not a run folder (no config.yaml in it). Pass the folder "
                                f"that training printed, e.g. outputs/demo/20260101-120000.")
        base = load_config(run_dir / "config.yaml")
    elif config_path:
        base = load_config(Path(config_path))
    config = tyro.cli(ExperimentConfig, default=base, args=args, prog="nerfplex train",
                      description=DESCRIPTION)
    return validate(config), run_dir


def run(args: list[str]) -> int:
    config, run_dir = parse(args)
    resuming = run_dir is not None
    run_dir = run_dir or new_run_dir(config)
    trainer = Trainer(config, run_dir)  # loads data first: a bad dataset leaves no run folder behind
    run_dir, main = trainer.run_dir, trainer.dist.is_main  # under torchrun: rank 0's folder, rank 0 writes
    if resuming:
        trainer.resume()
    if main:
        save_config(config, run_dir / "config.yaml")
        print(f"run folder: {run_dir}", flush=True)
    try:
        metrics = trainer.train()
    except TrainingInterrupted as stop:
        if main:
            print(f"\ninterrupted: checkpoint saved to {stop.args[0]}\nresume with: nerfplex train "
                  f"--resume {run_dir}", file=sys.stderr)
        return 130
    if not main:
        return 0
    print(f"held-out PSNR {metrics['psnr']:.2f} dB over {metrics['num_test_views']} views after "
          f"{metrics['step']} steps ({metrics['train_seconds']:.0f} s training)")
    print(f"run folder: {run_dir}")
    report_after_training(run_dir)
    return 0
