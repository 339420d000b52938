"""NeuS's appearance network and its single learnable sharpness.

* :class:`RenderingNetwork`: the authors' ``RenderingNetwork`` (IDR's): an MLP of ReLU layers with
  weight normalisation, PyTorch's default initialisation, from the point, the (encoded) view direction,
  the SDF gradient and the SDF network's feature vector to a sigmoid colour. The gradient is passed
  as it is (not normalised), as the authors do.
* :class:`SingleVariance`: the authors' ``SingleVarianceNetwork``: one scalar ``variance``; the
  logistic density's sharpness is ``inv_s = exp(10 · variance)`` (``s`` in the paper), 0.3 at the start
  (inv_s ≈ 20).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import Tensor, nn

from nerfplex.fields.encodings import FrequencyEncoding

RenderMode = Literal["idr", "no_view_dir", "no_normal"]

_MODE_INPUTS = {"idr": 9, "no_view_dir": 6, "no_normal": 6}
"""Raw (unencoded) inputs besides the feature vector for each mode: points, view dirs, normals."""


@dataclass
class RenderingNetworkConfig:
    """NeuS's colour network; defaults are the authors' ``model.rendering_network`` section."""

    d_feature: int = 256
    """Size of the SDF network's feature vector (``d_feature``; the SDF network's ``d_out - 1``)."""
    mode: RenderMode = "idr"
    """Inputs (``mode``): ``idr`` points, view directions, normals and features; ``no_view_dir``
    drops the view direction; ``no_normal`` drops the normal."""
    d_in: int = 9
    """Raw inputs besides the features (``d_in``): 9 for ``idr`` (3 + 3 + 3), 6 for the others."""
    d_out: int = 3
    """Output channels (``d_out``)."""
    d_hidden: int = 256
    """Width of the hidden layers (``d_hidden``)."""
    n_layers: int = 4
    """Number of hidden layers (``n_layers``)."""
    weight_norm: bool = True
    """Weight normalisation on every linear layer (``weight_norm``)."""
    multires_view: int = 4
    """Positional-encoding frequencies of the view direction; 0 feeds it raw (``multires_view``)."""
    squeeze_out: bool = True
    """Sigmoid on the output (``squeeze_out``)."""


class RenderingNetwork(nn.Module):
    """``forward(points, normals, view_dirs, features) -> colour [P, d_out]``."""

    def __init__(self, config: RenderingNetworkConfig) -> None:
        super().__init__()
        if config.d_in != _MODE_INPUTS[config.mode]:
            raise ValueError(
                f"rendering network mode {config.mode!r} takes d_in = "
                f"{_MODE_INPUTS[config.mode]} raw inputs, got {config.d_in}"
            )
        self.config = config
        self.view_encoding: Optional[FrequencyEncoding] = (
            FrequencyEncoding(3, config.multires_view) if config.multires_view > 0 else None
        )
        in_dim = config.d_in + config.d_feature
        if self.view_encoding is not None and config.mode != "no_view_dir":
            in_dim += self.view_encoding.out_dim - 3
        dims = [in_dim] + [config.d_hidden] * config.n_layers + [config.d_out]
        layers = []
        for index in range(len(dims) - 1):
            layer = nn.Linear(dims[index], dims[index + 1])
            if config.weight_norm:
                layer = nn.utils.parametrizations.weight_norm(layer)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)

    def forward(self, points: Tensor, normals: Tensor, view_dirs: Tensor, features: Tensor) -> Tensor:
        mode = self.config.mode
        if self.view_encoding is not None and mode != "no_view_dir":
            view_dirs = self.view_encoding(view_dirs)
        if mode == "idr":
            h = torch.cat([points, view_dirs, normals, features], dim=-1)
        elif mode == "no_view_dir":
            h = torch.cat([points, normals, features], dim=-1)
        else:
            h = torch.cat([points, view_dirs, features], dim=-1)
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index < len(self.layers) - 1:
                h = torch.relu(h)
        return torch.sigmoid(h) if self.config.squeeze_out else h


class SingleVariance(nn.Module):
    """The one trainable scalar ``variance`` (``variance_network.init_val``); ``inv_s = exp(10 v)``."""

    def __init__(self, init_val: float = 0.3) -> None:
        super().__init__()
        self.variance = nn.Parameter(torch.tensor(float(init_val)))

    def inv_s(self) -> Tensor:
        """The sharpness ``s`` of the logistic CDF ``Φ_s(x) = sigmoid(s x)`` (0-d), clipped to
        [1e-6, 1e6] as the authors' renderer does."""
        return torch.exp(self.variance * 10.0).clip(1e-6, 1e6)
