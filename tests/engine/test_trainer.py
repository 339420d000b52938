import json
import os
import signal

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nerfplex.engine.checkpoint import list_checkpoints
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.errors import NerfplexError


def _params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_continues_exactly(tiny_config, tiny_scene, tmp_path):
    straight = Trainer(tiny_config, tmp_path / "a", scene=tiny_scene)
    straight.train()

    first = Trainer(tiny_config, tmp_path / "b", scene=tiny_scene)
    first.train(until_step=4)
    assert first.step == 4 and list_checkpoints(tmp_path / "b")
    second = Trainer(tiny_config, tmp_path / "b", scene=tiny_scene)
    second.resume()
    assert second.step == 4
    second.train()

    expected, got = _params(straight.model), _params(second.model)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6)
    # ...and the optimiser moments too.
    a, b = straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    for idx in a:
        torch.testing.assert_close(b[idx]["exp_avg_sq"], a[idx]["exp_avg_sq"], rtol=0, atol=1e-9)


def test_run_folder_contents_and_metrics(tiny_config, tiny_scene, tmp_path):
    trainer = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene)
    metrics = trainer.train()
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["step"] == 8 and len(saved["per_image"]) == 2
    assert saved["psnr"] == pytest.approx(sum(r["psnr"] for r in saved["per_image"]) / 2)
    assert metrics == saved
    assert [h["step"] for h in saved["eval_history"]] == [4, 8]
    # Training time at each evaluation grows and ends at the run's total; rendering is timed apart.
    mid, end = saved["eval_history"]
    assert 0 < mid["train_seconds"] < end["train_seconds"] == pytest.approx(saved["train_seconds"])
    assert mid["render_seconds"] > 0 and end["render_seconds"] > 0
    assert saved["ssim"] is None  # 8x8 images are smaller than the 11x11 SSIM window
    assert len(list_checkpoints(tmp_path / "run")) == tiny_config.trainer.keep_checkpoints
    assert not list((tmp_path / "run").rglob("*.tmp"))


def test_tensorboard_events_hold_scalars_and_images(tiny_config, tiny_scene, tmp_path):
    Trainer(tiny_config, tmp_path / "run", scene=tiny_scene).train()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    for tag in (
        "loss/total",
        "loss/rgb_mse",
        "loss/rgb_mse_coarse",
        "train/psnr",
        "train/lr",
        "train/rays_per_sec",
        "eval/psnr",
    ):
        assert tag in scalars, tag
    assert [e.step for e in events.Scalars("eval/psnr")] == [4, 8]
    assert {"eval/rgb", "eval/depth", "eval/error"} <= set(events.Tags()["images"])
    image = events.Images("eval/rgb")[-1]
    assert (image.width, image.height) == (16, 8)  # prediction | target side by side


def test_learning_rate_decays_exponentially(tiny_config, tiny_scene, tmp_path):
    Trainer(tiny_config, tmp_path / "run", scene=tiny_scene).train()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    lr = {e.step: e.value for e in events.Scalars("train/lr")}
    # lr is logged after the step that used it: step s used lr0 * 0.1^((s-1)/8).
    assert lr[2] == pytest.approx(5e-4 * 0.1 ** (1 / 8), rel=1e-5)
    assert lr[8] == pytest.approx(5e-4 * 0.1 ** (7 / 8), rel=1e-5)


def test_ctrl_c_saves_checkpoint_and_stops(tiny_config, tiny_scene, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene)
    original = trainer.model.on_train_step

    def press_ctrl_c(step):
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)
        original(step)

    monkeypatch.setattr(trainer.model, "on_train_step", press_ctrl_c)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN under nohup / `&`
    with pytest.raises(TrainingInterrupted) as stop:
        trainer.train()
    assert trainer.step == 6
    assert stop.value.args[0].name == "step-0000006.pt"
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is back


def test_nan_loss_stops_with_clear_error_and_keeps_checkpoint(tiny_config, tiny_scene, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene)
    original = trainer.model.on_train_step

    def poison(step):
        if step == 5:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))
        original(step)

    monkeypatch.setattr(trainer.model, "on_train_step", poison)
    with pytest.raises(NerfplexError, match="diverged") as err:
        trainer.train()
    assert "step-0000004.pt" in str(err.value)
    checkpoints = list_checkpoints(tmp_path / "run")
    assert [p.name for p in checkpoints] == ["step-0000004.pt"]
    state = torch.load(checkpoints[0], weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_resume_without_checkpoint_is_a_clear_error(tiny_config, tiny_scene, tmp_path):
    with pytest.raises(NerfplexError, match="nothing to resume"):
        Trainer(tiny_config, tmp_path / "empty", scene=tiny_scene).resume()


def test_s3im_switch_adds_a_logged_term_and_resume_stays_exact(tiny_config, tiny_scene, tmp_path):
    from nerfplex.config import config_from_dict

    config = config_from_dict({"loss": {"s3im": {"weight": 1.0, "patch_height": 8, "repeat": 3}}}, base=tiny_config)
    straight = Trainer(config, tmp_path / "a", scene=tiny_scene)
    values = {key: float(value) for key, value in straight.train_step().items()}
    assert values["loss/s3im"] > 0
    assert values["loss/total"] == pytest.approx(
        values["loss/rgb_mse"] + values["loss/rgb_mse_coarse"] + values["loss/s3im"], rel=1e-5
    )
    straight.train()
    events = EventAccumulator(str(tmp_path / "a" / "tensorboard"))
    events.Reload()
    assert "loss/s3im" in events.Tags()["scalars"]

    first = Trainer(config, tmp_path / "b", scene=tiny_scene)
    first.train(until_step=4)
    second = Trainer(config, tmp_path / "b", scene=tiny_scene)
    second.resume()
    second.train()
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[key], value, rtol=0, atol=1e-6)


def test_depth_s3im_uses_ground_truth_depth(tiny_config, tmp_path):
    from nerfplex.config import config_from_dict
    from nerfplex.data.procedural import make_procedural_scene

    scene = make_procedural_scene("object", 8, 3, 1, seed=0)
    config = config_from_dict(
        {"loss": {"s3im": {"weight": 1.0, "depth_weight": 0.5, "patch_height": 4, "repeat": 2}}}, base=tiny_config
    )
    values = Trainer(config, tmp_path / "run", scene=scene).train_step()
    assert float(values["loss/s3im_depth"]) > 0
