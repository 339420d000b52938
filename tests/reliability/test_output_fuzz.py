"""Outputs pointed at things that exist: a user's file, a user's folder (with and without --overwrite),
a run's metrics.json, a folder nerfplex wrote (without --overwrite). Every case is refused before any
work with exit status 2, and the user's files stay byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from reliability_helpers import assert_user_error, run_cli, snapshot

from nerfplex.io import OUTPUT_MARKER


def _user_file(tmp_path: Path, run: Path) -> tuple[Path, list[str]]:
    target = tmp_path / "thesis.tex"
    target.write_text("precious")
    return target, []


def _user_folder(tmp_path: Path, run: Path) -> tuple[Path, list[str]]:
    target = tmp_path / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"\xff\xd8 precious")
    return target, []


def _user_folder_overwrite(tmp_path: Path, run: Path) -> tuple[Path, list[str]]:
    target, _ = _user_folder(tmp_path, run)
    return target, ["--overwrite"]


def _metrics_json(tmp_path: Path, run: Path) -> tuple[Path, list[str]]:
    return run / "metrics.json", ["--overwrite"]


def _nerfplex_folder(tmp_path: Path, run: Path) -> tuple[Path, list[str]]:
    target = tmp_path / "earlier"
    target.mkdir()
    (target / OUTPUT_MARKER).write_text("written by nerfplex: eval\n")
    (target / "metrics.json").write_text("{}")
    return target, []


TARGETS = {
    "a user's file": _user_file,
    "a user's folder": _user_folder,
    "a user's folder with --overwrite": _user_folder_overwrite,
    "the run's metrics.json": _metrics_json,
    "a nerfplex folder without --overwrite": _nerfplex_folder,
}

FOLDER_COMMANDS = {
    "eval": lambda run, out: [
        "eval",
        "--load-config",
        run,
        "--output",
        out,
        "--metrics",
        "psnr",
        "--no-tensorboard",
        "--no-progress",
    ],
    "render": lambda run, out: [
        "render",
        "--load-config",
        run,
        "--output",
        out,
        "--frames",
        "1",
        "--format",
        "png",
        "--no-progress",
    ],
    "report": lambda run, out: ["report", run, "--output", out],
    "make-scene": lambda run, out: [
        "make-scene",
        "--out",
        out,
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


@pytest.mark.parametrize("command", list(FOLDER_COMMANDS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_output_folder_never_replaces_what_nerfplex_did_not_write(tiny_run, tmp_path, capsys, command, target):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    out, extra = TARGETS[target](tmp_path, run)
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, [*FOLDER_COMMANDS[command](run, out), *extra])
    assert_user_error(code, err, str(out))
    assert snapshot(tmp_path) == before


MESH_TARGETS = {
    "a user's mesh file": (lambda tmp, run: tmp / "scan.ply", True),
    "a folder": (lambda tmp, run: tmp / "meshes", False),
    "not a mesh suffix": (lambda tmp, run: tmp / "notes.txt", True),
    "the run's metrics.json": (lambda tmp, run: run / "metrics.json", False),
}


@pytest.mark.parametrize("target", list(MESH_TARGETS))
def test_export_mesh_output_file_is_checked_first(tiny_run, tmp_path, capsys, target):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    make, is_file = MESH_TARGETS[target]
    out = make(tmp_path, run)
    if not out.exists():
        out.write_text("user data") if is_file else out.mkdir()
    before = snapshot(tmp_path)
    code, _, err = run_cli(capsys, ["export-mesh", "--load-config", run, "--output", out, "--resolution", "8"])
    assert_user_error(code, err, str(out))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["an existing file as --output-dir", "a file inside --output-dir's path"])
def test_train_output_dir_that_cannot_be_a_folder(tmp_path, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("user data")
    output_dir = blocker if where.startswith("an existing") else blocker / "sub"
    code, _, err = run_cli(
        capsys, ["train", "--model.method", "nerf", "--output-dir", output_dir, "--trainer.max-steps", "1"]
    )
    assert_user_error(code, err, str(blocker))
    assert blocker.read_text() == "user data"


def test_nerfplex_folder_is_replaced_with_overwrite(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    out, _ = _nerfplex_folder(tmp_path, run)
    code, _, err = run_cli(capsys, [*FOLDER_COMMANDS["report"](run, out), "--overwrite"])
    assert code == 0, err
    assert (out / "report.md").is_file() and (out / OUTPUT_MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "run"]  # no staging left
