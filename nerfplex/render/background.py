"""Background colours that rays see through their remaining transmittance."""

from __future__ import annotations

from typing import Literal, Optional

import torch
from torch import Tensor

BackgroundMode = Literal["white", "black", "random"]

_FIXED = {"white": 1.0, "black": 0.0}


def background_colors(
    mode: BackgroundMode, num_rays: int, device, *, generator: Optional[torch.Generator] = None
) -> Tensor:
    """Per-ray background colours ``[R, 3]``.

    ``random`` draws an independent uniform colour per ray (training only: it forces the field to
    explain opacity instead of painting the background into the scene).
    """
    if mode == "random":
        return torch.rand((num_rays, 3), device=device, generator=generator)
    return torch.full((num_rays, 3), _FIXED[mode], device=device)
