"""Vanilla NeRF on the real lego scene for a fixed step budget: speed, memory and held-out PSNR.

Usage::

    python benchmarks/bench_nerf_lego.py [--data ../shared/data/lego] [--downscale 4] [--steps 1000]

Two measurements, written to ``benchmarks/results/nerf_lego.json`` and printed:

* ``budget``: train the CPU-sized network (configs/demo.yaml's 4x128 MLPs, 32 + 32 samples, rays
  clipped to lego's box) for ``--steps`` steps of ``--batch-size`` rays on lego at ``--downscale``,
  then render all 10 held-out views: steps/s, rays/s, wall time, peak RSS, mean per-image PSNR.
* ``paper_step``: seconds per step of the authors' lego configuration (8x256 MLPs, 64 + 128 samples,
  1024 rays, near/far 2-6), timed over a few steps, to set beside nerf-pytorch's 11.1 s per step
  measured on this kind of machine (../shared/DESIGN.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import cpu_times, machine_info, save_result, steal_fraction  # noqa: E402

from nerfplex.config import config_from_dict  # noqa: E402
from nerfplex.data.blender import load_blender  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def budget_run(scene, args) -> dict:
    config = config_from_dict(
        {
            "data": {"kind": "blender", "downscale": args.downscale},
            "model": {"method": "nerf"},
            "optim": {"beta2": 0.999},  # the default method is TensoRF
            "trainer": {
                "max_steps": args.steps,
                "batch_size": args.batch_size,
                "eval_every": 0,
                "checkpoint_every": args.steps,
                "progress_bar": True,
            },
        }
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, Path(run_dir), scene=scene)
        start = time.perf_counter()
        metrics = trainer.train()
        wall = time.perf_counter() - start
    return {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "image_size": [scene.train.cameras.width, scene.train.cameras.height],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds_with_eval": wall,
        "steps_per_second": args.steps / metrics["train_seconds"],
        "rays_per_second": metrics["rays_per_second"],
        "heldout_psnr": metrics["psnr"],
        "heldout_views": metrics["num_test_views"],
        "model": "nerf 4x128, 32 coarse + 32 fine samples, aabb-clipped rays",
    }


def paper_step(scene, steps: int) -> dict:
    config = config_from_dict(
        {
            "data": {"kind": "blender", "ray_bounds": "near_far"},
            "model": {
                "method": "nerf",
                "nerf": {
                    "mlp": {"num_layers": 8, "width": 256, "skip_layers": [4]},
                    "num_coarse_samples": 64,
                    "num_fine_samples": 128,
                },
            },
            "trainer": {"max_steps": 1000, "batch_size": 1024, "progress_bar": False},
        }
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, Path(run_dir), scene=scene)
        trainer.train_step()  # warm-up
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = (time.perf_counter() - start) / steps
    return {
        "seconds_per_step": seconds,
        "steps_timed": steps,
        "batch_size": 1024,
        "model": "nerf 8x256 coarse + fine, 64 + 128 samples (the authors' lego config)",
        "reference_nerf_pytorch_seconds_per_step": 11.1,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "lego")
    parser.add_argument("--downscale", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--paper-steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "nerf_lego.json")
    args = parser.parse_args()
    if not (args.data / "transforms_train.json").is_file():
        print(f"error: no lego data at {args.data}; pass --data PATH/TO/lego (NeRF-synthetic layout).", file=sys.stderr)
        return 2
    before = cpu_times()
    result = {"machine": machine_info()}
    scene = load_blender(args.data, downscale=args.downscale)
    result["budget"] = budget_run(scene, args)
    result["budget"]["peak_rss_mib"] = _peak_rss_mib()  # the process so far: data + training + eval
    result["paper_step"] = paper_step(load_blender(args.data), args.paper_steps)
    result["paper_step"]["peak_rss_mib"] = _peak_rss_mib()
    result["cpu_steal_fraction"] = steal_fraction(before, cpu_times())
    save_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
