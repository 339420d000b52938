"""Hostile, corrupt, foreign and mismatched checkpoints given to every command that reads one (train
--resume, eval, render, export-mesh): each is a clear error before anything runs, no code in a checkpoint
ever runs, and nothing in the run folder changes."""

from __future__ import annotations

import builtins
import io
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from reliability_helpers import assert_user_error, run_cli, snapshot

from nerfplex.engine.checkpoint import latest_checkpoint, load_checkpoint
from nerfplex.errors import NerfplexError


class Payload:
    """Unpickling this creates the file ``Payload.target`` (what a malicious checkpoint would do)."""

    target = ""

    def __reduce__(self):
        return builtins.open, (self.target, "w")


def _real(run: Path) -> dict:
    return torch.load(latest_checkpoint(run), weights_only=True)


def _save(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _hostile(run: Path, marker: Path) -> bytes:
    Payload.target = str(marker)
    return _save({"version": 2, "step": 1, "model": Payload()})


def _hostile_inside_real(run: Path, marker: Path) -> bytes:
    Payload.target = str(marker)
    state = _real(run)
    state["eval_history"] = [Payload()]
    return _save(state)


def _other_method(run: Path, marker: Path) -> bytes:
    state = _real(run)
    state["meta"]["model_settings"] = {"method": "tensorf", "tensorf": {}}
    state["meta"]["config_hash"] = "0" * 16
    return _save(state)


def _other_width(run: Path, marker: Path) -> bytes:
    state = _real(run)
    state["meta"]["model_settings"]["nerf"]["mlp"]["width"] = 64
    state["meta"]["config_hash"] = "1" * 16
    return _save(state)


def _wrong_shapes_v1(run: Path, marker: Path) -> bytes:
    state = _real(run)
    state.pop("meta")
    state["version"] = 1
    key = next(k for k, v in state["model"].items() if v.ndim == 2)
    state["model"][key] = torch.zeros(3, 3)
    return _save(state)


KINDS = {
    "hostile pickle": _hostile,
    "hostile object inside a real checkpoint": _hostile_inside_real,
    "truncated": lambda run, marker: latest_checkpoint(run).read_bytes()[: latest_checkpoint(run).stat().st_size // 2],
    "random bytes": lambda run, marker: bytes((i * 7919) % 256 for i in range(4096)),
    "empty": lambda run, marker: b"",
    "plain pickle": lambda run, marker: pickle.dumps({"version": 2, "step": 1, "model": {}}),
    "foreign weights": lambda run, marker: _save({"weight": torch.zeros(3)}),
    "future version": lambda run, marker: _save({"version": 99, "step": 1, "model": {}}),
    "not a dict": lambda run, marker: _save([torch.zeros(2)]),
    "no model": lambda run, marker: _save({"version": 2, "step": 1}),
    "other method": _other_method,
    "other width": _other_width,
    "wrong shapes (version 1)": _wrong_shapes_v1,
}

COMMANDS = {
    "train --resume": lambda run, ckpt, out: ["train", "--resume", run],
    "eval": lambda run, ckpt, out: [
        "eval",
        "--load-config",
        run,
        "--checkpoint",
        ckpt,
        "--output",
        out,
        "--metrics",
        "psnr",
        "--no-tensorboard",
        "--no-progress",
    ],
    "render": lambda run, ckpt, out: [
        "render",
        "--load-config",
        run,
        "--checkpoint",
        ckpt,
        "--output",
        out,
        "--frames",
        "1",
        "--format",
        "png",
        "--no-progress",
    ],
    "export-mesh": lambda run, ckpt, out: [
        "export-mesh",
        "--load-config",
        run,
        "--checkpoint",
        ckpt,
        "--output",
        out / "mesh.ply",
        "--resolution",
        "8",
    ],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_bad_checkpoint_is_refused_before_anything_runs(tiny_run, tmp_path, capsys, kind, command):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    marker = tmp_path / "payload-ran"
    bad = run / "checkpoints" / "step-9999999.pt"  # the newest: what --resume picks
    bad.write_bytes(KINDS[kind](run, marker))
    before = snapshot(run)
    code, _, err = run_cli(capsys, COMMANDS[command](run, bad, tmp_path / "out"))
    assert_user_error(code, err, str(bad))
    assert not marker.exists(), "code in the checkpoint ran"
    assert snapshot(run) == before  # config.yaml, checkpoints, metrics: untouched
    assert not (tmp_path / "out").exists()


def test_hostile_payload_does_not_run_in_load_checkpoint(tiny_run, tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.pt"
    path.write_bytes(_hostile(tiny_run, marker))
    with pytest.raises(NerfplexError, match="never runs code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_every_checkpoint_nerfplex_writes_loads_with_weights_only(tiny_run):
    for path in (tiny_run / "checkpoints").iterdir():
        state = torch.load(path, weights_only=True)
        assert state["meta"]["method"] == "nerf" and state["meta"]["shapes"]


@pytest.mark.parametrize(
    "flag, value, needle",
    [
        ("--model.nerf.mlp.width", "32", "model.nerf.mlp.width"),
        ("--model.nerf.num-fine-samples", "0", "num_fine_samples"),
        ("--model.method", "tensorf", "nerf"),
    ],
)
def test_resume_with_changed_model_settings_keeps_config_and_weights(tiny_run, tmp_path, capsys, flag, value, needle):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    code, _, err = run_cli(capsys, ["train", "--resume", run, flag, value])
    assert_user_error(code, err, needle)
    assert snapshot(run) == before  # config.yaml never disagrees with the weights
