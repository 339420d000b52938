"""A tiny sweep spec: a small NeRF on a 16x16 built-in scene, enough steps to be killed mid-run."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

TINY = {
    "model.method": "nerf",
    "data.resolution": 16,
    "data.num_train_views": 4,
    "data.num_test_views": 2,
    "model.nerf.mlp.num_layers": 2,
    "model.nerf.mlp.width": 16,
    "model.nerf.mlp.skip_layers": [0],
    "model.nerf.num_coarse_samples": 8,
    "model.nerf.num_fine_samples": 8,
    "trainer.batch_size": 64,
    "trainer.progress_bar": False,
    "trainer.log_every": 10,
    "loss.s3im.patch_height": 8,
}


@pytest.fixture
def write_spec(tmp_path):
    """``write_spec(axes, seeds, steps)`` -> path of a spec over the tiny config."""

    def write(axes, seeds=(0,), steps=200, **extra):
        spec = {
            "name": "tiny",
            "set": {
                **TINY,
                "trainer.max_steps": steps,
                "trainer.eval_every": steps // 2,
                "trainer.checkpoint_every": max(steps // 10, 1),
            },
            "axes": axes,
            "seeds": list(seeds),
            **extra,
        }
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(spec))
        return path

    return write


def _running_with_checkpoint(out):
    """(run id, pid) of a run that is training and has saved a checkpoint but not finished, else None."""
    for state_file in sorted((out / "state").glob("*.json")):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        run_dir = out / "runs" / state_file.stem
        if (
            state.get("status") == "running"
            and state.get("pid")
            and not (run_dir / "metrics.json").exists()
            and any((run_dir / "checkpoints").glob("step-*.pt"))
        ):
            return state_file.stem, state["pid"]
    return None


@pytest.fixture
def running_with_checkpoint():
    """``running_with_checkpoint(out)``: (run id, pid) of a run training past its first checkpoint, or None."""
    return _running_with_checkpoint


@pytest.fixture
def kill_one_run():
    """``kill_one_run(out)`` starts a thread that SIGKILLs the training process of the first run seen with a
    checkpoint and no metrics; ``.join()`` returns the killed run id (None if none was caught)."""

    class Killer(threading.Thread):
        def __init__(self, out):
            super().__init__(daemon=True)
            self.out, self.killed, self.stop = out, None, threading.Event()

        def run(self):
            deadline = time.monotonic() + 300
            while not self.stop.is_set() and time.monotonic() < deadline:
                found = _running_with_checkpoint(self.out)
                if found:
                    try:
                        os.kill(found[1], signal.SIGKILL)
                        self.killed = found[0]
                    except ProcessLookupError:
                        continue
                    return
                time.sleep(0.02)

        def result(self):
            self.stop.set()
            self.join()
            return self.killed

    def start(out):
        killer = Killer(out)
        killer.start()
        return killer

    return start


@pytest.fixture
def reference_metrics(tmp_path):
    """``reference_metrics(out, run_id)``: train the run's resolved config uninterrupted (one thread, as the
    sweep does) and return its metrics."""

    def train(out, run_id):
        ref = tmp_path / f"reference-{run_id}"
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nerfplex.cli.main",
                "train",
                "--config",
                str(out / "configs" / f"{run_id}.yaml"),
                "--run-dir",
                str(ref),
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return json.loads((ref / "metrics.json").read_text())

    return train
