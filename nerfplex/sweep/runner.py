"""Run a sweep: one run folder per (point, seed), skipped when finished, resumed when interrupted.

Layout of a sweep folder ``OUT``::

    OUT/spec.yaml               the spec as given (a record)
    OUT/configs/RUN_ID.yaml     each run's resolved config (what ``nerfplex train --config`` receives)
    OUT/runs/RUN_ID/            each run's folder (config.yaml, checkpoints/, tensorboard/, metrics.json)
    OUT/state/RUN_ID.json       each run's status (running / retrying / done / failed / interrupted),
                                attempts, host, the worker's and the trainer's process ids, the last
                                error: the progress view reads it
    OUT/logs/RUN_ID.log         each run's training output, all attempts appended
    OUT/results.csv, summary.md, psnr_curves.png   (nerfplex.sweep.results)

:func:`run_point` is the unit of work every executor runs: it trains one run to completion in a child
process (``python -m nerfplex.cli.main train``), resuming from the newest checkpoint after a failure or a
killed process, up to ``retries`` extra attempts. It is a plain function so that Ray can ship it to a
worker; it only needs the sweep folder to be visible there (a shared file system on a cluster).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from nerfplex.config import load_config, save_config
from nerfplex.config_io import to_dict
from nerfplex.engine.checkpoint import latest_checkpoint
from nerfplex.errors import NerfplexError
from nerfplex.io import is_orphan_temporary, write_text_atomic
from nerfplex.sweep.spec import SweepSpec

INTERRUPTED = 130  # the exit status of ``nerfplex train`` after Ctrl-C (checkpoint saved)


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to train one run (plain data, picklable)."""

    run_id: str
    sweep_dir: str
    """The sweep folder (absolute)."""
    cwd: str
    """Working folder of the training process (relative paths in configs resolve against it)."""
    max_steps: int
    retries: int
    invocation: str
    """Identifies one ``nerfplex sweep`` invocation: attempts are counted per invocation."""
    threads: int = 1
    """CPU threads of the training process (OMP_NUM_THREADS, MKL_NUM_THREADS)."""
    gpu: Optional[str] = None
    """CUDA_VISIBLE_DEVICES for the training process (None: leave as it is)."""
    python: str = sys.executable

    @property
    def run_dir(self) -> Path:
        return Path(self.sweep_dir) / "runs" / self.run_id

    @property
    def config_file(self) -> Path:
        return Path(self.sweep_dir) / "configs" / f"{self.run_id}.yaml"

    @property
    def state_file(self) -> Path:
        return Path(self.sweep_dir) / "state" / f"{self.run_id}.json"

    @property
    def log_file(self) -> Path:
        return Path(self.sweep_dir) / "logs" / f"{self.run_id}.log"


def read_metrics(run_dir: Path, max_steps: int) -> Optional[dict]:
    """The run's ``metrics.json`` when it is complete (final step reached), else None."""
    try:
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or "psnr" not in metrics or metrics.get("step", -1) < max_steps:
        return None
    return metrics


def read_state(path: Path) -> dict:
    try:
        state = json.loads(Path(path).read_text())
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_state(task: RunTask, **values) -> dict:
    state = read_state(task.state_file)
    state.update(values, run_id=task.run_id, updated=time.time())
    write_text_atomic(task.state_file, json.dumps(state, indent=1))
    return state


