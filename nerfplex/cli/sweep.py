"""``nerfplex sweep SPEC.yaml``: a grid of training runs (axes x seeds) -> tables with confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import tyro

from nerfplex.errors import NerfplexError
from nerfplex.sweep.driver import run_sweep
from nerfplex.sweep.executors import LocalExecutor, RayExecutor, local_plan
from nerfplex.sweep.progress import status_table
from nerfplex.sweep.runner import make_tasks
from nerfplex.sweep.spec import load_spec


@dataclass
class SweepArgs:
    """Train every point of a sweep spec once per seed, one run folder each, then write results.csv,
    summary.md (mean, std and 95% confidence interval per point; paired differences against the spec's
    baseline) and psnr_curves.png into the sweep folder. Finished runs are skipped, interrupted or
    failed ones resume from their newest checkpoint: run the same command again after Ctrl-C or a crash.
    Example: nerfplex sweep configs/sweeps/s3im_lego.yaml --concurrency 2 --threads 1
    (docs/sweeps.md describes the spec)."""

    spec: tyro.conf.Positional[Path]
    """The sweep spec (YAML: base, set, axes, seeds, baseline, retries)."""
    out: Optional[Path] = None
    """Sweep folder (default: the spec's ``output``, else OUTPUT_DIR/sweeps/NAME)."""
    executor: Literal["local", "ray"] = "local"
    """``local``: processes on this machine; ``ray``: Ray tasks (a local Ray instance, or the cluster at
    --ray-address)."""
    concurrency: Optional[int] = None
    """local: runs at a time (default: one per GPU; without GPUs as many as the cores hold at --threads)."""
    threads: Optional[int] = None
    """local: CPU threads per run (OMP_NUM_THREADS; default: 1 without GPUs, else the cores shared out)."""
    ray_address: Optional[str] = None
    """ray: the cluster to join (``auto``, ``HOST:PORT`` or ``ray://HOST:10001``); default: start Ray here."""
    cpus_per_run: float = 1.0
    """ray: CPUs each run holds (and its thread count)."""
    gpus_per_run: Optional[float] = None
    """ray: GPUs each run holds (default: 1 when the cluster has GPUs, else 0)."""
    status: bool = False
    """Only show the sweep's progress (runs done / running / failed, ETA) and exit."""
    dry_run: bool = False
    """Only validate the spec and list the runs."""
    progress_bar: bool = True
    """Show the sweep's progress bar."""


def _executor(args: SweepArgs, n_runs: int):
    if args.executor == "ray":
        return RayExecutor(args.ray_address, args.cpus_per_run, args.gpus_per_run)
    if args.ray_address:
        raise NerfplexError("--ray-address needs --executor ray.")
    for name in ("concurrency", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise NerfplexError(f"--{name} must be a positive integer, got {value}.")
    return LocalExecutor(*local_plan(n_runs, args.concurrency, args.threads))


def run(argv: list[str]) -> int:
    args = tyro.cli(SweepArgs, args=argv, prog="nerfplex sweep")
    spec = load_spec(args.spec)
    out = args.out or spec.default_output()
    if args.status:
        print(status_table(make_tasks(spec, out)))
        return 0
    if args.dry_run:
        print(f"sweep {spec.name}: {len(spec.runs)} runs -> {out}")
        for run in spec.runs:
            print(f"  {run.run_id}")
        return 0
    executor = _executor(args, len(spec.runs))
    code, _ = run_sweep(spec, out, executor, spec_text=args.spec.read_text(), progress_bar=args.progress_bar)
    if code != 130:
        print((out / "summary.md").read_text())
        print(f"sweep folder: {out}")
    return code
