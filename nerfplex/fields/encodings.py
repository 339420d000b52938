"""Input encodings for coordinate networks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FrequencyEncoding(nn.Module):
    """NeRF's positional encoding ``γ(p) = (p, sin(2^0 p), cos(2^0 p), ..., sin(2^{L-1} p), cos(2^{L-1} p))``.

    As in the authors' code (bmild/nerf, ``get_embedder``): frequencies ``2^k`` without a factor π,
    the input itself included, sin and cos of each frequency adjacent. ``L = 10`` for positions and
    ``L = 4`` for view directions in the paper.

    Shapes: ``[..., in_dim] -> [..., in_dim * (1 + 2 L)]``.
    """

    def __init__(self, in_dim: int, num_frequencies: int, include_input: bool = True) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.num_frequencies = num_frequencies
        self.include_input = include_input
        self.register_buffer("freqs", 2.0 ** torch.arange(num_frequencies, dtype=torch.float32), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (2 * self.num_frequencies + int(self.include_input))

    def forward(self, x: Tensor) -> Tensor:
        scaled = x[..., None, :] * self.freqs[:, None]  # [..., L, in_dim]
        # Per frequency: sin block then cos block, as the authors' embedder orders them.
        features = torch.stack([scaled.sin(), scaled.cos()], dim=-2).flatten(-3)
        return torch.cat([x, features], dim=-1) if self.include_input else features
