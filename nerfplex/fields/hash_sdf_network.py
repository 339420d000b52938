"""An instant-NSR-style SDF network: hash-grid features plus the raw position -> a small MLP.

The hash-grid variant of NeuS's geometry network (instant-nsr-pl's ``volume-sdf`` geometry with its
NeuS defaults, ``configs/neus-blender.yaml``, read for these facts): a unit-frame point ``x ∈ [-1, 1]³``
is encoded by a multiresolution hash grid at ``(x + 1) / 2 ∈ [0, 1]³`` (16 levels x 2 features,
2^19 entries per level, 16 vertices a side at the coarsest level, per-level scale ≈ 1.4473), the raw
``x`` is concatenated in front of the grid features (``include_xyz``), and a small MLP (one hidden
layer of 64, Softplus(β = 100), weight normalisation) maps the ``3 + L · F`` values to one signed
distance and ``d_out - 1`` features. The output is the same as :class:`~nerfplex.fields.sdf_network.
SDFNetwork`'s, so NeuS's renderer, losses and mesh export use it unchanged.

**Geometric initialisation** (SAL, adapted as instant-nsr-pl's ``sphere_init``): the columns of the
first layer that read the grid features start at 0 and those that read ``x`` are N(0, 2 / fan_out);
hidden layers N(0, 2 / fan_out), bias 0; the output layer N(√π / √fan_in, 1e-4) with bias ``-bias``.
The initial SDF is therefore the MLP-of-``x`` sphere ``f(x) ≈ |x| - bias`` whatever the grid holds.

**Gradients** ``∇f`` come from autograd through the torch hash encoding (its trilinear weights are
differentiable in ``x``; the table gets second-order gradients for the eikonal loss). The torch
implementation is always used: the NeuS model has no device-dependent backend choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from nerfplex.config_checks import Check, positive
from nerfplex.fields.hash_encoding import HashEncoding, HashGridConfig
from nerfplex.fields.sdf_network import SOFTPLUS_BETA, SDFModule, SDFNetworkConfig


def _nsr_grid() -> HashGridConfig:
    """instant-nsr-pl's NeuS hash grid: 16 x 2, 2^19, base 16, finest 16 · 1.4473^15 ≈ 4096."""
    return HashGridConfig(
        n_levels=16, n_features_per_level=2, log2_hashmap_size=19, base_resolution=16, per_level_scale=1.447269237440378
    )


@dataclass
class HashSDFConfig:
    """The hash-grid SDF network (``model.neus.hash_grid``); defaults are instant-nsr-pl's NeuS.

    The output size, the sphere radius, the input scale, the sign convention, weight normalisation and
    whether to initialise geometrically are shared with ``model.neus.sdf_network`` (``d_out``,
    ``bias``, ``scale``, ``inside_outside``, ``weight_norm``, ``geometric_init``); its frequency-MLP
    fields (``d_hidden``, ``n_layers``, ``skip_in``, ``multires``) do not apply here."""

    grid: HashGridConfig = field(default_factory=_nsr_grid)
    """The position encoding, in tiny-cuda-nn's keys (``xyz_encoding_config``)."""
    d_hidden: int = 64
    """Width of the hidden layers (``mlp_network_config.n_neurons``)."""
    n_layers: int = 1
    """Number of hidden layers (``mlp_network_config.n_hidden_layers``)."""
    learning_rate: float = 1e-2
    """Peak learning rate of the hash table (instant-nsr-pl's ``lr`` 0.01); it follows NeuS's warm-up
    and cosine schedule like the other parameters, which keep ``model.neus.learning_rate``."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [*positive(self, "d_hidden", "n_layers", "learning_rate")]


class HashSDFNetwork(SDFModule):
    """``forward(x [P, 3]) -> [P, d_out]`` in the unit frame: column 0 the signed distance, the rest
    features; the same interface as :class:`~nerfplex.fields.sdf_network.SDFNetwork`."""

    def __init__(self, sdf_config: SDFNetworkConfig, config: HashSDFConfig) -> None:
        super().__init__()
        self.config = config
        self.sdf_config = sdf_config
        self.encoding = HashEncoding(config.grid)
        raw = sdf_config.d_in
        dims = [raw + self.encoding.n_output_dims] + [config.d_hidden] * config.n_layers + [sdf_config.d_out]
        layers = []
        for index in range(len(dims) - 1):
            layer = nn.Linear(dims[index], dims[index + 1])
            if sdf_config.geometric_init:
                self._geometric_init(layer, index == 0, index == len(dims) - 2)
            if sdf_config.weight_norm:
                layer = nn.utils.parametrizations.weight_norm(layer)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.activation = nn.Softplus(beta=SOFTPLUS_BETA)

    def _geometric_init(self, layer: nn.Linear, first: bool, last: bool) -> None:
        cfg = self.sdf_config
        fan_in, fan_out = layer.in_features, layer.out_features
        with torch.no_grad():
            if last:
                sign = -1.0 if cfg.inside_outside else 1.0
                nn.init.normal_(layer.weight, mean=sign * math.sqrt(math.pi) / math.sqrt(fan_in), std=1e-4)
                nn.init.constant_(layer.bias, -sign * cfg.bias)
                return
            nn.init.constant_(layer.bias, 0.0)
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0) / math.sqrt(fan_out))
            if first:  # the grid features come after the raw coordinates: start blind to them
                nn.init.constant_(layer.weight[:, cfg.d_in :], 0.0)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.sdf_config.scale
        inputs = x * scale
        grid = self.encoding((inputs + 1.0) * 0.5).to(inputs.dtype)  # [P, L · F]
        h = torch.cat([inputs, grid], dim=-1)
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index < len(self.layers) - 1:
                h = self.activation(h)
        return torch.cat([h[:, :1] / scale, h[:, 1:]], dim=-1)
