"""Adam as the DVGO authors run it (``lib/masked_adam.py``): per-group sparse updates and per-voxel rates.

The update is ``p -= lr · sqrt(1 - β2^t) / (1 - β1^t) · m / (sqrt(v) + ε)`` (ε outside the bias
correction, unlike ``torch.optim.Adam``). Two per-group options:

* ``skip_zero_grad``: entries whose gradient is exactly 0 keep their value *and* their moments (the
  authors' ``skip_zero_grad_fields``: voxels no ray touched this step do not drift on momentum).
* ``lr_scale``: a tensor shaped like the group's parameter(s) that multiplies the rate entry-wise
  (the authors' view-count-based ``pervoxel_lr``); it takes precedence over ``skip_zero_grad``, as
  theirs does. Parameters of another shape ignore it.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor


class MaskedAdam(torch.optim.Optimizer):
    """Adam with the options above; state per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.99), eps: float = 1e-8) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, skip_zero_grad=False, lr_scale=None)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            scale: Optional[Tensor] = group["lr_scale"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                t = state["step"]
                step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                grad, m, v = param.grad, state["exp_avg"], state["exp_avg_sq"]
                if scale is not None and scale.shape == param.shape:
                    m.mul_(beta1).add_(grad, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    param.sub_(step_size * scale.to(param) * m / (v.sqrt() + group["eps"]))
                elif group["skip_zero_grad"]:
                    # Only entries with a non-zero gradient change (moments included).
                    index = grad.reshape(-1).nonzero().squeeze(1)
                    g = grad.reshape(-1)[index]
                    m_i = m.view(-1)[index].mul_(beta1).add_(g, alpha=1 - beta1)
                    v_i = v.view(-1)[index].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    m.view(-1)[index] = m_i
                    v.view(-1)[index] = v_i
                    param.view(-1).index_add_(0, index, m_i / (v_i.sqrt() + group["eps"]), alpha=-step_size)
                else:
                    m.mul_(beta1).add_(grad, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    param.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-step_size)
        return loss
