"""``nerfplex train [METHOD] [--config FILE.yaml | --resume RUN_DIR] [--section.field VALUE ...]``."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from datetime import datetime
from pathlib import Path

import tyro

from nerfplex.config import (
    ExperimentConfig,
    as_experiment_config,
    experiment_config_class,
    load_config,
    save_config,
    validate,
    with_method,
)
from nerfplex.engine.checkpoint import check_matches, latest_checkpoint, load_checkpoint
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.errors import NerfplexError
from nerfplex.eval.run_report import report_after_training
from nerfplex.io import (
    OUTPUT_MARKER,
    check_free_space,
    check_writable,
    create_unique_folder,
    mark_output,
    os_error_message,
    remove_orphan_temporaries,
    written_by_nerfplex,
)
from nerfplex.models.registry import available_methods, method_summary
from nerfplex.viewer.config import ViewerConfig, take_viewer_flags
from nerfplex.viewer.training import close_training_viewer, start_training_viewer

DESCRIPTION = """Train a neural field. With no arguments: the built-in demo scene (configs/demo.yaml).

  METHOD               the method to train (first argument; nerfplex train --help lists them); without
                       it: the method of --config / --resume, else the demo's (tensorf)
  --config FILE.yaml   start from this YAML (it sets defaults; the flags below override it)
  --resume RUN_DIR     continue a run from its newest checkpoint, with its saved config
                       (flags still override it, e.g. a larger --trainer.max-steps)
  --run-dir DIR        write a new run into DIR (absent or empty) instead of OUTPUT_DIR/NAME/TIMESTAMP
                       (nerfplex sweep names its runs this way)
  --viewer             watch and steer training in a browser (docs/viewer.md); options: --viewer.host
                       (default 127.0.0.1), --viewer.port, --viewer.render-share, --viewer.max-resolution,
                       --viewer.no-keep-open ... (all listed by nerfplex view --help)

Runs are written to OUTPUT_DIR/EXPERIMENT_NAME/TIMESTAMP: config.yaml, checkpoints/, tensorboard/,
metrics.json. Watch with: tensorboard --logdir OUTPUT_DIR"""


_EXAMPLES = {
    "--config": "configs/demo.yaml",
    "--resume": "outputs/demo/20260101-120000",
    "--run-dir": "outputs/sweep/run-0",
}


def _take_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """Remove ``--name VALUE`` / ``--name=VALUE`` from ``args``."""
    rest, value, i = [], None, 0
    while i < len(args):
        if args[i] == name:
            if i + 1 >= len(args):
                raise NerfplexError(f"{name} needs a value.")
            value, i = args[i + 1], i + 2
            if not value or value.startswith("--"):
                raise NerfplexError(f"{name} needs a value, e.g. {name} {_EXAMPLES[name]}.")
            continue
        if args[i].startswith(name + "="):
            value = args[i].split("=", 1)[1]
            if not value:
                raise NerfplexError(f"{name}= is empty; give a value, e.g. {name} {_EXAMPLES[name]}.")
        else:
            rest.append(args[i])
        i += 1
    return value, rest


EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), with a checkpoint saved."""
EXIT_SIGTERM = 143
"""Exit status after SIGTERM (128 + SIGTERM), with a checkpoint saved."""


def new_run_dir(config: ExperimentConfig) -> Path:
    """Create a fresh folder OUTPUT_DIR/EXPERIMENT_NAME/TIMESTAMP[-N] and mark it as nerfplex's: created
    with ``mkdir`` (no ``exist_ok``), so two runs started in the same second get different folders."""
    base = Path(config.output_dir) / config.experiment_name / datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        run_dir = create_unique_folder(base)
        mark_output(run_dir, "run")
    except OSError as err:
        raise NerfplexError(os_error_message(err, base.parent)) from None
    return run_dir


