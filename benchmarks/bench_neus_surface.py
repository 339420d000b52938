"""NeuS surface recovery: train configs/neus_demo.yaml on a scene, extract the mesh, score it.

Usage::

    python benchmarks/bench_neus_surface.py object          # the built-in object scene
    python benchmarks/bench_neus_surface.py bunny [--mesh ../shared/data/meshes/bunny.obj]

``bunny`` first renders the mesh into a dataset (``nerfplex make-scene --mesh``, 64x64, 100 + 20
views) whose ``gt_mesh.ply`` is the reference. Writes ``benchmarks/results/neus_surface_<scene>.json``:
training time, held-out PSNR, peak RSS, mesh size and topology, Chamfer-L1 (absolute and relative to
the ground truth's bbox diagonal) and F-score.
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
from nerfplex.cli.make_scene import MakeSceneArgs, make_scene  # noqa: E402
from nerfplex.config import load_config  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402
from nerfplex.eval.surface_evaluation import extract_and_score  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scene", choices=["object", "bunny"], help="which surface to recover")
    parser.add_argument(
        "--mesh",
        type=Path,
        default=REPO.parent / "shared" / "data" / "meshes" / "bunny.obj",
        help="mesh rendered for the bunny scene",
    )
    parser.add_argument("--resolution", type=int, default=256, help="marching-cubes resolution")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_args()
    before = cpu_times()
    with tempfile.TemporaryDirectory() as work:
        overrides = ["trainer.eval_every=0", *args.set]
        if args.scene == "bunny":
            if not args.mesh.is_file():
                print(f"error: no mesh at {args.mesh}; pass --mesh PATH.", file=sys.stderr)
                return 2
            data = Path(work) / "bunny"
            make_scene(MakeSceneArgs(out=data, mesh=args.mesh, resolution=64, num_train_views=100, num_test_views=20))
            overrides = ["data.kind=blender", f"data.path={data}", "data.max_test_views=10", *overrides]
        config = apply_overrides(load_config(REPO / "configs" / "neus_demo.yaml"), overrides)
        start = time.perf_counter()
        trainer = Trainer(config, Path(work) / "run")
        metrics = trainer.train()
        wall = time.perf_counter() - start
        trainer.model.eval()
        _, surface = extract_and_score(trainer.model, trainer.scene, args.resolution)
    result = {
        "machine": machine_info(),
        "scene": args.scene,
        "config": "configs/neus_demo.yaml",
        "overrides": overrides,
        "steps": config.trainer.max_steps,
        "batch_size": config.trainer.batch_size,
        "train_seconds": metrics["train_seconds"],
        "wall_seconds_train_and_eval": wall,
        "heldout_psnr": metrics["psnr"],
        "heldout_ssim": metrics["ssim"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "surface": surface,
        "cpu_steal_fraction": steal_fraction(before, cpu_times()),
    }
    save_result(REPO / "benchmarks" / "results" / f"neus_surface_{args.scene}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
