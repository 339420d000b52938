"""``nerfplex ablate``: one config with and without S3IM (several λ, several seeds) → table + plot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import tyro

from nerfplex.ablation import apply_overrides, plot_curves, write_tables
from nerfplex.config import ExperimentConfig, load_config
from nerfplex.errors import NerfplexError
from nerfplex.sweep.driver import run_sweep
from nerfplex.sweep.executors import LocalExecutor, local_plan
from nerfplex.sweep.results import collect
from nerfplex.sweep.spec import SweepSpec, parse_spec


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


def ablation_spec(base: ExperimentConfig, weights: list[float], seeds: list[int]) -> SweepSpec:
    """The ablation as a sweep: one axis (the S3IM weight) x seeds; runs ``runs/s3im-W_seed-S``."""
    axis = {f"{w:g}": {"loss.s3im.weight": float(w)} for w in weights}
    if len(axis) != len(weights):
        raise NerfplexError(f"--weights lists a weight twice ({' '.join(f'{w:g}' for w in weights)}).")
    baseline = {"s3im": "0"} if "0" in axis else None
    return parse_spec(
        {"name": "ablation", "axes": {"s3im": axis}, "seeds": list(seeds), "baseline": baseline},
        source="nerfplex ablate",
        base=base,
    )


def _geometry(run_dir: Path, args: AblateArgs) -> dict:
    """Chamfer-L1 / bbox diagonal and F-score of the run's mesh against the scene's ground truth."""
    from nerfplex.eval.surface_evaluation import extract_and_score
    from nerfplex.run_loading import load_run

    loaded = load_run(run_dir)
    _, report = extract_and_score(
        loaded.model,
        loaded.scene,
        args.mesh_resolution,
        colors=False,
        threshold=args.fscore_threshold,
        num_points=50_000,
    )
    if "metrics" not in report:
        raise NerfplexError(
            "--geometry needs a ground-truth surface: this scene has none (no gt_mesh.ply and no analytic SDF)."
        )
    return {"chamfer_rel": report["chamfer_l1_over_diagonal"], "fscore": report["metrics"]["fscore"]}


def run(argv: list[str]) -> int:
    """A thin case of ``nerfplex sweep``: the same run folders, skipping and resuming, in a child process
    per run; then the ablation's own tables (results.csv, summary.md) and psnr_curves.png."""
    args = tyro.cli(AblateArgs, args=argv, prog="nerfplex ablate")
    base = load_config(args.config) if args.config else ExperimentConfig()
    base = apply_overrides(base, list(args.overrides))
    out = args.out or (Path(base.output_dir) / "ablation" / f"{base.experiment_name}-{datetime.now():%Y%m%d-%H%M%S}")
    spec = ablation_spec(base, list(args.weights), list(args.seeds))
    executor = LocalExecutor(*local_plan(len(spec.runs), None, None))
    code, _ = run_sweep(spec, out, executor, progress_bar=base.trainer.progress_bar, write_tables=False)
    results = []
    for row in collect(spec, out):
        if row["status"] != "done":
            continue
        result = {
            "weight": float(row["s3im"]),
            "seed": row["seed"],
            "psnr": row["psnr"],
            "ssim": row["ssim"],
            "train_seconds": row["train_seconds"],
            "steps": row["steps"],
            "run_dir": row["run_dir"],
            "history": row["history"],
        }
        if args.geometry:
            result.update(_geometry(Path(row["run_dir"]), args))
        results.append(result)
    results.sort(key=lambda r: (r["weight"], r["seed"]))
    if results:
        write_tables(results, out)
        plot_curves(results, out)
    if code == 130:
        print(f"interrupted; finished runs are tabulated in {out} (run the same command to continue)", flush=True)
        return 130
    if results:
        print((out / "summary.md").read_text())
    print(f"ablation folder: {out}")
    return code
