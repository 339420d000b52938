"""A torch stand-in for tiny-cuda-nn's ``FullyFusedMLP`` / ``CutlassMLP`` with the same parameters.

Facts of tiny-cuda-nn's networks this module follows (from its sources and its maintainer's answer
in tiny-cuda-nn issue 96; the layout is checked against tinycudann only where it imports, see
``tests/fields/test_tcnn_backend.py``):

- no bias terms; ``n_hidden_layers`` hidden layers of ``n_neurons``, ReLU (or another activation)
  between layers, ``output_activation`` on the output;
- the input width is padded to a multiple of 16 (``FullyFusedMLP``; 8 for ``CutlassMLP``) with
  constant 1.0 columns, which act as a bias of the first layer; the output width is padded likewise
  and the padded outputs are dropped;
- all weights live in one flat ``params`` vector: each layer's ``[out, in]`` matrix row-major, one
  layer after the other; matrices start Xavier-uniform.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfplex.errors import NerfplexError

ACTIVATIONS = {
    "none": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "exponential": torch.exp,
    "softplus": F.softplus,
    "tanh": torch.tanh,
}


def padded_width(width: int, otype: str) -> int:
    """``width`` rounded up to tiny-cuda-nn's alignment (16 for FullyFusedMLP, 8 otherwise)."""
    align = 16 if otype.lower() == "fullyfusedmlp" else 8
    return -(-width // align) * align


class FusedMLP(nn.Module):
    """``forward(x [P, n_input_dims]) -> [P, n_output_dims]`` with tiny-cuda-nn's semantics.

    ``config``: ``otype`` (FullyFusedMLP | CutlassMLP), ``activation``, ``output_activation``
    (None, ReLU, Sigmoid, Exponential, Softplus, Tanh), ``n_neurons``, ``n_hidden_layers`` (>= 1).
    """

    def __init__(self, n_input_dims: int, n_output_dims: int, config: Mapping[str, Any]) -> None:
        super().__init__()
        otype = str(config.get("otype", "FullyFusedMLP"))
        if otype.lower() not in ("fullyfusedmlp", "cutlassmlp"):
            raise NerfplexError(f"network otype {otype!r} is not supported (FullyFusedMLP, CutlassMLP).")
        names = (str(config.get("activation", "ReLU")), str(config.get("output_activation", "None")))
        for name in names:
            if name.lower() not in ACTIVATIONS:
                raise NerfplexError(f"network activation {name!r} is not supported ({', '.join(sorted(ACTIVATIONS))}).")
        hidden = int(config.get("n_hidden_layers", 1))
        neurons = int(config.get("n_neurons", 64))
        if hidden < 1 or neurons < 1:
            raise NerfplexError("network n_hidden_layers and n_neurons must be positive.")
        self.n_input_dims, self.n_output_dims = n_input_dims, n_output_dims
        self.activation = ACTIVATIONS[names[0].lower()]
        self.output_activation = ACTIVATIONS[names[1].lower()]
        widths = [padded_width(n_input_dims, otype)] + [neurons] * hidden + [padded_width(n_output_dims, otype)]
        self.shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]  # [out, in]
        chunks = []
        for out_dim, in_dim in self.shapes:
            bound = math.sqrt(6.0 / (in_dim + out_dim))
            chunks.append((torch.rand(out_dim * in_dim) * 2.0 - 1.0) * bound)
        self.params = nn.Parameter(torch.cat(chunks))

    def weights(self) -> list[Tensor]:
        """The layer matrices ``[out, in]`` (views of ``params``)."""
        mats, start = [], 0
        for out_dim, in_dim in self.shapes:
            mats.append(self.params[start : start + out_dim * in_dim].view(out_dim, in_dim))
            start += out_dim * in_dim
        return mats

    def forward(self, x: Tensor) -> Tensor:
        pad = self.shapes[0][1] - x.shape[-1]
        h = torch.cat([x, x.new_ones(x.shape[:-1] + (pad,))], dim=-1) if pad else x
        mats = self.weights()
        for i, weight in enumerate(mats):
            h = F.linear(h, weight.to(h.dtype))
            h = self.activation(h) if i + 1 < len(mats) else self.output_activation(h)
        return h[..., : self.n_output_dims]