def checkpoint_bytes_estimate(model) -> int:
    """Bytes one checkpoint of ``model`` takes: its tensors plus Adam's two moments per parameter, with
    a quarter more for growth and the temporary file."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return int(1.25 * (weights + 2 * params)) + 2**20


def _take_method(args: list[str]) -> tuple[str | None, list[str]]:
    """The method named by the first argument (``nerfplex train tensorf ...``) or, as in version 1 configs,
    by ``--model.method NAME``; and the other arguments."""
    named = None
    if args and not args[0].startswith("-"):
        named, args = args[0], args[1:]
        if named not in available_methods():
            hint = " To start from a YAML file use --config FILE." if named.endswith((".yaml", ".yml")) else ""
            raise NerfplexError(f"unknown method {named!r}. Methods: {', '.join(available_methods())}.{hint}")
    rest, flagged, i = [], None, 0
    while i < len(args):
        if args[i] == "--model.method" and i + 1 < len(args):
            flagged, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--model.method="):
            flagged = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    if named and flagged and named != flagged:
        raise NerfplexError(f"the method is named twice: {named} and --model.method {flagged}. Name it once.")
    return named or flagged, rest


def methods_help() -> str:
    """``nerfplex train --help`` without a method: the options every run has and the methods."""
    lines = [
        "usage: nerfplex train [METHOD] [--config FILE.yaml | --resume RUN_DIR] [OPTIONS]",
        "",
        DESCRIPTION,
        "",
        "methods (nerfplex train METHOD --help lists every option of METHOD):",
    ]
    lines += [f"  {name:<10} {method_summary(name)}" for name in available_methods()]
    lines += [
        "",
        "Options of every method: --experiment-name, --output-dir, --data.*, --loss.*, --optim.*,",
        "--trainer.*; a method's own: --model.METHOD.* (e.g. --model.tensorf.n-voxel-final). Without",
        "--config, nerf and tensorf start from the CPU demo's sizes (configs/demo.yaml, configs/nerf_demo.yaml),",
        "the others from their authors' defaults. Plug-in packages add methods (docs/adding-a-method.md).",
    ]
    return "\n".join(lines)


def parse(args: list[str]) -> tuple[ExperimentConfig, Path | None]:
    """The resolved config and, when resuming, the run folder."""
    method, args = _take_method(args)
    config_path, args = _take_option(args, "--config")
    resume, args = _take_option(args, "--resume")
    if config_path and resume:
        raise NerfplexError("use either --config or --resume, not both (a resumed run keeps its config).")
    base = ExperimentConfig()
    run_dir = None
    if resume:
        run_dir = Path(resume)
        if run_dir.name == "config.yaml" and run_dir.is_file():
            run_dir = run_dir.parent
        if not run_dir.is_dir():
            raise NerfplexError(
                f"--resume {run_dir}: no such folder. Pass the run folder that training "
                f"printed, e.g. outputs/demo/20260101-120000."
            )
        if not (run_dir / "config.yaml").is_file():
            raise NerfplexError(
                f"{run_dir} is not a run folder (no config.yaml in it). Pass the folder "
                f"that training printed, e.g. outputs/demo/20260101-120000."
            )
        base = load_config(run_dir / "config.yaml")
    elif config_path:
        base = load_config(Path(config_path))
    elif method is None and ("-h" in args or "--help" in args):
        print(methods_help())
        raise SystemExit(0)
    if method and resume and method != base.model.method:
        raise NerfplexError(
            f"{run_dir} trains '{base.model.method}'; a resumed run keeps its method. Drop "
            f"'{method}', or start a new run."
        )
    base = with_method(base, method or base.model.method)
    config = tyro.cli(
        experiment_config_class(base.model.method),
        default=base,
        args=args,
        prog=f"nerfplex train {base.model.method}",
        description=DESCRIPTION,
    )
    config = as_experiment_config(config)
    return validate(config), run_dir


def run(args: list[str]) -> int:
    viewer_config, args = take_viewer_flags(args)
    explicit_dir, args = _take_option(args, "--run-dir")
    config, run_dir = parse(args)
    resuming = run_dir is not None
    if explicit_dir and resuming:
        raise NerfplexError("use either --run-dir or --resume, not both (--resume continues in its folder).")
    if explicit_dir:
        run_dir = Path(explicit_dir)
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise NerfplexError(
                f"--run-dir {run_dir} exists and is not an empty folder; nerfplex does not "
                f"overwrite it. Resume it with --resume {run_dir}, or choose a new folder."
            )
    # Pre-flight, before any data is loaded: the folder exists (created here for a new run), is
    # writable, has room; a resumed run's checkpoint fits the config.
    created = None
    if resuming:
        check_resumable(config, run_dir)
    elif _rank() == 0:
        target = run_dir or Path(config.output_dir) / config.experiment_name
        created_root = next((p for p in reversed([target, *target.parents]) if not p.exists()), None)
        created = run_dir = _claim_empty_folder(run_dir) if run_dir else new_run_dir(config)
        created_root = created_root or (None if explicit_dir else run_dir)  # never a folder the user made
    else:  # torchrun: rank 0 creates the folder, the Trainer hands its name to the other ranks
        run_dir = run_dir or Path(config.output_dir)
    try:
        if _rank() == 0:
            check_writable(run_dir)
            check_free_space(run_dir, MIN_FREE_BYTES, "a run's config, logs and first checkpoint")
        return _train(config, run_dir, resuming, viewer_config)
    except BaseException:
        if created is not None and latest_checkpoint(created) is None:
            _remove_run_files(created, created_root)  # a failed new run leaves nothing; with a checkpoint
        raise  # it is resumable


MIN_FREE_BYTES = 16 * 2**20
"""Free space a new run needs before its model is built (the model's checkpoint size is checked after)."""


def _rank() -> int:
    return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


def _claim_empty_folder(run_dir: Path) -> Path:
    """``--run-dir``: create it (or take it while empty) and mark it as nerfplex's."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NerfplexError(os_error_message(err, run_dir)) from None
    mark_output(run_dir, "run")
    return run_dir


def _remove_run_files(run_dir: Path, created_root: Path | None) -> None:
    """Remove what nerfplex wrote into a failed new run folder, then the folders this run created
    (``run_dir`` up to ``created_root``) while they are empty."""
    if not written_by_nerfplex(run_dir):
        return
    for entry in run_dir.iterdir():
        if entry.name != OUTPUT_MARKER:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
    (run_dir / OUTPUT_MARKER).unlink(missing_ok=True)
    folder = run_dir
    while created_root is not None and (folder == created_root or created_root in folder.parents):
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent


def check_resumable(config: ExperimentConfig, run_dir: Path) -> None:
    """Before loading data: clean a killed run's temporaries, then check that the newest checkpoint
    exists, loads and fits ``config`` (so config.yaml never disagrees with the weights)."""
    for folder in (run_dir, run_dir / "checkpoints"):
        remove_orphan_temporaries(folder)
    path = latest_checkpoint(run_dir)
    if path is None:
        raise NerfplexError(
            f"no checkpoint in {run_dir / 'checkpoints'}; nothing to resume. Start a new run "
            f"instead (nerfplex train --config {run_dir / 'config.yaml'})."
        )
    state = load_checkpoint(path, mmap=True)
    check_matches(
        state.get("meta"),
        config,
        path,
        "Resume without changing --model.* flags (the run's config.yaml has the right settings), or start a new run.",
    )


def _train(config: ExperimentConfig, run_dir: Path, resuming: bool, viewer_config: ViewerConfig | None = None) -> int:
    trainer = Trainer(config, run_dir)
    run_dir, main = trainer.run_dir, trainer.dist.is_main  # under torchrun: rank 0's folder, rank 0 writes
    if resuming:
        trainer.resume()
    if main:
        check_free_space(run_dir, checkpoint_bytes_estimate(trainer.model), "one checkpoint")
        save_config(config, run_dir / "config.yaml")
        print(f"run folder: {run_dir}", flush=True)
    viewer = start_training_viewer(trainer, viewer_config, main)  # or prints how to turn it on
    try:
        metrics = trainer.train()
    except TrainingInterrupted as stop:
        if main:
            name = "SIGTERM" if stop.args[1] == signal.SIGTERM else "Ctrl-C"
            print(
                f"\n{name}: checkpoint saved to {stop.args[0]}\nresume with: nerfplex train --resume {run_dir}",
                file=sys.stderr,
            )
        return EXIT_SIGTERM if stop.args[1] == signal.SIGTERM else EXIT_INTERRUPTED
    if not main:
        return 0
    print(
        f"held-out PSNR {metrics['psnr']:.2f} dB over {metrics['num_test_views']} views after "
        f"{metrics['step']} steps ({metrics['train_seconds']:.0f} s training)"
    )
    print(f"run folder: {run_dir}")
    report_after_training(run_dir)
    close_training_viewer(viewer)  # --viewer: serves on until Ctrl-C
    return 0
