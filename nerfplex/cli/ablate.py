"""``nerfplex ablate``: one config with and without S3IM (several λ, several seeds) → table + plot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import tyro

from nerfplex.config import ExperimentConfig, load_config
from nerfplex.ablation import ablation_configs, apply_overrides, plot_curves, write_tables
from nerfplex.data.loading import load_scene
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.errors import NerfplexError


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
    geometry: bool = False
    """Also extract each run's mesh and score it against the scene's ground truth (Chamfer-L1 relative
    to the bbox diagonal, F-score) in the tables; for surface methods such as NeuS."""
    mesh_resolution: int = 128
    """Marching-cubes resolution for --geometry."""
    fscore_threshold: float = 0.05
    """F-score distance threshold for --geometry, in scene units."""


def _geometry(trainer: Trainer, args: AblateArgs) -> dict:
    """Chamfer-L1 / bbox diagonal and F-score of the run's mesh against the scene's ground truth."""
    from nerfplex.eval.surface_evaluation import extract_and_score

    trainer.model.eval()
    _, report = extract_and_score(trainer.model, trainer.scene, args.mesh_resolution, colors=False,
                                  threshold=args.fscore_threshold, num_points=50_000)
    if "metrics" not in report:
        raise NerfplexError("--geometry needs a ground-truth surface: this scene has none (no gt_mesh.ply "
                            "and no analytic SDF).")
    return {"chamfer_rel": report["chamfer_l1_over_diagonal"], "fscore": report["metrics"]["fscore"]}


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
            trainer = Trainer(config, run_dir, scene=scene)
            metrics = trainer.train()
        except TrainingInterrupted:
            print(f"interrupted; finished runs are tabulated in {out}", flush=True)
            return 130
        result = {"weight": weight, "seed": seed, "psnr": metrics["psnr"], "ssim": metrics["ssim"],
                  "train_seconds": metrics["train_seconds"], "steps": metrics["step"],
                  "run_dir": str(run_dir), "history": metrics["eval_history"]}
        if args.geometry:
            result.update(_geometry(trainer, args))
        results.append(result)
        write_tables(results, out)  # partial tables survive an interrupted ablation
    plot_curves(results, out)
    print((out / "summary.md").read_text())
    print(f"ablation folder: {out}")
    return 0
