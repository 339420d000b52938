"""TensoRF's colour decoder ``MLP_Fea``: appearance features + view direction -> RGB."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def tensorf_encoding(x: Tensor, num_frequencies: int) -> Tensor:
    """The TensoRF authors' positional encoding ``[..., D] -> [..., 2 D L]``.

    Frequencies ``2^k`` (no factor π), ``k < L``; the input itself is not included. Layout: all sines,
    then all cosines, each ordered input-dimension-major (``x_0 2^0, x_0 2^1, ..., x_1 2^0, ...``).
    (nerfplex's ``FrequencyEncoding`` holds the same values in another order.)
    """
    freqs = 2.0 ** torch.arange(num_frequencies, device=x.device, dtype=x.dtype)
    scaled = (x[..., None] * freqs).flatten(-2)
    return torch.cat([scaled.sin(), scaled.cos()], dim=-1)


class FeatureShadingMLP(nn.Module):
    """``MLP_Fea``: ``[f, d, PE(f, L_f), PE(d, L_d)] -> width -> width -> 3``, ReLU, sigmoid output.

    The last layer's bias starts at 0, as in the authors' code; other layers use PyTorch's default
    initialisation.
    """

    def __init__(
        self, in_features: int, view_frequencies: int = 2, feature_frequencies: int = 2, width: int = 128
    ) -> None:
        super().__init__()
        self.view_frequencies = view_frequencies
        self.feature_frequencies = feature_frequencies
        in_dim = in_features * (1 + 2 * feature_frequencies) + 3 * (1 + 2 * view_frequencies)
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, width),
            nn.ReLU(inplace=True),
            nn.Linear(width, width),
            nn.ReLU(inplace=True),
            nn.Linear(width, 3),
        )
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: Tensor, directions: Tensor) -> Tensor:
        """Colours ``[P, 3]`` in (0, 1) from features ``[P, C]`` and unit directions ``[P, 3]``."""
        inputs = [features, directions]
        if self.feature_frequencies > 0:
            inputs.append(tensorf_encoding(features, self.feature_frequencies))
        if self.view_frequencies > 0:
            inputs.append(tensorf_encoding(directions, self.view_frequencies))
        return torch.sigmoid(self.mlp(torch.cat(inputs, dim=-1)))
