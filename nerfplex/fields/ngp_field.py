"""The instant-ngp radiance field: hash grid -> small density MLP; SH directions + geometry feature ->
colour MLP.

The architecture of instant-ngp's NeRF as nerfacc's ``examples/radiance_fields/ngp.py`` builds it
(read for these facts): positions are mapped from the scene box to ``[0, 1]³``; the hash-grid
features go through a ``FullyFusedMLP`` (one hidden layer of 64, ReLU) to ``1 + 15`` outputs, the
first being the density through ``trunc_exp(x - 1)`` and zero outside the box, the other 15 the
geometry feature; the view direction, mapped to ``[0, 1]³`` as ``(d + 1) / 2``, is encoded by
degree-4 spherical harmonics (16 values) and, with the geometry feature, goes through a second
``FullyFusedMLP`` (two hidden layers of 64, ReLU, sigmoid output) to the colour.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from nerfplex.fields.hash_encoding import HashGridConfig
from nerfplex.fields.tcnn_backend import build_encoding, build_network


class TruncExp(torch.autograd.Function):
    """``exp(x)`` whose backward uses ``exp(min(x, 15))``: densities can grow, gradients stay finite
    (torch-ngp / nerfacc's density activation)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: Tensor) -> Tensor:
    return TruncExp.apply(x)


class NGPField(nn.Module):
    """``density(points [P, 3]) -> (sigma [P], geometry [P, G])`` and
    ``color(directions [P, 3], geometry [P, G]) -> rgb [P, 3]`` for world points inside ``aabb [2, 3]``.

    ``backend`` (``torch`` / ``tcnn``, see :func:`~nerfplex.fields.tcnn_backend.resolve_backend`)
    picks the implementation; the parameters and the state dict are the same for both.
    """

    def __init__(
        self,
        aabb: Tensor,
        grid: HashGridConfig,
        backend: Literal["torch", "tcnn"],
        geo_feat_dim: int = 15,
        density_neurons: int = 64,
        density_hidden_layers: int = 1,
        color_neurons: int = 64,
        color_hidden_layers: int = 2,
        sh_degree: int = 4,
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.backend = backend
        self.geo_feat_dim = geo_feat_dim
        self.encoding = build_encoding(3, grid.to_tcnn(), backend)
        self.density_net = build_network(
            self.encoding.n_output_dims,
            1 + geo_feat_dim,
            {
                "otype": "FullyFusedMLP",
                "activation": "ReLU",
                "output_activation": "None",
                "n_neurons": density_neurons,
                "n_hidden_layers": density_hidden_layers,
            },
            backend,
        )
        self.direction_encoding = build_encoding(3, {"otype": "SphericalHarmonics", "degree": sh_degree}, backend)
        self.color_net = build_network(
            self.direction_encoding.n_output_dims + geo_feat_dim,
            3,
            {
                "otype": "FullyFusedMLP",
                "activation": "ReLU",
                "output_activation": "Sigmoid",
                "n_neurons": color_neurons,
                "n_hidden_layers": color_hidden_layers,
            },
            backend,
        )

    def normalize(self, points: Tensor) -> Tensor:
        """World points ``[P, 3]`` -> ``[0, 1]³`` coordinates of the box."""
        return (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0])

    def density(self, points: Tensor) -> tuple[Tensor, Tensor]:
        unit = self.normalize(points)
        inside = ((unit > 0) & (unit < 1)).all(dim=-1)
        out = self.density_net(self.encoding(unit)).float()
        sigma = trunc_exp(out[:, 0] - 1.0) * inside
        return sigma, out[:, 1:]

    def color(self, directions: Tensor, geometry: Tensor) -> Tensor:
        encoded = self.direction_encoding((directions + 1.0) / 2.0)
        return self.color_net(torch.cat([encoded, geometry.to(encoded.dtype)], dim=-1)).float()

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        """``(sigma [P], rgb [P, 3])``."""
        sigma, geometry = self.density(points)
        return sigma, self.color(directions, geometry)
