"""Sweep specs: axes over config keys, seeds, and every mistake caught before anything runs."""

from pathlib import Path

import pytest
import yaml

from nerfplex.cli.main import main
from nerfplex.errors import NerfplexError
from nerfplex.sweep.spec import load_spec, nested, parse_spec

BASE = {"model.method": "nerf", "trainer.max_steps": 5}


def _write(tmp_path, spec):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_grid_of_key_axes_and_named_groups_times_seeds():
    spec = parse_spec(
        {
            "set": BASE,
            "axes": {
                "loss.s3im.weight": [0, 1.5],
                "backbone": {
                    "small": {
                        "model.nerf.mlp.width": 16,
                        "model.nerf.mlp.num_layers": 2,
                        "model.nerf.mlp.skip_layers": [0],
                    },
                    "wide": {"model.nerf.mlp.width": 64},
                },
            },
            "seeds": [3, 4],
            "baseline": {"loss.s3im.weight": 0},
        }
    )
    assert len(spec.runs) == 8
    # seed-major order: every point with seed 3 first
    assert [r.seed for r in spec.runs] == [3, 3, 3, 3, 4, 4, 4, 4]
    first = spec.runs[0]
    assert first.run_id == "weight-0_backbone-small_seed-3"
    assert first.config.trainer.seed == 3 and first.config.trainer.max_steps == 5
    assert first.config.model.nerf.mlp.width == 16 and first.config.model.nerf.mlp.num_layers == 2
    wide = next(r for r in spec.runs if r.run_id == "weight-1.5_backbone-wide_seed-4")
    assert wide.config.loss.s3im.weight == 1.5 and wide.config.model.nerf.mlp.width == 64
    assert wide.config.model.nerf.mlp.num_layers == 4  # the base's value: groups change only their keys
    assert spec.baseline == ("loss.s3im.weight", "0")


def test_nested_turns_dotted_keys_into_sections():
    assert nested({"a.b": 1, "a.c-d": 2, "e": 3}) == {"a": {"b": 1, "c_d": 2}, "e": 3}


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"axes": {"trainer.max_stepz": [1, 2]}}, "trainer.max_stepz"),
        ({"set": {"loss.s3im.wieght": 1}}, "loss.s3im.wieght"),
        ({"axes": {"g": {"a": {"model.nerff.width": 3}}}}, "model.nerff"),
        ({"axes": {"loss.s3im.weight": []}}, "empty"),
        ({"axes": {"g": {}}}, "no values"),
        ({"axes": {"loss.s3im.weight": [0, 1, 0]}}, "duplicate points"),
        ({"axes": {"g": {"a": {"trainer.max_steps": 3}, "b": {"trainer.max_steps": 3}}}}, "duplicate points"),
        ({"seeds": [0, 1, 0]}, "duplicate points"),
        ({"seeds": []}, "seeds"),
        ({"axes": {"trainer.max_steps": [-1, 2]}}, "trainer.max_steps"),
        ({"axes": {"trainer.max_steps": [1, 2], "g": {"a": {"trainer.max_steps": 3}}}}, "two axes"),
        ({"axes": {"loss.s3im.weight": [0, 1]}, "baseline": {"loss.s3im.weight": 2}}, "baseline value"),
        ({"axes": {"loss.s3im.weight": [0, 1]}, "baseline": {"trainer.seed": 0}}, "baseline axis"),
        ({"axis": {"loss.s3im.weight": [0, 1]}}, "unknown key 'axis'"),
        ({"retries": -1}, "retries"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(NerfplexError, match=message):
        parse_spec({"set": BASE, **spec})


def test_cli_rejects_a_bad_spec_before_anything_runs(tmp_path, capsys):
    path = _write(tmp_path, {"set": BASE, "axes": {"loss.s3im.weight": [0, 1], "trainer.no_such_key": [1]}})
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "trainer.no_such_key" in capsys.readouterr().err
    assert not out.exists()


def test_dry_run_lists_the_runs_and_base_files_load(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"schema_version": 1, "trainer": {"max_steps": 9}}))
    path = _write(
        tmp_path, {"name": "demo sweep", "base": str(base), "axes": {"data.train_fraction": [0.1, 1]}, "seeds": [0]}
    )
    spec = load_spec(path)
    assert spec.name == "demo-sweep" and all(r.config.trainer.max_steps == 9 for r in spec.runs)
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "train_fraction-0.1_seed-0" in printed and "train_fraction-1_seed-0" in printed
    assert not (tmp_path / "o").exists()


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_sweep_spec_is_valid(path):
    spec = load_spec(path)  # every run's config goes through the config loader (no data is read)
    assert spec.runs and len({run.run_id for run in spec.runs}) == len(spec.runs)
