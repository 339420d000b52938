"""kill -9 at random moments of a run that checkpoints every step: after every kill the newest checkpoint
loads, and resuming until the end reaches exactly the weights of the same run trained without
interruption (resume is bit-exact, docs/reliability.md)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from reliability_helpers import TINY, write_tiny_config

from nerfplex.engine.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from nerfplex.io import is_orphan_temporary

KILLS = 20
STEPS = 600


def _train(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "nerfplex.cli.main", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _run_folder(proc: subprocess.Popen) -> Path | None:
    for line in proc.stdout:
        if line.startswith("run folder:"):
            return Path(line.split(":", 1)[1].strip())
    return None


@pytest.mark.slow
def test_kill_9_loop_always_leaves_a_loadable_checkpoint_and_resume_is_exact(tmp_path):
    trainer = {**TINY["trainer"], "max_steps": STEPS, "checkpoint_every": 1, "keep_checkpoints": 2}
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference_dir.mkdir(), killed_dir.mkdir()
    reference = _train(["--config", str(write_tiny_config(reference_dir, trainer=trainer))])
    config = write_tiny_config(killed_dir, trainer=trainer)

    rng, kills, run, last_step = random.Random(0), 0, None, 0
    while kills < KILLS:
        proc = _train(["--resume", str(run)] if run else ["--config", str(config)])
        started = _run_folder(proc)
        run = run or started
        if started is None:  # the run had already finished: nothing left to kill
            break
        time.sleep(rng.uniform(0.0, 0.25))  # a random moment of training, checkpoint writes included
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        kills += 1
        newest = latest_checkpoint(run)
        assert newest is not None
        step = load_checkpoint(newest)["step"]  # loads: never a half-written newest checkpoint
        assert step >= last_step
        last_step = step
    assert kills >= KILLS, f"the run finished after {kills} kills; raise STEPS"

    final = _train(["--resume", str(run)])
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    (reference_run,) = (reference_dir / "outputs" / "demo").iterdir()
    ours = load_checkpoint(latest_checkpoint(run))
    theirs = load_checkpoint(latest_checkpoint(reference_run))
    assert ours["step"] == theirs["step"] == STEPS
    for key, value in theirs["model"].items():
        assert torch.equal(ours["model"][key], value), key
    assert not [p for p in (run / "checkpoints").iterdir() if is_orphan_temporary(p)]
    assert len(list_checkpoints(run)) == 2
