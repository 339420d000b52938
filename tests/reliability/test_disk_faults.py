"""Read-only and full disks: one-line errors that say what to do, before any data is loaded where that
is possible; a checkpoint that cannot be written leaves the previous one intact and the run resumable;
temporaries of a killed run are cleaned at the next start; a failed new run leaves nothing.

Real filesystems where the machine allows (a read-only and a 1 MiB tmpfs, when this process may mount
them), an equivalent simulation everywhere (the write raising ENOSPC / EROFS)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from reliability_helpers import assert_user_error, run_cli, snapshot, write_tiny_config

import nerfplex.engine.checkpoint as checkpoint_module
from nerfplex.engine.checkpoint import list_checkpoints, load_checkpoint
from nerfplex.io import remove_orphan_temporaries


@contextlib.contextmanager
def _tmpfs(path: Path, options: str):
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({result.stderr.decode().strip()[:80]}); the simulated cases cover this fault"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody may write into: a read-only tmpfs (root), else a chmod 555 folder (other users)."""
    if os.geteuid() == 0:
        with _tmpfs(tmp_path / "ro", "ro,size=1m") as path:
            yield path
    else:
        path = tmp_path / "ro"
        path.mkdir()
        path.chmod(0o555)
        yield path
        path.chmod(0o755)


READ_ONLY_COMMANDS = {
    "train": lambda ro, run: [
        "train",
        "--config",
        write_tiny_config(run.parent.parent.parent),
        "--output-dir",
        ro / "outputs",
    ],
    "eval": lambda ro, run: [
        "eval",
        "--load-config",
        run,
        "--output",
        ro / "eval",
        "--metrics",
        "psnr",
        "--no-tensorboard",
        "--no-progress",
    ],
    "render": lambda ro, run: [
        "render",
        "--load-config",
        run,
        "--output",
        ro / "r",
        "--frames",
        "1",
        "--format",
        "png",
        "--no-progress",
    ],
    "report": lambda ro, run: ["report", run, "--output", ro / "report"],
    "export-mesh": lambda ro, run: ["export-mesh", "--load-config", run, "--output", ro / "m.ply", "--resolution", "8"],
    "make-scene": lambda ro, run: [
        "make-scene",
        "--out",
        ro / "scene",
        "--resolution",
        "8",
        "--num-train-views",
        "2",
        "--num-test-views",
        "1",
        "--mesh-resolution",
        "0",
    ],
}


@pytest.mark.parametrize("command", list(READ_ONLY_COMMANDS))
def test_read_only_output_is_one_line_error(tiny_run, read_only_dir, capsys, command):
    code, _, err = run_cli(capsys, READ_ONLY_COMMANDS[command](read_only_dir, tiny_run))
    assert_user_error(code, err, str(read_only_dir))
    assert len(err.strip().splitlines()) == 1
    assert list(read_only_dir.iterdir()) == []


def test_tiny_real_disk_is_refused_before_data_loads(tmp_path, capsys, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; test_preflight_free_space_is_checked_before_data_loads simulates it")
    with _tmpfs(tmp_path / "small", "size=1m") as small:
        monkeypatch.setattr("nerfplex.engine.trainer.load_scene", _must_not_load)
        code, _, err = run_cli(capsys, ["train", "--config", write_tiny_config(tmp_path), "--output-dir", small])
        assert_user_error(code, err, "free", "MiB")
        assert list(small.iterdir()) == []


def _must_not_load(*args, **kwargs):
    raise AssertionError("the data was loaded before the pre-flight check")


def test_preflight_free_space_is_checked_before_data_loads(tmp_path, capsys, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("nerfplex.io.shutil.disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    monkeypatch.setattr("nerfplex.engine.trainer.load_scene", _must_not_load)
    code, _, err = run_cli(capsys, ["train", "--config", write_tiny_config(tmp_path)])
    assert_user_error(code, err, "free", "MiB")
    assert not (tmp_path / "outputs").exists()  # the run folder created for the check is gone again


FAILURES = {
    "ENOSPC": lambda: OSError(errno.ENOSPC, "No space left on device"),
    "EROFS": lambda: OSError(errno.EROFS, "Read-only file system"),
    "torch zip writer": lambda: RuntimeError(
        "[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: file write failed"
    ),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_checkpoint_write_failure_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch, failure):
    real_save = torch.save
    calls = {"n": 0}

    def failing_save(obj, path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint: write half of it, then the disk fails
            Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
            raise FAILURES[failure]()
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", failing_save)
    code, _, err = run_cli(capsys, ["train", "--config", write_tiny_config(tmp_path)])
    assert_user_error(code, err, "checkpoint")
    assert len(err.strip().splitlines()) == 1
    (run,) = (tmp_path / "outputs" / "demo").iterdir()
    (kept,) = list_checkpoints(run)  # the first checkpoint, intact; no temporary left beside it
    assert load_checkpoint(kept)["step"] == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [kept.name]
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    code, _, err = run_cli(capsys, ["train", "--resume", run])
    assert code == 0, err  # the run is resumable once the disk has room again


def test_orphan_temporaries_of_a_killed_run_are_cleaned_at_the_next_start(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    ours = [
        run / "checkpoints" / ".step-0000004.pt.0123abcd.nerfplex-tmp.pt",
        run / ".metrics.json.89abcdef.nerfplex-tmp.json",
    ]
    for path in ours:
        path.write_bytes(b"half")
    theirs = run / "checkpoints" / "my-notes.txt"
    theirs.write_text("user data")
    code, _, err = run_cli(capsys, ["train", "--resume", run, "--trainer.max-steps", "4"])
    assert code == 0, err
    assert not any(p.exists() for p in ours) and theirs.read_text() == "user data"
    assert remove_orphan_temporaries(run) == []


def test_failed_new_run_leaves_nothing(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the data loader crashed")

    monkeypatch.setattr("nerfplex.engine.trainer.load_scene", broken)
    with pytest.raises(RuntimeError):
        run_cli(capsys, ["train", "--config", write_tiny_config(tmp_path)])
    assert not (tmp_path / "outputs").exists()


def test_divergence_stops_with_the_previous_good_checkpoint_and_exit_2(tmp_path, capsys, monkeypatch):
    from nerfplex.engine.trainer import Trainer

    real_step = Trainer.train_step

    def poisoned(self):
        values = real_step(self)
        if self.step == 2:  # the loss stays finite, the weights do not (ngp / DVGO style divergence)
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return values

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    code, _, err = run_cli(capsys, ["train", "--config", write_tiny_config(tmp_path)])
    assert_user_error(code, err, "diverged", "step-0000001.pt")
    (run,) = (tmp_path / "outputs" / "demo").iterdir()
    assert [p.name for p in list_checkpoints(run)] == ["step-0000001.pt"]
    state = load_checkpoint(list_checkpoints(run)[0])
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (run / "metrics.json").exists()
    before = snapshot(run)
    assert snapshot(run) == before
