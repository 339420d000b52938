"""One backbone on the real lego scene at a fixed budget: steps/s, rays/s, wall time, peak memory and
held-out PSNR. Run each backbone in its own process (peak RSS is per process).

Usage::

    python benchmarks/bench_lego_backbone.py tensorf [--data ../shared/data/lego] [--set KEY=VALUE ...]

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
        "set": ["data.kind=blender", "data.downscale=4", "trainer.max_steps=1000",
                "trainer.batch_size=1024"],
        "about": "vanilla NeRF, demo network (4x128, 32 + 32 samples), lego at 100x100, "
                 "1024 rays x 1000 steps",
    },
    "tensorf": {
        "config": "configs/tensorf_lego.yaml",
        "set": ["trainer.max_steps=200", "model.tensorf.upsample_steps=[53, 80, 107, 147, 187]",
                "model.tensorf.alpha_mask_steps=[53, 107]"],
        "about": "TensoRF VM-192 at the authors' lego config, 400x400, 4096 rays x 200 steps, "
                 "schedules divided by 37.5 (the official-code comparison of docs/performance.md)",
    },
    "dvgo": {
        "config": "configs/dvgo_lego.yaml",
        "set": ["trainer.max_steps=800", "model.dvgo.coarse_steps=400",
                "model.dvgo.coarse_alpha_init=1e-4", "model.dvgo.pg_scale=[20, 40, 60, 80]",
                "model.dvgo.occupancy_every=100", "optim.decay_steps=400", "model.dvgo.pervoxel_lr=false"],
        "about": "DVGO at the authors' lego config, 400x400, 8192 rays, 400 coarse + 400 fine steps "
                 "(schedules scaled down; coarse alpha_init 1e-4 as in configs/dvgo_demo.yaml; no "
                 "per-voxel rate: counting views at every pixel means 5.5G samples, too slow on the CPU, "
                 "and sparser pixels leave every voxel under the count threshold)",
    },
    "ngp": {
        "config": "configs/ngp_lego.yaml",
        "set": ["data.downscale=4", "trainer.max_steps=600", "trainer.batch_size=1024",
                "model.ngp.schedule_steps=600", "model.ngp.render_step_size=0.02",
                "model.ngp.occupancy_resolution=32", "model.ngp.occupancy_warmup_steps=128",
                "model.ngp.grid.n_levels=8", "model.ngp.grid.log2_hashmap_size=16",
                "model.ngp.grid.per_level_scale=1.4859942891369484"],
        "about": "instant-ngp-style hash-grid NeRF (configs/ngp_demo.yaml's CPU sizes: 8 levels, "
                 "16 -> 256 vertices, 2^16 entries, 32^3 occupancy grid, step 0.02), lego at 200x200, "
                 "1024 rays x 600 steps; on a GPU drop the overrides after data.downscale for the "
                 "full nerfacc settings",
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=sorted(PRESETS), help="which backbone budget to run")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "lego",
                        help="NeRF-synthetic lego folder (transforms_*.json + images)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra config overrides, applied after the preset's")
    parser.add_argument("--out", type=Path, default=None,
                        help="result JSON (default benchmarks/results/lego_<preset>.json)")
    args = parser.parse_args()
    if not (args.data / "transforms_train.json").is_file():
        print(f"error: no lego data at {args.data}; pass --data PATH/TO/lego (NeRF-synthetic layout).",
              file=sys.stderr)
        return 2
    preset = PRESETS[args.preset]
    overrides = [*preset["set"], f"data.path={args.data}", "trainer.eval_every=0", *args.set]
    config = apply_overrides(load_config(REPO / preset["config"]), overrides)
    before = cpu_times()
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        trainer = Trainer(config, Path(run_dir))
        metrics = trainer.train()
        wall = time.perf_counter() - start
    steps, batch = config.trainer.max_steps, config.trainer.batch_size
    result = {
        "machine": machine_info(),
        "preset": args.preset, "about": preset["about"], "config": preset["config"],
        "overrides": overrides, "steps": steps, "batch_size": batch,
        "image_size": [trainer.scene.train.cameras.width, trainer.scene.train.cameras.height],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds_with_data_and_eval": wall,
        "steps_per_second": steps / metrics["train_seconds"],
        "rays_per_second": metrics["rays_per_second"],
        "heldout_psnr": metrics["psnr"], "heldout_ssim": metrics["ssim"],
        "heldout_views": metrics["num_test_views"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "cpu_steal_fraction": steal_fraction(before, cpu_times()),
    }
    save_result(args.out or REPO / "benchmarks" / "results" / f"lego_{args.preset}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
