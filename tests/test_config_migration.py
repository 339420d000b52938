"""Version-1 configs and run folders load as the current schema (nerfplex/config_migration.py).

Version 1 held every in-tree method's section under ``model``; tests/fixtures/v1_run_config.yaml is a run
folder's config.yaml exactly as the version-1 release wrote it. The shipped configs are version 2; each is
also loaded in the version-1 form the old release would have read (every other method's section added)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from nerfplex.cli.main import main
from nerfplex.config import ExperimentConfig, config_from_dict, default_model, load_config
from nerfplex.config_io import to_dict
from nerfplex.config_migration import SCHEMA_VERSION, V1_METHOD_SECTIONS, migrate, v1_to_v2
from nerfplex.engine.checkpoint import latest_checkpoint
from nerfplex.engine.trainer import Trainer
from nerfplex.errors import NerfplexError
from nerfplex.run_loading import load_run

REPO = Path(__file__).resolve().parents[1]
V1_RUN_CONFIG = REPO / "tests" / "fixtures" / "v1_run_config.yaml"
SHIPPED = sorted(
    p for p in (REPO / "configs").rglob("*.yaml") if "schema_version" in (yaml.safe_load(p.read_text()) or {})
)


def test_v1_to_v2_keeps_only_the_chosen_section():
    v1 = {
        "model": {
            "method": "dvgo",
            "nerf": {"num_coarse_samples": 3},
            "dvgo": {"coarse_steps": 7},
            "neus": {},
            "typo": 1,
        },
        "trainer": {"max_steps": 5},
    }
    assert v1_to_v2(v1, "tensorf") == {
        "model": {"method": "dvgo", "dvgo": {"coarse_steps": 7}, "typo": 1},
        "trainer": {"max_steps": 5},
    }
    # No method named: the base config's method keeps its section.
    assert v1_to_v2({"model": {"nerf": {}, "tensorf": {"mlp_width": 8}}}, "tensorf") == {
        "model": {"tensorf": {"mlp_width": 8}}
    }
    assert migrate({"schema_version": 1, "model": {"nerf": {}}}, "tensorf") == {"model": {}}
    assert migrate({"trainer": {}}, "tensorf") == {"trainer": {}}  # no version: the current one
    with pytest.raises(NerfplexError, match="schema_version 99"):
        migrate({"schema_version": 99}, "tensorf", "x.yaml")


def test_a_v1_run_folder_config_loads_as_the_demo():
    config = load_config(V1_RUN_CONFIG)
    demo = ExperimentConfig()
    assert config.model == demo.model and list(to_dict(config.model)) == ["method", "tensorf"]
    assert (config.optim, config.trainer, config.loss) == (demo.optim, demo.trainer, demo.loss)


def test_a_v1_file_without_schema_version_still_loads(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("model:\n  method: nerf\n  nerf:\n    num_fine_samples: 0\n  tensorf:\n    mlp_width: 8\n")
    config = load_config(path)
    assert config.model.method == "nerf" and config.model.nerf.num_fine_samples == 0
    with pytest.raises(NerfplexError, match="holds only its method's section"):  # a mapping built in code
        config_from_dict(yaml.safe_load(path.read_text()))


def _v1_form(data: dict) -> dict:
    """``data`` (a version-2 mapping) as the version-1 release saved it: every other method's section too,
    at the values the version-1 defaults had (the demo's CPU sizes for nerf and tensorf)."""
    model = dict(data.get("model", {}))
    method = model.get("method", "tensorf")
    others = {name: to_dict(default_model(name).settings) for name in V1_METHOD_SECTIONS if name != method}
    return {**data, "schema_version": 1, "model": {**others, **model}}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.relative_to(REPO / "configs").as_posix() for p in SHIPPED])
def test_every_shipped_config_in_its_v1_form_loads_the_same(path, tmp_path):
    data = yaml.safe_load(path.read_text())
    assert data["schema_version"] in (1, SCHEMA_VERSION)
    v1_file = tmp_path / "v1.yaml"
    v1_file.write_text(yaml.safe_dump(_v1_form(data), sort_keys=False))
    assert load_config(v1_file) == load_config(path)


def _tiny_v1_run_config(output_dir: Path) -> dict:
    """The version-1 fixture, shrunk to a few seconds of training (still every method's section)."""
    data = yaml.safe_load(V1_RUN_CONFIG.read_text())
    data["output_dir"] = str(output_dir)
    data["data"].update(resolution=16, num_train_views=4, num_test_views=2)
    data["model"]["tensorf"].update(
        n_voxel_init=4096,
        n_voxel_final=8000,
        upsample_steps=[2],
        alpha_mask_steps=[],
        density_ranks=[2, 2, 2],
        color_ranks=[4, 4, 4],
        mlp_width=16,
    )
    data["trainer"].update(max_steps=3, batch_size=128, eval_every=0, checkpoint_every=2, progress_bar=False)
    return data


def _write_v1_checkpoint(path: Path) -> None:
    """Rewrite a checkpoint in the version-1 layout (the same entries, no ``meta``, format version 1)."""
    state = torch.load(path, weights_only=True)
    state.pop("meta", None)
    torch.save({**state, "version": 1}, path)


@pytest.mark.slow
def test_a_v1_run_folder_evaluates_and_resumes(tmp_path):
    """A run folder as the version-1 release left it (v1 config.yaml, v1 checkpoint at step 2) loads for
    evaluation and resumes to the end through the CLI."""
    v1 = _tiny_v1_run_config(tmp_path / "outputs")
    run_dir = tmp_path / "outputs" / "demo" / "20260101-120000"
    trainer = Trainer(config_from_dict(v1), run_dir)
    trainer.train(until_step=2)
    checkpoint = latest_checkpoint(run_dir)
    _write_v1_checkpoint(checkpoint)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(v1, sort_keys=False))

    run = load_run(run_dir / "config.yaml")
    assert run.step == 2 and run.config.model.method == "tensorf"
    trained = trainer.model.state_dict()
    assert all(torch.equal(value, trained[key].cpu()) for key, value in run.model.state_dict().items())

    assert main(["train", "--resume", str(run_dir)]) == 0
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["schema_version"] == SCHEMA_VERSION and list(saved["model"]) == ["method", "tensorf"]
    assert latest_checkpoint(run_dir).name == "step-0000003.pt"
