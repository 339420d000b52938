import pytest
import torch
from torch import nn

from nerfplex.engine.optim import OptimConfig, build_optimizer, decay_factor, set_decay
from nerfplex.engine.trainer import Trainer
from nerfplex.models.base import Model


class _TwoGroups(Model):
    def __init__(self):
        super().__init__()
        self.grid = nn.Parameter(torch.zeros(4))
        self.mlp = nn.Linear(2, 2)

    def get_param_groups(self):
        return {"grid": [self.grid], "mlp": list(self.mlp.parameters())}

    def get_learning_rates(self):
        return {"grid": 0.02}


def test_groups_keep_their_own_initial_rates_under_decay():
    optimizer = build_optimizer(_TwoGroups(), OptimConfig(lr=1e-3))
    set_decay(optimizer, decay_factor(OptimConfig(final_factor=0.1), 50, 100))
    rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert rates["grid"] == pytest.approx(0.02 * 0.1**0.5)
    assert rates["mlp"] == pytest.approx(1e-3 * 0.1**0.5)


def test_decay_reaches_final_factor_at_decay_steps():
    assert decay_factor(OptimConfig(final_factor=0.1, decay_steps=500), 500, 100) == pytest.approx(0.1)
    assert decay_factor(OptimConfig(final_factor=0.1), 100, 100) == pytest.approx(0.1)


def test_trainer_rebuilds_optimizer_when_the_model_says_so(tiny_config, tiny_scene, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene)
    monkeypatch.setattr(trainer.model, "on_train_step", lambda step: step == 2)
    trainer.train_step()
    first = trainer.optimizer
    trainer.train_step()
    assert trainer.optimizer is first
    trainer.train_step()
    assert trainer.optimizer is not first
    steps = {float(state["step"]) for state in trainer.optimizer.state.values()}
    assert steps == {1.0}  # fresh Adam moments: one step since the rebuild
