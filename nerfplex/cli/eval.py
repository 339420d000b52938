"""``nerfplex eval --load-config RUN/config.yaml``: render every test view, score it with PSNR / SSIM /
LPIPS / DreamSim, write per-image and mean metrics (JSON, CSV) and the rendered images."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import torch
import tyro

from nerfplex.errors import NerfplexError
from nerfplex.io import check_output_folder
from nerfplex.metrics.image_metrics import METRIC_NAMES

MetricName = Literal["psnr", "ssim", "lpips_alex", "lpips_vgg", "dreamsim"]
DreamSimModel = Literal[
    "ensemble",
    "dino_vitb16",
    "clip_vitb32",
    "open_clip_vitb32",
    "synclr_vitb16",
    "dino_vitb16_patch",
    "dinov2_vitb14",
    "dinov2_vitb14_patch",
]


@dataclass
class EvalArgs:
    """Render every test view of a trained run (newest checkpoint) and score it. Writes
    RUN/eval/step_<N>/ (metrics.json, metrics.csv, rgb/, depth/, error/) and logs the means to the run's
    TensorBoard as test/<metric>. Pretrained weights are read from local files only; a metric whose
    files are missing is reported as skipped, with the files to download (docs/evaluation.md)."""

    load_config: Path
    """The run's config.yaml (or the run folder)."""
    checkpoint: Optional[Path] = None
    """A checkpoint file of the run; default: its newest."""
    output: Optional[Path] = None
    """Folder to write; default RUN/eval/step_<N> (replacing an earlier evaluation of that step)."""
    overwrite: bool = False
    """Replace an existing, non-empty --output folder that nerfplex wrote (never a folder it did not)."""
    metrics: tuple[MetricName, ...] = METRIC_NAMES
    """Metrics to compute."""
    weights_dir: Optional[Path] = None
    """Folder of pretrained weights: LPIPS trunks in hub/checkpoints/, DreamSim in dreamsim/. Default:
    $TORCH_HOME, else ~/.cache/torch."""
    dreamsim_model: DreamSimModel = "ensemble"
    """DreamSim model: the ensemble (the default, best agreement with people) or a single branch."""
    max_views: Optional[int] = None
    """Score only this many test views, evenly spaced (default: all)."""
    render_chunk: Optional[int] = None
    """Rays per forward pass; default: the run's trainer.render_chunk."""
    save_images: bool = True
    """Write the rendered rgb / depth / error images."""
    tensorboard: bool = True
    """Log the mean metrics to RUN/tensorboard as test/<metric> at the checkpoint's step."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to render: auto picks CUDA when available."""
    progress: bool = True
    """Show a progress bar."""


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise NerfplexError("--device cuda but no CUDA device is available; use --device cpu (or auto).")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def evaluate(args: EvalArgs) -> dict:
    """Run the evaluation; returns the report written as metrics.json."""
    from nerfplex.engine.evaluation import evenly_spaced
    from nerfplex.engine.logger import log_evaluation_to_tensorboard
    from nerfplex.eval.image_evaluation import ImageEvalSettings, write_evaluation
    from nerfplex.metrics.image_metrics import build_metrics
    from nerfplex.metrics.weights import default_weights_dir
    from nerfplex.render.background import background_colors
    from nerfplex.run_loading import load_run

    if args.max_views is not None and args.max_views < 1:
        raise NerfplexError(f"--max-views must be at least 1, got {args.max_views}.")
    if args.render_chunk is not None and args.render_chunk < 1:
        raise NerfplexError(f"--render-chunk must be at least 1, got {args.render_chunk}.")
    if args.output is not None:
        check_output_folder(args.output, args.overwrite)  # before any work
    run = load_run(args.load_config, args.checkpoint)
    device = resolve_device(args.device)
    model = run.model.to(device)
    config = run.config
    metrics, skipped = build_metrics(
        list(dict.fromkeys(args.metrics)), args.weights_dir, dreamsim_kind=args.dreamsim_model, device=str(device)
    )
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    settings = ImageEvalSettings(
        background=background_colors(config.trainer.eval_background, 1, "cpu")[0],
        chunk_size=args.render_chunk or config.trainer.render_chunk,
        max_samples=config.trainer.render_max_samples,
        aabb=run.scene.aabb if config.data.ray_bounds == "aabb" else None,
        save_images=args.save_images,
        progress=args.progress,
    )
    indices = evenly_spaced(len(run.scene.test), args.max_views)
    output = args.output or run.run_dir / "eval" / f"step_{run.step}"
    info = {
        "run": str(run.run_dir),
        "checkpoint": str(run.checkpoint),
        "step": run.step,
        "method": config.model.method,
        "scene": run.scene.name,
        "device": str(device),
        "weights_dir": str(args.weights_dir or default_weights_dir()),
        "dreamsim_model": args.dreamsim_model,
    }
    report = write_evaluation(
        output,
        model,
        run.scene,
        indices,
        metrics,
        skipped,
        settings,
        info,
        overwrite=args.overwrite or args.output is None,
    )
    report["output"] = str(output)
    if args.tensorboard:
        report["tensorboard_tags"] = log_evaluation_to_tensorboard(run.run_dir, run.step, report["metrics"])
    return report


def run(argv: list[str]) -> int:
    args = tyro.cli(EvalArgs, args=argv, prog="nerfplex eval")
    report = evaluate(args)
    means = ", ".join(f"{name} {value:.4f}" for name, value in report["metrics"].items() if value is not None)
    print(f"{report['num_views']} test views at step {report['step']}: {means or 'no metric'}")
    if report["skipped"]:
        print(f"skipped: {', '.join(report['skipped'])} (reasons in metrics.json)")
    print(f"written: {report['output']}")
    return 0
