"""Concurrent runs, signals and interrupted starts: two runs never share a folder, SIGTERM checkpoints like
Ctrl-C (exit 143), Ctrl-C while starting or reporting exits quietly (130, no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from reliability_helpers import TINY, run_cli, write_tiny_config

from nerfplex.cli.train import new_run_dir
from nerfplex.config import config_from_dict
from nerfplex.engine.checkpoint import latest_checkpoint, load_checkpoint
from nerfplex.io import OUTPUT_MARKER, create_unique_folder


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_runs_started_in_the_same_second_get_different_folders(tmp_path):
    config = config_from_dict({**TINY, "output_dir": str(tmp_path)})
    folders = [new_run_dir(config) for _ in range(5)]
    assert len(set(folders)) == 5 and all((f / OUTPUT_MARKER).is_file() for f in folders)


def test_unique_folder_creation_is_atomic_across_threads(tmp_path):
    base, made, barrier = tmp_path / "20260101-120000", [], threading.Barrier(8)

    def claim():
        barrier.wait()
        made.append(create_unique_folder(base))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8 and all(p.is_dir() for p in made)


@pytest.mark.slow
def test_two_concurrent_train_processes_keep_their_own_runs(tmp_path):
    config = write_tiny_config(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nerfplex.cli.main", "train", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    runs = sorted((tmp_path / "outputs" / "demo").iterdir())
    assert len(runs) == 2
    for run in runs:
        assert (run / "metrics.json").is_file() and load_checkpoint(latest_checkpoint(run))["step"] == 3


def _start_long_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    trainer = {**TINY["trainer"], "max_steps": 100000, "checkpoint_every": 100000}
    config = write_tiny_config(tmp_path, trainer=trainer)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    for line in proc.stdout:
        if line.startswith("run folder:"):
            return proc, Path(line.split(":", 1)[1].strip())
    raise AssertionError(f"no run folder printed: {proc.communicate()}")


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_checkpoint_and_exit_with_documented_status(tmp_path, signum, status):
    proc, run = _start_long_run(tmp_path)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "Traceback" not in err and "--resume" in err
    assert load_checkpoint(latest_checkpoint(run))["step"] > 0


def _wait_until_torch_loads(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Block until the child maps libtorch, so a signal lands inside ``main()``, not in interpreter start-up
    (which no program can intercept), however loaded the machine is."""
    deadline = time.monotonic() + timeout
    maps = Path(f"/proc/{proc.pid}/maps")
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if "libtorch" in maps.read_text():
                return
        except OSError:
            pass
        time.sleep(0.02)


def test_ctrl_c_while_starting_exits_quietly(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "--config", str(write_tiny_config(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    _wait_until_torch_loads(proc)  # main() is running (torch is imported inside it), still starting up
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err  # 0: it finished before the signal arrived
    assert "Traceback" not in err


def test_ctrl_c_during_the_final_report_exits_quietly(tmp_path, capsys, monkeypatch):
    def interrupted(run_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr("nerfplex.cli.train.report_after_training", interrupted)
    code, _, err = run_cli(capsys, ["train", "--config", write_tiny_config(tmp_path)])
    assert code == 130 and "Traceback" not in err
    (run,) = (tmp_path / "outputs" / "demo").iterdir()
    assert (run / "metrics.json").is_file()  # training itself was complete and saved
