"""Drive a sweep: prepare its folder, run the unfinished runs on an executor with the progress view, write
the tables. ``nerfplex sweep`` and ``nerfplex ablate`` both come here."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Optional

from nerfplex.sweep.executors import SweepInterrupted
from nerfplex.sweep.progress import SweepProgress
from nerfplex.sweep.results import collect, write_results
from nerfplex.sweep.runner import make_tasks, mark_stale, prepare, stop_requested
from nerfplex.sweep.spec import SweepSpec


def run_sweep(
    spec: SweepSpec,
    out: Path,
    executor,
    spec_text: Optional[str] = None,
    progress_bar: bool = True,
    write_tables: bool = True,
) -> tuple[int, list[dict]]:
    """Prepare ``out``, run every unfinished run, write the tables (unless ``write_tables`` is false).
    Returns (exit status, result rows): 0 when every run finished, 1 when some failed, 130 after Ctrl-C."""
    prepare(spec, out, spec_text)
    tasks = make_tasks(spec, out)
    mark_stale(tasks)
    stop_requested(out).unlink(missing_ok=True)  # a previous Ctrl-C's request is served
    print(f"sweep {spec.name}: {len(tasks)} runs -> {out} ({executor.describe()})", flush=True)
    progress = SweepProgress(tasks, enabled=progress_bar)
    code = 0
    try:  # Ctrl-C stops the sweep even when it was started with SIGINT ignored (nohup, a background job)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread
        previous = None
    try:
        outcomes = executor.execute(tasks, progress.tick)
    except SweepInterrupted as stop:
        outcomes, code = stop.args[0], 130
    finally:
        progress.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    rows = write_results(spec, out) if write_tables else collect(spec, out)
    failed = [o for o in outcomes if o["status"] == "failed"]
    skipped = sum(o["status"] == "skipped" for o in outcomes)
    if skipped:
        print(f"{skipped} finished run(s) skipped.", flush=True)
    for outcome in failed:
        print(f"FAILED {outcome['run_id']} after {outcome['attempts']} attempt(s): {outcome['error']}", file=sys.stderr)
    if code == 130:
        print(f"interrupted: run the same command again to continue ({out}).", file=sys.stderr)
    elif failed or any(r["status"] != "done" for r in rows):
        code = 1
    return code, rows
