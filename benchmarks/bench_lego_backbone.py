"""One backbone on the real lego scene at a fixed budget: steps/s, rays/s, wall time, peak memory,
held-out PSNR, render rays/s and (with ``--eval-every``) the training time to target PSNRs. Run each
backbone in its own process (peak RSS is per process); ``bench_lego_suite.py`` runs them all.

Usage::

    python benchmarks/bench_lego_backbone.py tensorf [--data ../shared/data/lego] [--set KEY=VALUE ...]
        [--eval-every N --eval-views K --targets 20 23 25]

Presets (``PRESETS`` below) start from the method's lego config under ``configs/`` and shorten its
schedule to a CPU budget. Results go to ``benchmarks/results/lego_<preset>.json``.
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

from nerfplex.ablation import apply_overrides  # noqa: E402
from nerfplex.config import load_config  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402

PRESETS: dict[str, dict] = {
    "nerf": {
        "config": "configs/nerf_demo.yaml",
        "set": ["data.kind=blender", "data.downscale=4", "trainer.max_steps=1000", "trainer.batch_size=1024"],
        "about": "vanilla NeRF, demo network (4x128, 32 + 32 samples), lego at 100x100, 1024 rays x 1000 steps",
    },
    "tensorf": {
        "config": "configs/tensorf_lego.yaml",
        "set": [
            "trainer.max_steps=200",
            "model.tensorf.upsample_steps=[53, 80, 107, 147, 187]",
            "model.tensorf.alpha_mask_steps=[53, 107]",
        ],
        "about": "TensoRF VM-192 at the authors' lego config, 400x400, 4096 rays x 200 steps, "
        "schedules divided by 37.5 (the official-code comparison of docs/performance.md)",
    },
    "dvgo": {
        "config": "configs/dvgo_lego.yaml",
        "set": [
            "trainer.max_steps=800",
            "model.dvgo.coarse_steps=400",
            "model.dvgo.coarse_alpha_init=1e-4",
            "model.dvgo.pg_scale=[20, 40, 60, 80]",
            "model.dvgo.occupancy_every=100",
            "optim.decay_steps=400",
            "model.dvgo.pervoxel_lr=false",
        ],
        "about": "DVGO at the authors' lego config, 400x400, 8192 rays, 400 coarse + 400 fine steps "
        "(schedules scaled down; coarse alpha_init 1e-4 as in configs/dvgo_demo.yaml; no "
        "per-voxel rate: counting views at every pixel means 5.5G samples, too slow on the CPU, "
        "and sparser pixels leave every voxel under the count threshold)",
    },
    "neus": {
        "config": "configs/neus_demo.yaml",
        "set": [
            "data.kind=blender",
            "data.downscale=4",
            "trainer.max_steps=1500",
            "model.neus.end_iter=1500",
            "model.neus.warm_up_end=100",
        ],
        "about": "NeuS, the demo network (SDF 4x64, colour 2x64, 32 + 32 samples, mask loss 0.1 on "
        "lego's alpha), lego at 200x200, 512 rays x 1500 steps",
    },
    "ngp": {
        "config": "configs/ngp_lego.yaml",
        "set": [
            "data.downscale=4",
            "trainer.max_steps=600",
            "trainer.batch_size=1024",
            "model.ngp.schedule_steps=600",
            "model.ngp.render_step_size=0.02",
            "model.ngp.occupancy_resolution=32",
            "model.ngp.occupancy_warmup_steps=128",
            "model.ngp.grid.n_levels=8",
            "model.ngp.grid.log2_hashmap_size=16",
            "model.ngp.grid.per_level_scale=1.4859942891369484",
        ],
        "about": "instant-ngp-style hash-grid NeRF (configs/ngp_demo.yaml's CPU sizes: 8 levels, "
        "16 -> 256 vertices, 2^16 entries, 32^3 occupancy grid, step 0.02), lego at 100x100, "
        "1024 rays x 600 steps; on a GPU drop the overrides after data.downscale for the "
        "full nerfacc settings",
    },
}


def time_to_targets(history: list[dict], targets: list[float]) -> dict[str, float | None]:
    """Training seconds at the first evaluation whose PSNR reaches each target (None: never).

    An upper bound: the target may have been crossed between two evaluations."""
    return {
        f"{target:g}": next((h["train_seconds"] for h in history if h["psnr"] >= target), None) for target in targets
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=sorted(PRESETS), help="which backbone budget to run")
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data" / "lego",
        help="NeRF-synthetic lego folder (transforms_*.json + images)",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra config overrides, applied after the preset's"
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="also render the held-out views every this many steps, for the PSNR curve "
        "and the time to each --targets PSNR (rendering is not counted as training)",
    )
    parser.add_argument(
        "--eval-views", type=int, default=None, help="score this many held-out views, evenly spaced (default: all)"
    )
    parser.add_argument(
        "--targets",
        type=float,
        nargs="*",
        default=[20.0, 23.0, 25.0],
        help="held-out PSNRs (dB) whose first crossing is reported, in training seconds",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="result JSON (default benchmarks/results/lego_<preset>.json)"
    )
    args = parser.parse_args()
    if not (args.data / "transforms_train.json").is_file():
        print(f"error: no lego data at {args.data}; pass --data PATH/TO/lego (NeRF-synthetic layout).", file=sys.stderr)
        return 2
    preset = PRESETS[args.preset]
    overrides = [
        *preset["set"],
        f"data.path={args.data}",
        f"trainer.eval_every={args.eval_every}",
        f"data.max_test_views={args.eval_views if args.eval_views else 'null'}",
        *args.set,
    ]
    config = apply_overrides(load_config(REPO / preset["config"]), overrides)
    before = cpu_times()
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        trainer = Trainer(config, Path(run_dir))
        metrics = trainer.train()
        wall = time.perf_counter() - start
    steps, batch = config.trainer.max_steps, config.trainer.batch_size
    cameras = trainer.scene.train.cameras
    history = metrics["eval_history"]
    final_render = history[-1]["render_seconds"]
    result = {
        "machine": machine_info(),
        "preset": args.preset,
        "about": preset["about"],
        "config": preset["config"],
        "overrides": overrides,
        "steps": steps,
        "batch_size": batch,
        "image_size": [cameras.width, cameras.height],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds_with_data_and_eval": wall,
        "steps_per_second": steps / metrics["train_seconds"],
        "rays_per_second": metrics["rays_per_second"],
        "heldout_psnr": metrics["psnr"],
        "heldout_ssim": metrics["ssim"],
        "heldout_views": metrics["num_test_views"],
        "render_seconds_per_view": final_render / metrics["num_test_views"],
        "render_rays_per_second": metrics["num_test_views"] * cameras.width * cameras.height / final_render,
        "time_to_target_psnr": time_to_targets(history, args.targets),
        "eval_history": history,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "cpu_steal_fraction": steal_fraction(before, cpu_times()),
    }
    save_result(args.out or REPO / "benchmarks" / "results" / f"lego_{args.preset}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
