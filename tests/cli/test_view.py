"""``nerfplex view``: argument mistakes are clear errors."""

from __future__ import annotations

from nerfplex.cli.main import main
from nerfplex.config import save_config
from nerfplex.engine.trainer import Trainer


def test_an_unknown_step_lists_the_steps_there_are(tiny_config, tiny_scene, tmp_path, capsys):
    run = tmp_path / "run"
    Trainer(tiny_config, run, scene=tiny_scene).train()
    save_config(tiny_config, run / "config.yaml")
    assert main(["view", str(run), "--step", "999"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint of step 999" in err and "8" in err


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["view", str(tmp_path)]) == 2
    assert "config.yaml" in capsys.readouterr().err


def test_bad_viewer_options_name_the_flag(tmp_path, capsys):
    assert main(["view", str(tmp_path), "--viewer.render-share", "2"]) == 2
    assert "--viewer.render-share" in capsys.readouterr().err
