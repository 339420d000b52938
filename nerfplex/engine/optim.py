"""Optimiser and the learning-rate schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from nerfplex.config_checks import Check, positive, within
from nerfplex.models.base import Model


@dataclass
class OptimConfig:
    """Adam with NeRF's exponential learning-rate decay ``lr(s) = lr · final_factor^(s / decay_steps)``."""

    lr: float = 5e-4
    """Initial learning rate (the NeRF paper: 5e-4)."""
    final_factor: float = 0.1
    """Factor the rate has decayed by after ``decay_steps`` (the paper: to 5e-5, i.e. 0.1)."""
    decay_steps: Optional[int] = None
    """Steps over which the rate decays by ``final_factor``; None: the run's ``trainer.max_steps``.
    The authors' code uses 250,000 for a 200k-500k step run."""
    beta1: float = 0.9
    """Adam β1."""
    beta2: float = 0.999
    """Adam β2."""
    eps: float = 1e-8
    """Adam ε (the paper: 1e-7; PyTorch ports use 1e-8)."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(self, "lr", "final_factor", "eps"),
            (
                "decay_steps",
                self.decay_steps is None or self.decay_steps >= 0,
                "null or 0 (the run's trainer.max_steps) or a positive number of steps",
            ),
            within(self, "beta1", 0.0, 1.0, closed_high=False),
            within(self, "beta2", 0.0, 1.0, closed_high=False),
        ]


def build_optimizer(model: Model, config: OptimConfig) -> torch.optim.Optimizer:
    """The method's optimiser (``Model.optimizer_class``: Adam unless the method says otherwise, e.g.
    DVGO's ``MaskedAdam``) over the model's parameter groups. Each group's initial rate is ``config.lr``
    unless the model names its own (``Model.get_learning_rates``, e.g. TensoRF's 0.02 for grids, 1e-3
    for MLPs); ``Model.get_param_group_options`` adds per-group settings of that optimiser."""
    own = model.get_learning_rates()
    options = model.get_param_group_options()
    groups = [
        {"params": params, "name": name, "initial_lr": own.get(name, config.lr), **options.get(name, {})}
        for name, params in model.get_param_groups().items()
        if params
    ]
    for group in groups:
        group["lr"] = group["initial_lr"]
    return model.optimizer_class(groups, lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps)


def decay_factor(config: OptimConfig, step: int, max_steps: int) -> float:
    """``final_factor^(step / decay_steps)``: a pure function of the step, so resuming needs no state."""
    decay_steps = config.decay_steps or max_steps
    return config.final_factor ** (step / max(decay_steps, 1))


def set_decay(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set every group's rate to its initial rate times ``factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factor
