"""The vanilla NeRF field: an MLP from encoded position (and view direction) to density and colour."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nerfplex.config_checks import Check, at_least, non_negative, positive
from nerfplex.fields.encodings import FrequencyEncoding


@dataclass
class NeRFMLPConfig:
    """Size of one NeRF MLP (the paper: 8 layers of 256, skip at 4, 10 / 4 frequencies)."""

    num_layers: int = 8
    """Number of hidden layers of the trunk."""
    width: int = 256
    """Width of each hidden layer."""
    skip_layers: tuple[int, ...] = (4,)
    """Trunk layers (0-based) whose output is concatenated with the encoded position before the next
    layer, as in the authors' code (``skips=[4]``: the fifth layer's activation)."""
    position_frequencies: int = 10
    """Frequencies L of the positional encoding of positions."""
    direction_frequencies: int = 4
    """Frequencies L of the positional encoding of view directions."""
    use_view_dirs: bool = True
    """Condition colour on the view direction (the view-dependent head)."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(self, "num_layers"),
            at_least(self, "width", 2, "an integer of at least 2"),
            *non_negative(self, "position_frequencies", "direction_frequencies"),
            (
                "skip_layers",
                all(0 <= s < self.num_layers for s in self.skip_layers),
                f"layer indices in [0, num_layers = {self.num_layers})",
            ),
        ]


class NeRFMLP(nn.Module):
    """Density from position alone; colour from a trunk feature and the view direction.

    ``forward(positions [P, 3], directions [P, 3]) -> (density [P], rgb [P, 3])``; density is ReLU-
    activated, colour sigmoid-activated, as in the paper.
    """

    def __init__(self, config: NeRFMLPConfig) -> None:
        super().__init__()
        self.config = config
        self.position_encoding = FrequencyEncoding(3, config.position_frequencies)
        self.direction_encoding = FrequencyEncoding(3, config.direction_frequencies)
        in_dim, width = self.position_encoding.out_dim, config.width
        layers = []
        for i in range(config.num_layers):
            layer_in = in_dim if i == 0 else width
            if i - 1 in config.skip_layers:
                layer_in += in_dim
            layers.append(nn.Linear(layer_in, width))
        self.trunk = nn.ModuleList(layers)
        self.density_head = nn.Linear(width, 1)
        if config.use_view_dirs:
            self.feature_layer = nn.Linear(width, width)
            self.view_layer = nn.Linear(width + self.direction_encoding.out_dim, width // 2)
            self.rgb_head = nn.Linear(width // 2, 3)
        else:
            self.rgb_head = nn.Linear(width, 3)

    def forward(self, positions: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        encoded = self.position_encoding(positions)
        h = encoded
        for i, layer in enumerate(self.trunk):
            h = torch.relu(layer(h))
            if i in self.config.skip_layers and i + 1 < len(self.trunk):
                h = torch.cat([encoded, h], dim=-1)
        density = torch.relu(self.density_head(h)).squeeze(-1)
        if self.config.use_view_dirs:
            feature = self.feature_layer(h)
            h = torch.relu(self.view_layer(torch.cat([feature, self.direction_encoding(directions)], -1)))
        rgb = torch.sigmoid(self.rgb_head(h))
        return density, rgb
