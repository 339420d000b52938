"""The progress view of a sweep: runs done / running / failed / waiting, with an ETA.

It reads the per-run state files (``OUT/state/RUN_ID.json``) that :func:`nerfplex.sweep.runner.run_point`
writes, so it shows the same picture for local processes and Ray workers on other machines, and
``nerfplex sweep SPEC --status`` can show it from another terminal.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Optional

from tqdm import tqdm

from nerfplex.sweep.runner import RunTask, read_metrics, read_state


def run_states(tasks: list[RunTask]) -> dict[str, str]:
    """run id -> ``done`` / ``running`` / ``failed`` / ``interrupted`` / ``waiting``."""
    states = {}
    for task in tasks:
        if read_metrics(task.run_dir, task.max_steps) is not None:
            states[task.run_id] = "done"
            continue
        status = read_state(task.state_file).get("status")
        states[task.run_id] = {
            "running": "running",
            "retrying": "running",
            "failed": "failed",
            "interrupted": "interrupted",
        }.get(status, "waiting")
    return states


class SweepProgress:
    """A tqdm bar over the sweep's runs; :meth:`tick` refreshes it from the state files."""

    def __init__(self, tasks: list[RunTask], enabled: bool = True):
        self.tasks = tasks
        counts = Counter(run_states(tasks).values())
        self.bar = tqdm(
            total=len(tasks), initial=counts["done"], desc="sweep", unit="run", disable=not enabled, dynamic_ncols=True
        )
        self._last = 0.0
        self.tick(force=True)

    def tick(self, force: bool = False) -> Counter:
        now = time.monotonic()
        if not force and now - self._last < 2.0:
            return Counter()
        self._last = now
        counts = Counter(run_states(self.tasks).values())
        finished = counts["done"] + counts["failed"]
        if finished > self.bar.n:
            self.bar.update(finished - self.bar.n)
        self.bar.set_postfix(
            done=counts["done"],
            running=counts["running"],
            failed=counts["failed"],
            waiting=counts["waiting"] + counts["interrupted"],
            refresh=True,
        )
        return counts

    def close(self) -> None:
        self.tick(force=True)
        self.bar.close()


def status_table(tasks: list[RunTask], now: Optional[float] = None) -> str:
    """A plain-text table of every run's state (``nerfplex sweep SPEC --status``), with an ETA from the
    finished runs' durations."""
    now = now or time.time()
    states = run_states(tasks)
    counts = Counter(states.values())
    lines = [
        f"{len(tasks)} runs: {counts['done']} done, {counts['running']} running, {counts['failed']} failed, "
        f"{counts['waiting'] + counts['interrupted']} waiting"
    ]
    durations, running = [], 0
    for task in tasks:
        state = read_state(task.state_file)
        if states[task.run_id] == "done" and state.get("finished") and state.get("started"):
            durations.append(state["finished"] - state["started"])
        running += states[task.run_id] == "running"
        detail = ""
        if states[task.run_id] == "running":
            detail = f"attempt {state.get('attempts', '?')} on {state.get('host', '?')} (pid {state.get('pid')})"
        elif states[task.run_id] == "failed":
            detail = (state.get("error") or "").splitlines()[0] if state.get("error") else ""
        lines.append(f"  {states[task.run_id]:<11} {task.run_id}  {detail}".rstrip())
    left = counts["waiting"] + counts["interrupted"] + counts["running"]
    if durations and left:
        per_run = sum(durations) / len(durations)
        slots = max(running, 1)
        lines.append(
            f"ETA: about {per_run * left / slots / 60:.0f} min ({per_run / 60:.1f} min per run, {slots} at a time)"
        )
    return "\n".join(lines)
