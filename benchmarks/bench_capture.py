"""A real capture with ``configs/capture.yaml``: training rays/s, samples per ray, held-out PSNR / SSIM
over training time, the share of time spent evaluating, render rays/s for a full view, peak RSS, and
pictures (a held-out view beside its photo, its depth map).

Usage::

    python benchmarks/bench_capture.py [--data ../shared/data/captures/fruit] [--config configs/capture.yaml]
        [--set KEY=VALUE ...] [--out benchmarks/results/capture_fruit.json] [--images docs/images/capture_fruit]

Run it alone on the machine (``flock -x /tmp/nerfplex-cpu.lock ...`` here): every figure is a time.
The training runs in this process through :class:`~nerfplex.engine.trainer.Trainer` exactly as
``nerfplex train`` would (evaluations during training with the config's budget, the full held-out
evaluation at the end); samples per ray are counted from the model's ``num_samples`` output (the
torch sampler's visible samples) at every step.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
from machine import cpu_times, machine_info, save_result, steal_fraction  # noqa: E402

from nerfplex.ablation import apply_overrides  # noqa: E402
from nerfplex.config import load_config  # noqa: E402
from nerfplex.data.images import write_png  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402
from nerfplex.eval.view_rendering import render_view  # noqa: E402
from nerfplex.eval.visualize import depth_image  # noqa: E402
from nerfplex.render.background import background_colors  # noqa: E402

WARMUP_STEPS = 256
"""Samples per ray are summarised after this many steps (the occupancy grid's warm-up)."""


def count_samples(trainer: Trainer) -> list[float]:
    """Record the median visible samples per ray of every training step (``num_samples``)."""
    medians: list[float] = []
    model = trainer.model
    original = model.get_outputs

    def recording(*args, **kwargs):
        out = original(*args, **kwargs)
        if model.training and "num_samples" in out:
            medians.append(float(out["num_samples"].median()))
        return out

    model.get_outputs = recording
    return medians


def save_pictures(trainer: Trainer, prefix: Path, index: int) -> dict:
    """Render held-out view ``index`` in full; write it beside its photo and its depth map as PNGs.
    Returns the file names and the render's rays/s."""
    cfg = trainer.config.trainer
    background = background_colors(cfg.eval_background, 1, "cpu")[0]
    split, scene = trainer.scene.test, trainer.scene
    trainer.model.eval()
    start = time.perf_counter()
    view = render_view(
        trainer.model,
        split.cameras,
        index,
        scene.near,
        scene.far,
        background,
        cfg.render_chunk,
        trainer.aabb,
        max_samples=cfg.render_max_samples,
    )
    seconds = time.perf_counter() - start
    photo = split.composite(background, index)
    side = write_png(prefix.with_name(prefix.name + "_heldout.png"), torch.cat([view.rgb.clamp(0, 1), photo], 1))
    # depth colour-mapped over the 2nd..98th percentile of the rendered depths (the scene spans decades)
    depth = view.depth[view.opacity > 0.5]
    low, high = (
        (float(torch.quantile(depth, 0.02)), float(torch.quantile(depth, 0.98)))
        if depth.numel()
        else (scene.near, scene.far)
    )
    depth_png = write_png(
        prefix.with_name(prefix.name + "_depth.png"), depth_image(view.depth, view.opacity, low, max(high, low + 1e-3))
    )
    pixels = split.cameras.width * split.cameras.height
    return {
        "view": split.names[index],
        "heldout_png": str(side),
        "depth_png": str(depth_png),
        "depth_range": [low, high],
        "render_seconds": seconds,
        "render_rays_per_second": pixels / seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "captures" / "fruit")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "capture.yaml")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra config overrides")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "capture_fruit.json")
    parser.add_argument(
        "--images",
        type=Path,
        default=REPO / "docs" / "images" / "capture_fruit",
        help="prefix of the PNGs (<prefix>_heldout.png, <prefix>_depth.png)",
    )
    parser.add_argument("--view", type=int, default=0, help="held-out view for the pictures")
    args = parser.parse_args()
    args.images = args.images.resolve()
    overrides = [f"data.path={args.data}", *args.set]
    config = apply_overrides(load_config(args.config), overrides)
    before = cpu_times()
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        trainer = Trainer(config, Path(run_dir))
        medians = count_samples(trainer)
        metrics = trainer.train()
        wall = time.perf_counter() - start
        pictures = save_pictures(trainer, args.images, args.view)
    history = metrics["eval_history"]
    interim = history[:-1]  # the last entry is the final, full evaluation
    eval_seconds = sum(h["render_seconds"] for h in interim)
    after_warmup = medians[WARMUP_STEPS:] or medians
    cameras = trainer.scene.test.cameras
    result = {
        "machine": machine_info(),
        "config": str(args.config.relative_to(REPO)) if args.config.is_relative_to(REPO) else str(args.config),
        "overrides": overrides,
        "scene": trainer.scene.name,
        "steps": config.trainer.max_steps,
        "batch_size": config.trainer.batch_size,
        "image_size": [cameras.width, cameras.height],
        "train_views": len(trainer.scene.train),
        "heldout_views": metrics["num_test_views"],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds_with_data_and_eval": wall,
        "train_rays_per_second": metrics["rays_per_second"],
        "median_samples_per_ray_after_warmup": statistics.median(after_warmup) if after_warmup else None,
        "samples_per_ray_by_step": medians[::25],
        "interim_eval_seconds": eval_seconds,
        "interim_eval_fraction_of_training": eval_seconds / max(metrics["train_seconds"], 1e-9),
        "final_eval_seconds": history[-1]["render_seconds"],
        "heldout_psnr": metrics["psnr"],
        "heldout_ssim": metrics["ssim"],
        "eval_history": history,
        "full_view": pictures,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "cpu_steal_fraction": steal_fraction(before, cpu_times()),
    }
    save_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
