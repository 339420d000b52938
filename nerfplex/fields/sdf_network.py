"""NeuS's geometry network: an MLP from position to a signed distance and a feature vector.

The architecture follows the NeuS authors' ``SDFNetwork`` (itself IDR's): positional encoding of the
(scaled) input, ``n_layers`` hidden layers of Softplus(β = 100), one skip connection that re-injects
the encoded input (the concatenation is divided by √2), weight normalisation on every layer, and the
geometric initialisation of Atzmon & Lipman (SAL) that makes the initial network approximate the
signed distance to a sphere of radius ``bias``: ``f(x) ≈ |x| - bias``.

Geometric initialisation, layer by layer (``dims = [encoded input, d_hidden × n_layers, d_out]``):

* last layer: weights ~ N(√π / √fan_in, 1e-4), bias ``-bias`` (signs flipped with ``inside_outside``);
* first layer (with encoding): only the raw-coordinate columns are random, N(0, 2 / fan_out); the
  columns that read the sin / cos features start at 0, bias 0;
* skip layer (with encoding): N(0, 2 / fan_out) with the columns of the re-injected sin / cos
  features set to 0, bias 0;
* other layers: N(0, 2 / fan_out), bias 0.

The network is positively homogeneous at initialisation up to Softplus's smoothing, and the
mean-√π/√n output layer turns the hidden layer's expected magnitude into ``|x|`` (the SAL argument).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from nerfplex.config_checks import Check, at_least, non_negative, positive
from nerfplex.fields.encodings import FrequencyEncoding

SOFTPLUS_BETA = 100.0
"""β of the hidden activations, hard-coded by the authors (a smooth ReLU with a usable Hessian)."""


@dataclass
class SDFNetworkConfig:
    """NeuS's SDF network; defaults are the authors' ``model.sdf_network`` section (both confs)."""

    d_in: int = 3
    """Input coordinates per point (``d_in``)."""
    d_out: int = 257
    """Outputs: one signed distance plus ``d_out - 1`` features for the colour network (``d_out``)."""
    d_hidden: int = 256
    """Width of the hidden layers (``d_hidden``)."""
    n_layers: int = 8
    """Number of hidden layers (``n_layers``); there are ``n_layers + 1`` linear layers."""
    skip_in: tuple[int, ...] = (4,)
    """Linear layers (0-based) whose input is ``cat(hidden, encoded input) / √2`` (``skip_in``)."""
    multires: int = 6
    """Positional-encoding frequencies of the input; 0 feeds raw coordinates (``multires``)."""
    bias: float = 0.5
    """Radius of the sphere the geometric initialisation approximates (``bias``)."""
    scale: float = 1.0
    """Inputs are multiplied by this and the SDF divided by it (``scale``)."""
    geometric_init: bool = True
    """SAL / IDR geometric initialisation (``geometric_init``); False keeps PyTorch's default."""
    weight_norm: bool = True
    """Weight normalisation ``w = g · v / |v|`` on every linear layer (``weight_norm``)."""
    inside_outside: bool = False
    """Flip the initial sign: negative outside the sphere, for scenes seen from inside
    (``inside_outside``; the authors' thin-structure / large-ROI settings)."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(self, "d_hidden", "n_layers", "scale"),
            at_least(self, "d_out", 1),
            *non_negative(self, "multires"),
            (
                "skip_in",
                all(0 < s <= self.n_layers for s in self.skip_in),
                f"linear-layer indices in [1, n_layers = {self.n_layers}]",
            ),
        ]


class SDFModule(nn.Module):
    """A network whose ``forward(x [P, d_in]) -> [P, d_out]`` has the signed distance in column 0; adds
    the SDF alone and its spatial gradient by autograd (shared by the SDF networks)."""

    def sdf(self, x: Tensor) -> Tensor:
        """Signed distance ``[P, 1]``."""
        return self.forward(x)[:, :1]

    def forward_with_gradient(self, x: Tensor, create_graph: Optional[bool] = None) -> tuple[Tensor, Tensor]:
        """``forward(x)`` and the SDF's spatial gradient ``∇f(x) [P, 3]`` from one forward pass.

        ``create_graph`` (default: whether gradients are enabled by the caller) keeps the gradient
        differentiable, as the eikonal loss and the normal-conditioned colour need while training.
        Without it, both outputs are returned detached (rendering under ``torch.no_grad``).
        """
        if create_graph is None:
            create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            inputs = x if x.requires_grad else x.detach().requires_grad_(True)
            out = self.forward(inputs)
            sdf = out[:, :1]
            (grad,) = torch.autograd.grad(
                sdf, inputs, torch.ones_like(sdf), create_graph=create_graph, retain_graph=create_graph
            )
        if not create_graph:
            out, grad = out.detach(), grad.detach()
        return out, grad

    def gradient(self, x: Tensor, create_graph: Optional[bool] = None) -> Tensor:
        """``∇f(x) [P, 3]`` by autograd (the authors return ``[P, 1, 3]``)."""
        return self.forward_with_gradient(x, create_graph)[1]


class SDFNetwork(SDFModule):
    """``forward(x [P, d_in]) -> [P, d_out]``: column 0 is the signed distance, the rest features."""

    def __init__(self, config: SDFNetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.encoding: Optional[FrequencyEncoding] = (
            FrequencyEncoding(config.d_in, config.multires) if config.multires > 0 else None
        )
        enc_dim = self.encoding.out_dim if self.encoding is not None else config.d_in
        dims = [enc_dim] + [config.d_hidden] * config.n_layers + [config.d_out]
        if any(0 < skip <= config.n_layers for skip in config.skip_in) and config.d_hidden <= enc_dim:
            raise ValueError(
                f"SDF network: d_hidden = {config.d_hidden} must exceed the encoded input "
                f"size {enc_dim} for a skip connection (the layer before it has "
                f"d_hidden - {enc_dim} units)"
            )
        self.skip_in = tuple(config.skip_in)
        self.num_linear = len(dims) - 1
        layers = []
        for index in range(self.num_linear):
            # The layer before a skip produces fewer units, so that after the concatenation of the
            # encoded input the skip layer again reads dims[index + 1] values.
            out_dim = dims[index + 1] - enc_dim if index + 1 in self.skip_in else dims[index + 1]
            layer = nn.Linear(dims[index], out_dim)
            if config.geometric_init:
                self._geometric_init(layer, index, dims, out_dim)
            if config.weight_norm:
                layer = nn.utils.parametrizations.weight_norm(layer)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.activation = nn.Softplus(beta=SOFTPLUS_BETA)

    def _geometric_init(self, layer: nn.Linear, index: int, dims: list[int], out_dim: int) -> None:
        cfg = self.config
        raw = cfg.d_in  # the raw coordinates come first in the encoding
        with torch.no_grad():
            if index == self.num_linear - 1:
                mean = math.sqrt(math.pi) / math.sqrt(dims[index])
                sign = -1.0 if cfg.inside_outside else 1.0
                nn.init.normal_(layer.weight, mean=sign * mean, std=1e-4)
                nn.init.constant_(layer.bias, sign * -cfg.bias)
                return
            nn.init.constant_(layer.bias, 0.0)
            std = math.sqrt(2.0) / math.sqrt(out_dim)
            if cfg.multires > 0 and index == 0:
                nn.init.constant_(layer.weight[:, raw:], 0.0)
                nn.init.normal_(layer.weight[:, :raw], 0.0, std)
            elif cfg.multires > 0 and index in self.skip_in:
                nn.init.normal_(layer.weight, 0.0, std)
                # The concatenated encoding sits at the end; zero all of it but the raw coordinates.
                nn.init.constant_(layer.weight[:, -(dims[0] - raw) :], 0.0)
            else:
                nn.init.normal_(layer.weight, 0.0, std)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.config.scale
        inputs = x * scale
        if self.encoding is not None:
            inputs = self.encoding(inputs)
        h = inputs
        for index, layer in enumerate(self.layers):
            if index in self.skip_in:
                h = torch.cat([h, inputs], dim=-1) / math.sqrt(2.0)
            h = layer(h)
            if index < self.num_linear - 1:
                h = self.activation(h)
        return torch.cat([h[:, :1] / scale, h[:, 1:]], dim=-1)
