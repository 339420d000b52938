"""The NeRF++ background model NeuS uses for scenes that extend beyond the unit sphere (``womask``).

Points outside the unit sphere are reparameterised by the inverted sphere of NeRF++ (Zhang et al.
2020): ``p ↦ (p / r, 1 / r)`` with ``r = max(|p|, 1)``, a bounded 4-d input however far the point is.
A NeRF MLP (the authors' ``NeRF`` class, nerf-pytorch's layout) maps it to a raw density and a raw
colour; :meth:`BackgroundNeRF.sample_alpha_color` turns them into per-sample opacity
``α = 1 - exp(-softplus(σ) δ)`` and colour ``sigmoid(c)`` (the authors' ``render_core_outside``).

:func:`outside_distances` places the background samples as the authors do: ``n_outside`` values
stratified in ``[1e-3, 1 - 1/(n_outside + 1)]`` (uniform in inverse distance), mapped to
``far / u + 1 / n_samples`` so that they lie beyond the foreground samples and reach ``~1000 · far``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfplex.fields.encodings import FrequencyEncoding
from nerfplex.render.samplers import stratified_edges


@dataclass
class BackgroundNeRFConfig:
    """The background MLP; defaults are the authors' ``model.nerf`` section (``womask.conf``)."""

    D: int = 8
    """Number of trunk layers (``D``)."""
    W: int = 256
    """Trunk width (``W``); the view branch has ``W / 2``."""
    d_in: int = 4
    """Position inputs: 4 for NeRF++'s ``(x / r, 1 / r)`` (``d_in``)."""
    d_in_view: int = 3
    """View-direction inputs (``d_in_view``)."""
    multires: int = 10
    """Positional-encoding frequencies of the position (``multires``)."""
    multires_view: int = 4
    """Positional-encoding frequencies of the view direction (``multires_view``)."""
    skips: tuple[int, ...] = (4,)
    """Trunk layers after which the encoded position is concatenated (in front) (``skips``)."""
    use_viewdirs: bool = True
    """View-dependent colour branch (``use_viewdirs``; the authors only implement True)."""


class BackgroundNeRF(nn.Module):
    """``forward(points [P, d_in], dirs [P, 3]) -> (raw density [P, 1], raw colour [P, 3])``."""

    def __init__(self, config: BackgroundNeRFConfig) -> None:
        super().__init__()
        if not config.use_viewdirs:
            raise ValueError("the NeuS background model needs use_viewdirs = True (as the authors')")
        self.config = config
        self.encoding = FrequencyEncoding(config.d_in, config.multires) if config.multires > 0 else None
        self.view_encoding = (
            FrequencyEncoding(config.d_in_view, config.multires_view) if config.multires_view > 0 else None
        )
        # As the authors' NeRF class: without encoding, sizes are 3 (its d_in is only used by the
        # encoder), so multires = 0 is only consistent with d_in = 3.
        in_dim = self.encoding.out_dim if self.encoding is not None else 3
        view_dim = self.view_encoding.out_dim if self.view_encoding is not None else 3
        width = config.W
        trunk = [nn.Linear(in_dim, width)]
        for index in range(config.D - 1):
            trunk.append(nn.Linear(width + (in_dim if index in config.skips else 0), width))
        self.trunk = nn.ModuleList(trunk)
        # Created in the authors' order, so that a seed gives the same initial weights.
        self.view_linear = nn.Linear(view_dim + width, width // 2)
        self.feature_linear = nn.Linear(width, width)
        self.alpha_linear = nn.Linear(width, 1)
        self.rgb_linear = nn.Linear(width // 2, 3)

    def forward(self, points: Tensor, dirs: Tensor) -> tuple[Tensor, Tensor]:
        x = self.encoding(points) if self.encoding is not None else points
        v = self.view_encoding(dirs) if self.view_encoding is not None else dirs
        h = x
        for index, layer in enumerate(self.trunk):
            h = F.relu(layer(h))
            if index in self.config.skips:
                h = torch.cat([x, h], dim=-1)
        density = self.alpha_linear(h)
        h = F.relu(self.view_linear(torch.cat([self.feature_linear(h), v], dim=-1)))
        return density, self.rgb_linear(h)

    def sample_alpha_color(
        self, origins: Tensor, directions: Tensor, z_vals: Tensor, sample_dist: float
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Opacity ``[R, S]``, colour ``[R, S, 3]`` and midpoint distance ``[R, S]`` of the sections
        ``[z_i, z_{i+1}]`` of ``z_vals [R, S]``.

        As the authors' ``render_core_outside``: each section is evaluated at its midpoint, the
        last one has length ``sample_dist``; points are in the unit-sphere frame.
        """
        num_rays, num_samples = z_vals.shape
        dists = torch.cat([z_vals[:, 1:] - z_vals[:, :-1], z_vals.new_full((num_rays, 1), sample_dist)], dim=-1)
        mid = z_vals + 0.5 * dists
        points = origins[:, None] + directions[:, None] * mid[..., None]
        radius = points.norm(dim=-1, keepdim=True).clip(1.0, 1e10)
        inputs = torch.cat([points / radius, 1.0 / radius], dim=-1).reshape(-1, 4)
        dirs = directions[:, None].expand(num_rays, num_samples, 3).reshape(-1, 3)
        density, color = self(inputs, dirs)
        alpha = 1.0 - torch.exp(-F.softplus(density.reshape(num_rays, num_samples)) * dists)
        return alpha, torch.sigmoid(color).reshape(num_rays, num_samples, 3), mid


def outside_distances(
    far: Tensor, n_outside: int, n_samples: int, *, perturb: bool, generator: Optional[torch.Generator] = None
) -> Tensor:
    """Background sample distances ``[R, n_outside]`` beyond ``far [R, 1]`` (unit-sphere frame).

    ``n_outside`` inverse distances ``u`` from 1e-3 to ``1 - 1/(n_outside + 1)``, jittered within
    their strata while training (each may move half-way to its neighbours; the extremes stay inside
    the range), become ``far / u + 1 / n_samples`` in increasing order: the authors' sampling.
    """
    num_rays = far.shape[0]
    lo = far.new_full((num_rays, 1), 1e-3)
    hi = far.new_full((num_rays, 1), 1.0 - 1.0 / (n_outside + 1.0))
    # n_outside points = the n_outside - 1 bins' edges; their jitter is exactly the authors'.
    inverse = stratified_edges(lo, hi, n_outside - 1, perturb=perturb, generator=generator)
    return far / torch.flip(inverse, dims=[-1]) + 1.0 / n_samples
