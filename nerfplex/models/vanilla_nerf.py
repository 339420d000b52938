"""Vanilla NeRF (Mildenhall et al., ECCV 2020): coarse + fine MLPs with hierarchical sampling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor, nn

from nerfplex.cameras import RayBundle
from nerfplex.config_checks import Check, non_negative, positive
from nerfplex.fields.chunking import CPU_CHUNK_POINTS, apply_in_chunks, chunk_size_for
from nerfplex.fields.nerf_mlp import NeRFMLP, NeRFMLPConfig
from nerfplex.models.base import Model
from nerfplex.models.surface import SurfaceField, mean_over_axis_views
from nerfplex.render.compositing import composite, density_weights
from nerfplex.render.samplers import merge_edges, midpoints, pdf_edges, stratified_edges

if TYPE_CHECKING:
    from nerfplex.data.ray_sampler import RayBatch
    from nerfplex.data.scene import SceneData


@dataclass
class VanillaNeRFConfig:
    """Vanilla NeRF; defaults are the paper's (64 coarse + 128 fine samples, 8x256 MLPs)."""

    mlp: NeRFMLPConfig = field(default_factory=NeRFMLPConfig)
    """Size of the coarse and the fine MLP."""
    num_coarse_samples: int = 64
    """Stratified samples per ray for the coarse network."""
    num_fine_samples: int = 128
    """Extra importance samples per ray for the fine network (0 disables the fine pass)."""
    separate_fine_network: bool = True
    """Use a second MLP for the fine pass (the paper); False re-uses the coarse MLP."""
    perturb: bool = True
    """Jitter sample positions within their strata while training."""
    surface_density: float = 50.0
    """Density σ (1 / world unit) at which ``nerfplex export-mesh`` cuts the surface. NeRF's σ has no
    fixed scale; 50 is a common choice for Blender-scale objects (override with ``--level``)."""
    cpu_chunk_points: int = CPU_CHUNK_POINTS
    """On the CPU, run the MLPs over this many points at a time (0: all at once). Same result; about
    2x faster for paper-size networks because small activations avoid page faults."""

    def build(self, scene: SceneData, device: Optional[torch.device | str] = None) -> VanillaNeRF:
        """The model for ``scene`` (unbounded MLPs: the scene only bounds the rays)."""
        return VanillaNeRF(self)

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(self, "num_coarse_samples"),
            *non_negative(self, "num_fine_samples", "cpu_chunk_points", "surface_density"),
        ]


class VanillaNeRF(Model):
    """Coarse pass on stratified samples, fine pass on the union with samples drawn from its weights.

    The fine network sees the coarse samples plus the importance samples (the paper, sec. 5.2), and
    both passes are supervised with MSE. Outputs ``rgb``, ``depth``, ``opacity`` come from the fine pass
    (the coarse ones carry a ``_coarse`` suffix).
    """

    def __init__(self, config: VanillaNeRFConfig) -> None:
        super().__init__()
        self.config = config
        self.coarse = NeRFMLP(config.mlp)
        use_fine = config.num_fine_samples > 0 and config.separate_fine_network
        self.fine = NeRFMLP(config.mlp) if use_fine else None

    def _render(
        self, mlp: nn.Module, rays: RayBundle, edges: Tensor, background: Tensor
    ) -> tuple[dict[str, Tensor], Tensor]:
        distances = midpoints(edges)  # [R, S]
        positions = rays.origins[:, None] + rays.directions[:, None] * distances[..., None]
        directions = rays.directions[:, None].expand_as(positions)
        chunk = chunk_size_for(positions, self.config.cpu_chunk_points)
        density, rgb = apply_in_chunks(mlp, positions.reshape(-1, 3), directions.reshape(-1, 3), chunk_size=chunk)
        num_rays, num_samples = distances.shape
        weights = density_weights(density.view(num_rays, num_samples), edges[:, 1:] - edges[:, :-1])
        return composite(weights, rgb.view(num_rays, num_samples, 3), distances, background), weights

    def get_outputs(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        perturb = self.training and self.config.perturb
        edges = stratified_edges(
            rays.near, rays.far, self.config.num_coarse_samples, perturb=perturb, generator=generator
        )
        coarse, weights = self._render(self.coarse, rays, edges, background)
        if self.config.num_fine_samples == 0:
            return coarse
        fine_points = pdf_edges(edges, weights, self.config.num_fine_samples, perturb=perturb, generator=generator)
        fine_edges = merge_edges(edges, fine_points)
        fine, _ = self._render(self.fine or self.coarse, rays, fine_edges, background)
        fine.update({f"{key}_coarse": value for key, value in coarse.items()})
        return fine

    def surface(self, aabb: Tensor) -> SurfaceField:
        """σ of the fine network (the coarse one when there is none) at ``surface_density``."""
        mlp = self.fine or self.coarse
        up = torch.tensor([0.0, 0.0, 1.0])

        def density(points: Tensor) -> Tensor:
            return mlp(points, up.to(points).expand_as(points))[0].reshape(-1)

        def radiance(points: Tensor, directions: Tensor) -> Tensor:
            return mlp(points, directions)[1]

        return SurfaceField(
            density,
            "density",
            self.config.surface_density,
            aabb,
            mean_over_axis_views(radiance),
            f"density sigma of the {'fine' if self.fine else 'coarse'} MLP, level {self.config.surface_density:g}",
        )

    def get_loss_dict(
        self, outputs: dict[str, Tensor], target_rgb: Tensor, batch: Optional[RayBatch] = None
    ) -> dict[str, Tensor]:
        losses = {"rgb_mse": torch.mean((outputs["rgb"] - target_rgb) ** 2)}
        if "rgb_coarse" in outputs:
            losses["rgb_mse_coarse"] = torch.mean((outputs["rgb_coarse"] - target_rgb) ** 2)
        return losses
