import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nerfplex.cli.train import parse
from nerfplex.config import SCHEMA_VERSION, ExperimentConfig, config_from_dict, default_model, load_config, save_config
from nerfplex.config_io import to_dict
from nerfplex.errors import NerfplexError
from nerfplex.models.registry import METHODS

REPO = Path(__file__).resolve().parents[1]


def test_builtin_defaults_are_the_demo_yaml():
    assert load_config(REPO / "configs" / "demo.yaml") == ExperimentConfig()
    written = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    written.pop("schema_version")
    assert written == to_dict(ExperimentConfig())  # every key spelled out, nothing stale


def test_every_yaml_under_configs_loads():
    for path in (REPO / "configs").rglob("*.yaml"):
        if "sweeps" not in path.relative_to(REPO / "configs").parts:  # sweep specs: tests/sweep
            load_config(path)


def test_save_is_plain_yaml_and_round_trips(tmp_path):
    config = config_from_dict(
        {"trainer": {"max_steps": 7}, "model": {"method": "nerf", "nerf": {"mlp": {"skip_layers": [1, 2]}}}}
    )
    save_config(config, tmp_path / "c.yaml")
    text = (tmp_path / "c.yaml").read_text()
    assert "!!python" not in text
    data = yaml.safe_load(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert load_config(tmp_path / "c.yaml") == config
    assert config.model.nerf.mlp.skip_layers == (1, 2)
    assert list(data["model"]) == ["method", "nerf"]  # only the chosen method's section


def test_importing_the_config_loads_no_method():
    code = "import json, sys, nerfplex.config; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert "nerfplex.models.registry" in loaded
    methods = [entry.partition(":")[0] for entry in METHODS.values()]
    assert not [module for module in methods if module in loaded]


def test_a_config_holds_only_its_method_and_switching_starts_from_its_defaults():
    config = config_from_dict({"model": {"method": "dvgo", "dvgo": {"coarse_steps": 3}}})
    assert config.model.method == "dvgo" and config.model.dvgo.coarse_steps == 3
    assert not hasattr(config.model, "tensorf") and config.model.settings is config.model.dvgo
    assert config_from_dict({"model": {"method": "tensorf"}}) == ExperimentConfig()
    assert config_from_dict({"model": {"method": "nerf"}}).model == default_model("nerf")
    assert pickle.loads(pickle.dumps(config)) == config


def test_partial_yaml_keeps_other_defaults():
    config = config_from_dict({"optim": {"beta1": 0.8}})
    assert config.optim.beta1 == 0.8
    assert config.trainer == ExperimentConfig().trainer


def test_int_accepted_for_float_field():
    assert config_from_dict({"optim": {"final_factor": 1}}).optim.final_factor == 1.0


def test_cli_flags_override_yaml(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("trainer:\n  max_steps: 11\n  batch_size: 64\n")
    config, run_dir = parse(["--config", str(path), "--trainer.max-steps", "5"])
    assert config.trainer.max_steps == 5 and config.trainer.batch_size == 64 and run_dir is None


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"trainer": {"max_step": 3}}, "trainer.max_step"),
        ({"trainerr": {}}, "trainerr"),
        ({"trainer": {"max_steps": "many"}}, "trainer.max_steps"),
        ({"trainer": {"max_steps": 2.5}}, "trainer.max_steps"),
        ({"trainer": {"progress_bar": "yes"}}, "trainer.progress_bar"),
        ({"data": {"kind": "photogrammetry"}}, "data.kind"),
        ({"trainer": {"batch_size": 0}}, "trainer.batch_size"),
        ({"optim": {"lr": -1.0}}, "optim.lr"),
        ({"trainer": 5}, "trainer"),
        ({"model": {"method": "nerf", "nerf": {"mlp": {"skip_layers": ["a"]}}}}, "model.nerf.mlp.skip_layers[0]"),
        ({"model": {"nerf": {}}}, "this config trains 'tensorf'"),
        ({"model": {"method": "nope"}}, "unknown method 'nope'"),
        ({"schema_version": 99}, "schema_version"),
        ({"loss": {"s3im": {"weight": 1.0}}, "trainer": {"batch_size": 4}}, "virtual image"),
        ({"loss": {"s3im": {"weight": -1.0}}}, "loss.s3im.weight"),
    ],
)
def test_bad_config_values_name_the_key(data, needle):
    with pytest.raises(NerfplexError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict(data)


def test_malformed_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("trainer: [unclosed\n")
    with pytest.raises(NerfplexError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(NerfplexError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_exponent_floats_without_a_dot_are_floats():
    # PyYAML reads `1e-4` as a string (YAML 1.1); users write it that way all the time
    config = config_from_dict(yaml.safe_load("model: {method: nerf}\noptim: {lr: 1e-4}\nloss: {s3im: {weight: 2e0}}"))
    assert config.optim.lr == 1e-4 and config.loss.s3im.weight == 2.0
    with pytest.raises(NerfplexError, match="optim.lr"):
        config_from_dict({"optim": {"lr": "fast"}})
