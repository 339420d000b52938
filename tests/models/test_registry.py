"""Methods by name (nerfplex/models/registry.py): the in-tree table, plug-ins through the
``nerfplex.methods`` entry-point group. The plug-in is the one docs/adding-a-method.md walks through: its
files are taken from that page, installed, and trained through ``nerfplex train toy``."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nerfplex.cli.main import main
from nerfplex.config import config_from_dict
from nerfplex.errors import NerfplexError
from nerfplex.models.registry import ENTRY_POINT_GROUP, METHODS, available_methods, method_config_class, model_config
from nerfplex.run_loading import load_run

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--data.resolution",
    "12",
    "--data.num-train-views",
    "4",
    "--data.num-test-views",
    "2",
    "--trainer.max-steps",
    "3",
    "--trainer.batch-size",
    "64",
    "--trainer.eval-every",
    "0",
    "--trainer.checkpoint-every",
    "3",
    "--trainer.no-progress-bar",
]


def doc_files() -> dict[str, str]:
    """The files docs/adding-a-method.md shows (``<!-- file: PATH -->`` before a fenced block)."""
    text = (REPO / "docs" / "adding-a-method.md").read_text()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)
    return dict(blocks)


def write_package(root: Path) -> Path:
    """The plug-in's source tree (package + pyproject.toml) from the docs, under ``root``."""
    for name, text in doc_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_in_tree_methods_build_their_models(tiny_scene):
    assert list(METHODS) == ["nerf", "tensorf", "dvgo", "neus", "ngp"]
    for name in METHODS:
        cls = method_config_class(name)
        assert cls.__module__ == METHODS[name].partition(":")[0] and callable(cls.build)
    config = model_config("nerf")
    assert type(config.settings).__name__ == "VanillaNeRFConfig"


def test_unknown_and_broken_methods_say_what_exists(monkeypatch):
    with pytest.raises(NerfplexError, match="unknown method 'nope'.*nerf, tensorf"):
        method_config_class("nope")
    monkeypatch.setitem(METHODS, "broken", "no_such_module_h15b:Config")
    with pytest.raises(NerfplexError, match="method 'broken'.*cannot be loaded"):
        method_config_class("broken")
    monkeypatch.setitem(METHODS, "notconfig", "nerfplex.models.base:Model")
    with pytest.raises(NerfplexError, match="must be a dataclass with a build"):
        method_config_class("notconfig")


@pytest.fixture
def toy_installed(tmp_path, monkeypatch) -> Path:
    """The docs' plug-in on ``sys.path`` with a ``.dist-info`` that declares its entry point, as pip
    leaves an installed package (the slow test below runs pip itself)."""
    site = write_package(tmp_path / "site")
    (site / "pyproject.toml").unlink()
    info = site / "toy_method-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-method\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoy = toy_method:ToyConfig\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("toy_method", None)


@pytest.mark.slow
def test_a_plugin_method_trains_resumes_and_loads_through_the_cli(toy_installed, tmp_path, capsys):
    assert available_methods()["toy"] == "toy_method:ToyConfig"
    out = tmp_path / "out"
    assert main(["train", "toy", "--model.toy.width", "8", "--output-dir", str(out), *TINY]) == 0
    run = next((out / "demo").iterdir())
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"] == {"method": "toy", "toy": {"width": 8, "num_samples": 24, "learning_rate": 5e-3}}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == "toy" and metrics["step"] == 3 and metrics["psnr"] > 0

    assert main(["train", "--resume", str(run), "--trainer.max-steps", "4"]) == 0
    assert json.loads((run / "metrics.json").read_text())["step"] == 4
    loaded = load_run(run)
    assert type(loaded.model).__name__ == "ToyModel" and loaded.step == 4

    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "  toy        Toy field" in capsys.readouterr().out
    with pytest.raises(NerfplexError, match="model.toy.width"):
        config_from_dict({"model": {"method": "toy", "toy": {"width": 0}}})


@pytest.mark.slow
def test_a_pip_installed_plugin_trains_through_the_cli(tmp_path):
    """``pip install --no-build-isolation --no-deps`` of the docs' package (offline), then ``nerfplex train
    toy`` in a fresh process that sees it only through its entry point."""
    source = write_package(tmp_path / "toy-method")
    target = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stderr
    assert (next(target.glob("toy_method-*.dist-info")) / "entry_points.txt").is_file()
    env = {"PYTHONPATH": f"{target}:{REPO}", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "toy", "--output-dir", str(tmp_path / "out"), *TINY],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "held-out PSNR" in result.stdout
