"""Mixed precision for the training step: autocast, and a gradient scaler for float16.

On CUDA with ``trainer.mixed_precision`` the forward pass and the losses run under
``torch.autocast`` in ``trainer.mixed_precision_dtype`` (bfloat16 by default: float32's range, so no
loss scaling; float16 adds ``torch.amp.GradScaler``). Parameters, optimiser state and gradients stay
float32.

On the CPU the switch is a documented no-op: the step runs in float32 and the trainer says so once.
Reasons: CPU autocast to bfloat16 is slower than float32 for these models on CPUs without bf16
matrix units (this project's machines), and a config written for a GPU machine should run unchanged
on a CPU one (tests, CI, the benchmark presets).
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch
from torch import Tensor

PrecisionDtype = Literal["bfloat16", "float16"]


class MixedPrecision:
    """Autocast + grad scaling when ``enabled`` on a CUDA ``device``; plain float32 otherwise.

    ``backward(loss)`` and ``step(optimizer)`` replace ``loss.backward()`` and ``optimizer.step()``
    (with scaling they unscale, skip steps with inf / NaN gradients and adapt the scale).
    """

    def __init__(self, enabled: bool, dtype: PrecisionDtype, device: torch.device) -> None:
        self.requested = enabled
        self.active = enabled and device.type == "cuda"
        self.dtype = torch.bfloat16 if dtype == "bfloat16" else torch.float16
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.active and self.dtype == torch.float16)

    @property
    def ignored(self) -> bool:
        """Requested but not applied (not on CUDA)."""
        return self.requested and not self.active

    def autocast(self):
        """Context for the forward pass and the losses."""
        if not self.active:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def backward(self, loss: Tensor) -> None:
        self.scaler.scale(loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Bring gradients to their true scale (before reducing or clipping them)."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler.is_enabled() else {}

    def load_state_dict(self, state: dict) -> None:
        if state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state)