def _child_setup() -> None:
    """Runs in the training process before exec (Linux): SIGINT / SIGTERM delivered and handled even when
    the parent blocks or ignores them (Ray's worker threads block them, and a mask is inherited), and
    SIGTERM when the parent dies, so no trainer outlives its sweep."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _clear_unstarted(run_dir: Path) -> None:
    """Remove a run folder that a killed attempt left without any checkpoint, so the run starts afresh.

    Only a folder that holds nothing but what ``nerfplex train`` writes before its first checkpoint is
    removed; anything else raises."""
    expected = {"config.yaml", "tensorboard", "checkpoints", ".nerfplex-output"}
    entries = list(run_dir.iterdir())
    strangers = [e.name for e in entries if e.name not in expected and not is_orphan_temporary(e)]
    if strangers:
        raise NerfplexError(
            f"{run_dir} holds files nerfplex did not write ({', '.join(strangers[:3])}); "
            f"it is left alone. Move them away and start the sweep again."
        )
    shutil.rmtree(run_dir)


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _wait(proc: subprocess.Popen, should_stop) -> tuple[int, bool]:
    """Wait for ``proc`` in short slices; when ``should_stop()`` turns true or a KeyboardInterrupt arrives
    (Ctrl-C, Ray's cancel), send it one SIGINT (it checkpoints and exits) and keep waiting. Returns
    (exit status, whether it was interrupted)."""
    interrupted = False
    while True:
        try:
            return proc.wait(timeout=0.5), interrupted
        except subprocess.TimeoutExpired:
            stop_now = should_stop()
        except KeyboardInterrupt:
            stop_now = True
        if stop_now and not interrupted:
            interrupted = True
            proc.send_signal(signal.SIGINT)  # once: a second SIGINT would abort without a checkpoint


def stop_requested(sweep_dir: Path) -> Path:
    """The file whose presence asks every run of the sweep to checkpoint and stop (Ctrl-C of the driver;
    seen by workers on every node through the shared sweep folder)."""
    return Path(sweep_dir) / "state" / "STOP"


def run_point(task: RunTask, stop: Optional[threading.Event] = None) -> dict:
    """Train ``task``'s run to completion; returns ``{"run_id", "status", "attempts", "error"}``.

    ``status``: ``skipped`` (already finished), ``done``, ``failed`` (every attempt failed; ``error`` says
    why) or ``interrupted`` (Ctrl-C: ``stop`` was set or the sweep's stop file appeared; the child got
    one SIGINT and saved a checkpoint)."""
    if read_metrics(task.run_dir, task.max_steps) is not None:
        _write_state(task, status="done", error=None)
        return {"run_id": task.run_id, "status": "skipped", "attempts": 0, "error": None}
    stop_file = stop_requested(Path(task.sweep_dir))

    def should_stop() -> bool:
        return (stop is not None and stop.is_set()) or stop_file.exists()

    state = read_state(task.state_file)
    attempts = state.get("attempts", 0) if state.get("invocation") == task.invocation else 0
    env = dict(os.environ, OMP_NUM_THREADS=str(task.threads), MKL_NUM_THREADS=str(task.threads), TQDM_MININTERVAL="30")
    if task.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = task.gpu
    error = None
    while attempts <= task.retries:
        if should_stop():
            _write_state(task, status="interrupted", pid=None)
            return {"run_id": task.run_id, "status": "interrupted", "attempts": attempts, "error": None}
        attempts += 1
        run_dir = task.run_dir
        if run_dir.is_dir() and latest_checkpoint(run_dir) is not None:
            command, how = ["--resume", str(run_dir)], "resumed"
        else:
            if run_dir.exists():
                _clear_unstarted(run_dir)
            command, how = ["--config", str(task.config_file), "--run-dir", str(run_dir)], "started"
        task.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(task.log_file, "a") as log:
            log.write(f"\n=== attempt {attempts} ({how}) on {socket.gethostname()} at {time.ctime()}\n")
            log.flush()
            proc = subprocess.Popen(
                [task.python, "-m", "nerfplex.cli.main", "train", *command],
                cwd=task.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_child_setup if sys.platform == "linux" else None,
            )
            _write_state(
                task,
                status="running",
                attempts=attempts,
                invocation=task.invocation,
                host=socket.gethostname(),
                worker=os.getpid(),
                pid=proc.pid,
                started=time.time(),
                how=how,
            )
            code, interrupted = _wait(proc, should_stop)
        if code == 0 and read_metrics(run_dir, task.max_steps) is not None:
            _write_state(task, status="done", pid=None, error=None, finished=time.time())
            return {"run_id": task.run_id, "status": "done", "attempts": attempts, "error": None}
        if interrupted:
            _write_state(task, status="interrupted", pid=None)
            return {"run_id": task.run_id, "status": "interrupted", "attempts": attempts, "error": None}
        why = f"exit status {code}" if code >= 0 else f"killed by signal {-code}"
        error = f"attempt {attempts}: {why}; log {task.log_file}\n{_tail(task.log_file)}"
        _write_state(task, status="retrying" if attempts <= task.retries else "failed", pid=None, error=error)
    _write_state(task, status="failed", pid=None, error=error)
    return {"run_id": task.run_id, "status": "failed", "attempts": attempts, "error": error}


def prepare(spec: SweepSpec, out: Path, spec_text: Optional[str] = None) -> None:
    """Write ``OUT/configs/*.yaml`` and refuse to mix two different sweeps in one folder.

    A run folder that already exists must hold the config this spec resolves to (else the spec changed
    under it: NerfplexError, before anything runs)."""
    out = Path(out)
    for run in spec.runs:
        run_dir = out / "runs" / run.run_id
        saved = run_dir / "config.yaml"
        if saved.is_file() and _comparable(load_config(saved)) != _comparable(run.config):
            raise NerfplexError(
                f"{run_dir} was trained with a different config than this spec gives it (the "
                f"spec changed). Use another output folder (--out), or move the old sweep."
            )
    for run in spec.runs:
        path = out / "configs" / f"{run.run_id}.yaml"
        save_config(run.config, path)
    if spec_text is not None:
        write_text_atomic(out / "spec.yaml", spec_text)


def _comparable(config) -> dict:
    data = to_dict(config)
    data.pop("experiment_name", None)
    data.pop("output_dir", None)
    return data


def mark_stale(tasks: list[RunTask]) -> None:
    """Before a sweep starts: runs a previous invocation left "running" (it was killed) are "interrupted"."""
    for task in tasks:
        if read_state(task.state_file).get("status") in ("running", "retrying"):
            _write_state(task, status="interrupted", pid=None)


def make_tasks(
    spec: SweepSpec, out: Path, threads: int = 1, invocation: Optional[str] = None, cwd: Optional[Path] = None
) -> list[RunTask]:
    """One :class:`RunTask` per run of ``spec`` (absolute paths)."""
    invocation = invocation or f"{socket.gethostname()}-{os.getpid()}-{time.time():.0f}"
    return [
        RunTask(
            run_id=run.run_id,
            sweep_dir=str(Path(out).resolve()),
            cwd=str((cwd or Path.cwd()).resolve()),
            max_steps=run.config.trainer.max_steps,
            retries=spec.retries,
            invocation=invocation,
            threads=threads,
        )
        for run in spec.runs
    ]
