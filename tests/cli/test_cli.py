import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nerfplex.cli.main import main
from nerfplex.config import SCHEMA_VERSION
from nerfplex.errors import NerfplexError


def _tiny_yaml(tmp_path: Path, **trainer) -> Path:
    config = {
        "output_dir": str(tmp_path / "outputs"),
        "data": {"resolution": 12, "num_train_views": 4, "num_test_views": 2},
        "model": {
            "method": "nerf",
            "nerf": {
                "mlp": {"num_layers": 2, "width": 16, "skip_layers": [0]},
                "num_coarse_samples": 8,
                "num_fine_samples": 8,
            },
        },
        "trainer": {
            "max_steps": 4,
            "batch_size": 32,
            "eval_every": 2,
            "log_every": 2,
            "checkpoint_every": 2,
            "progress_bar": False,
            **trainer,
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_then_resume_longer(tmp_path, capsys):
    assert main(["train", "--config", str(_tiny_yaml(tmp_path))]) == 0
    runs = list((tmp_path / "outputs" / "demo").iterdir())
    assert len(runs) == 1
    run = runs[0]
    assert str(run) in capsys.readouterr().out
    for name in ("config.yaml", "metrics.json", "tensorboard", "checkpoints/step-0000004.pt"):
        assert (run / name).exists(), name
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["schema_version"] == SCHEMA_VERSION and saved["trainer"]["max_steps"] == 4

    assert main(["train", "--resume", str(run), "--trainer.max-steps", "6"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["step"] == 6 and 0 < metrics["ssim"] <= 1
    assert [h["step"] for h in metrics["eval_history"]] == [2, 4, 6]  # history survives the resume
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_steps"] == 6


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--data.kind", "blender", "--data.path", "/nonexistent/lego"], "/nonexistent/lego"),
        (["train", "--data.kind", "blender"], "data.path"),
        (["train", "--config", "/nonexistent.yaml"], "does not exist"),
        (["train", "--resume", "/tmp"], "not a run folder"),
        (["train", "--trainer.batch-size", "0"], "trainer.batch_size"),
        (["train", "--data.near", "5", "--data.far", "1"], "near"),
    ],
)
def test_user_errors_print_message_without_traceback(tmp_path, capsys, args, needle):
    status = main(args + (["--output-dir", str(tmp_path / "out")] if "--resume" not in args else []))
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and needle in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_unknown_yaml_key_via_cli(tmp_path, capsys):
    path = tmp_path / "typo.yaml"
    path.write_text("trainer:\n  max_stepz: 3\n")
    assert main(["train", "--config", str(path)]) == 2
    assert "trainer.max_stepz" in capsys.readouterr().err


def test_unknown_command(capsys):
    assert main(["fly"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_help_explains_options():
    out = subprocess.run(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "nerf", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for text in (
        "--config",
        "--resume",
        "--trainer.max-steps",
        "Number of optimisation steps",
        "--model.nerf.mlp.width",
        "--data.kind",
    ):
        assert text in out, text


def test_help_without_a_method_lists_the_methods_and_each_method_shows_only_its_own():
    short = subprocess.run(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert len(short.splitlines()) < 45 and "--config" in short
    for method in ("nerf", "tensorf", "dvgo", "neus", "ngp"):
        assert f"\n  {method} " in short, method
    tensorf = subprocess.run(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "tensorf", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--model.tensorf.n-voxel-final" in tensorf and "--trainer.max-steps" in tensorf
    assert not any(f"--model.{other}." in tensorf for other in ("nerf", "dvgo", "neus", "ngp"))
    from_yaml = subprocess.run(
        [sys.executable, "-m", "nerfplex.cli.main", "train", "--config", "configs/dvgo_demo.yaml", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert "nerfplex train dvgo" in from_yaml and "--model.dvgo.coarse-steps" in from_yaml


def test_method_by_name_and_the_version_1_flag(tmp_path):
    from nerfplex.cli.train import parse

    assert parse(["dvgo"])[0].model.method == "dvgo"
    config = parse(["--model.method", "nerf", "--model.nerf.mlp.width", "32"])[0]
    assert config.model.method == "nerf" and config.model.nerf.mlp.width == 32
    with pytest.raises(NerfplexError, match="named twice"):
        parse(["nerf", "--model.method", "dvgo"])
    with pytest.raises(NerfplexError, match="unknown method 'nope'"):
        parse(["nope"])
    yaml_file = tmp_path / "x.yaml"
    yaml_file.write_text("model:\n  method: neus\n")
    assert parse(["--config", str(yaml_file)])[0].model.method == "neus"
    assert parse(["nerf", "--config", str(yaml_file)])[0].model.method == "nerf"  # the name wins


def test_bad_flag_value_is_rejected(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nerfplex.cli.main",
            "train",
            "--trainer.max-steps",
            "lots",
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "max-steps" in result.stderr
