"""``nerfplex report RUN``: a run's metrics tables (Markdown) and training-curve plots (PNG)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import tyro


@dataclass
class ReportArgs:
    """Write RUN/report/report.md with the run's metrics (training's metrics.json and the newest
    `nerfplex eval`) and PNG plots of its TensorBoard curves (losses, PSNR, learning rate, speed)."""

    run_dir: tyro.conf.Positional[Path]
    """The run folder (or its config.yaml)."""
    output: Optional[Path] = None
    """Folder to write; default RUN/report (replacing the report nerfplex wrote there before)."""
    overwrite: bool = False
    """Replace an existing, non-empty --output folder that nerfplex wrote (never a folder it did not)."""


def run(argv: list[str]) -> int:
    from nerfplex.eval.run_report import write_run_report

    args = tyro.cli(ReportArgs, args=argv, prog="nerfplex report")
    path = write_run_report(args.run_dir, args.output, overwrite=args.overwrite)
    print(f"report: {path}")
    return 0
