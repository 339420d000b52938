"""Instant-NGP-style NeRF (Müller et al., SIGGRAPH 2022): a hash-grid field, occupancy-grid marching.

The field is :class:`~nerfplex.fields.ngp_field.NGPField` (hash grid -> 1x64 density MLP -> 16
outputs, density ``trunc_exp(x - 1)``; degree-4 SH + 15 geometry features -> 2x64 colour MLP) over
the scene box. Rays march at a fixed ``render_step_size`` through an
:class:`~nerfplex.render.occupancy_grid.OccupancyGrid` refreshed every 16 steps, skipping empty
cells and (``early_stop_eps``) samples behind opaque ones. Defaults follow nerfacc's instant-ngp
example for NeRF-synthetic (``examples/train_ngp_nerf_occ.py``, read for its settings): 16 levels x
2 features, 2^19 entries, 16 -> 4096 vertices a side, step 5e-3, a 128³ grid, Adam at 1e-2 with
ε = 1e-15 (set ``optim.eps``), a 100-step linear warm-up from 1% and x0.33 decays at 1/2, 3/4 and
9/10 of the schedule. Differences: the loss is MSE (theirs smooth-L1) and there is no weight decay.

On a CUDA device with ``nerfacc`` importable the samples and the compositing come from nerfacc
(``OccGridEstimator.sampling`` + packed ``rendering``, :mod:`nerfplex.render.nerfacc_render`);
elsewhere from :mod:`nerfplex.render.occupancy_march` and :mod:`nerfplex.render.compositing`. With
``tinycudann`` and CUDA the field runs on tiny-cuda-nn (:mod:`nerfplex.fields.tcnn_backend`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Optional

import torch
from torch import Tensor, nn

from nerfplex.cameras import RayBundle
from nerfplex.config_checks import Check, non_negative, positive, within
from nerfplex.errors import NerfplexError
from nerfplex.fields.hash_encoding import HashGridConfig, per_level_scale_for
from nerfplex.fields.ngp_field import NGPField
from nerfplex.fields.tcnn_backend import Backend, resolve_backend
from nerfplex.models.base import Model
from nerfplex.models.surface import SurfaceField, mean_over_axis_views
from nerfplex.render.compositing import composite, density_weights
from nerfplex.render.nerfacc_render import nerfacc_usable, render_nerfacc
from nerfplex.render.occupancy_grid import OccupancyGrid
from nerfplex.render.occupancy_march import march_occupied

if TYPE_CHECKING:
    from nerfplex.data.ray_sampler import RayBatch
    from nerfplex.data.scene import SceneData


def _ngp_grid() -> HashGridConfig:
    return HashGridConfig(n_levels=16, n_features_per_level=2, log2_hashmap_size=19, base_resolution=16,
                          per_level_scale=per_level_scale_for(16, 4096, 16))


@dataclass
class NGPConfig:
    """Instant-NGP NeRF; defaults are nerfacc's instant-ngp example for NeRF-synthetic (20k steps)."""

    grid: HashGridConfig = field(default_factory=_ngp_grid)
    """The hash grid over the scene box (tiny-cuda-nn keys; default 16 -> 4096 vertices a side)."""
    geo_feat_dim: int = 15
    """Geometry features passed from the density MLP to the colour MLP."""
    density_neurons: int = 64
    """Width of the density MLP."""
    density_hidden_layers: int = 1
    """Hidden layers of the density MLP."""
    color_neurons: int = 64
    """Width of the colour MLP."""
    color_hidden_layers: int = 2
    """Hidden layers of the colour MLP."""
    sh_degree: int = 4
    """Spherical-harmonics degree of the view-direction encoding (degree² values; 1 to 4)."""
    backend: Backend = "auto"
    """Field implementation: ``auto`` (tiny-cuda-nn when it imports and the model is on CUDA),
    ``torch`` or ``tcnn``. Both hold the same parameters, so checkpoints move between them."""
    sampler: Literal["auto", "torch", "nerfacc"] = "auto"
    """Sampling and compositing: ``auto`` (nerfacc when it imports and the rays are on CUDA),
    ``torch`` or ``nerfacc``."""
    render_step_size: float = 5e-3
    """Marching step in world units."""
    perturb: bool = True
    """While training, start each ray's samples at a random fraction of a step."""
    occupancy_resolution: int = 128
    """Cells a side of the occupancy grid."""
    occupancy_update_every: int = 16
    """Refresh the occupancy grid before every this many steps."""
    occupancy_warmup_steps: int = 256
    """Before this step every cell is re-evaluated; afterwards a quarter drawn at random plus up to
    as many occupied ones."""
    occupancy_ema_decay: float = 0.95
    """Decay of a cell's value at each evaluation (it keeps the maximum of that and the new value)."""
    occupancy_threshold: float = 0.01
    """A cell is occupied above min(this, mean cell value); values are density times the step."""
    early_stop_eps: float = 1e-4
    """Drop samples whose transmittance is below this (0: keep all)."""
    alpha_threshold: float = 0.0
    """Drop samples whose alpha is below min(this, mean cell value) (0: keep all)."""
    learning_rate: float = 1e-2
    """Adam learning rate of every parameter."""
    lr_warmup_steps: int = 100
    """Linear warm-up from 1% of the rate over this many steps."""
    schedule_steps: int = 20000
    """The rate is multiplied by ``lr_gamma`` at 1/2, 3/4 and 9/10 of this many steps."""
    lr_gamma: float = 0.33
    """Factor of each decay step."""
    surface_density: float = 50.0
    """Density σ (1 / world unit) at which ``nerfplex export-mesh`` cuts the surface."""

    def build(self, scene: SceneData, device: Optional[torch.device | str] = None) -> "NGP":
        """The model over ``scene.aabb``; ``device`` picks tiny-cuda-nn (CUDA) or the torch modules."""
        return NGP(self, scene.aabb, device)

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [*positive(self, "render_step_size", "occupancy_resolution", "occupancy_update_every",
                          "learning_rate", "schedule_steps", "geo_feat_dim", "density_neurons",
                          "density_hidden_layers", "color_neurons", "color_hidden_layers"),
                *non_negative(self, "occupancy_warmup_steps", "occupancy_threshold", "early_stop_eps",
                              "alpha_threshold", "lr_warmup_steps", "lr_gamma", "surface_density"),
                within(self, "occupancy_ema_decay", 0.0, 1.0),
                ("sh_degree", 1 <= self.sh_degree <= 4, "1, 2, 3 or 4"),
                ("occupancy_resolution", self.occupancy_resolution <= 1024,
                 "at most 1024 (a 1024^3 grid already takes 4 GiB)")]


class NGP(Model):
    """Occupancy-grid marching through an :class:`NGPField`; MSE on the colour."""

    def __init__(self, config: NGPConfig, aabb: Tensor, device: Optional[torch.device | str] = None) -> None:
        super().__init__()
        self.config = config
        backend = resolve_backend(config.backend, device)
        self.field = NGPField(aabb, config.grid, backend, config.geo_feat_dim, config.density_neurons,
                              config.density_hidden_layers, config.color_neurons,
                              config.color_hidden_layers, config.sh_degree)
        self.grid = OccupancyGrid(aabb, config.occupancy_resolution, config.occupancy_ema_decay,
                                  config.occupancy_threshold, config.occupancy_warmup_steps,
                                  config.occupancy_update_every)

    # ----------------------------------------------------------------- sampling and rendering
    def uses_nerfacc(self, device: torch.device) -> bool:
        if self.config.sampler == "torch":
            return False
        usable = nerfacc_usable(device)
        if self.config.sampler == "nerfacc" and not usable:
            raise NerfplexError("model.ngp.sampler is 'nerfacc' but nerfacc is not importable or the "
                                "rays are not on CUDA; use 'auto' or 'torch'.")
        return usable

    def occupancy(self, points: Tensor) -> Tensor:
        """Cell values for the occupancy grid: density x step ``[P]``."""
        return self.field.density(points)[0] * self.config.render_step_size

    def get_outputs(self, rays: RayBundle, background: Tensor,
                    generator: Optional[torch.Generator] = None) -> dict[str, Tensor]:
        cfg = self.config
        clipped = rays.clipped_to_aabb(self.field.aabb)
        start, end = clipped.near, clipped.far
        if self.training and cfg.perturb:
            u = torch.rand(start.shape, device=start.device, dtype=start.dtype, generator=generator)
            start = start + u * cfg.render_step_size
        if self.uses_nerfacc(rays.origins.device):
            def sigma_fn(points: Tensor, ray_indices: Tensor) -> Tensor:
                return self.field.density(points)[0]

            def rgb_sigma_fn(points: Tensor, directions: Tensor, ray_indices: Tensor):
                sigma, rgb = self.field(points, directions)
                return rgb, sigma

            return render_nerfacc(self.grid, rays.origins, rays.directions, start, end,
                                  cfg.render_step_size, background, sigma_fn, rgb_sigma_fn,
                                  cfg.early_stop_eps, cfg.alpha_threshold)
        return self._render_torch(rays, start, end, background)

    def _render_torch(self, rays: RayBundle, start: Tensor, end: Tensor,
                      background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        samples = march_occupied(rays.origins, rays.directions, start, end, self.grid, cfg.render_step_size)
        keep = samples.keep
        if cfg.early_stop_eps > 0 or cfg.alpha_threshold > 0:
            keep = self._visible(samples.points, keep, cfg.render_step_size)
        ray, slot = keep.nonzero(as_tuple=True)
        sigma, rgb = self.field(samples.points[ray, slot], rays.directions[ray])
        dense_sigma = samples.t.new_zeros(samples.t.shape).index_put((ray, slot), sigma)
        dense_rgb = samples.t.new_zeros(samples.t.shape + (3,)).index_put((ray, slot), rgb)
        deltas = keep.to(samples.t.dtype) * cfg.render_step_size
        weights = density_weights(dense_sigma, deltas)
        return composite(weights, dense_rgb, samples.t, background)

    @torch.no_grad()
    def _visible(self, points: Tensor, keep: Tensor, step: float) -> Tensor:
        """nerfacc's visibility test on the grid's samples ``keep [R, K]``: transmittance before the
        sample at least ``early_stop_eps``, and alpha at least ``min(alpha_threshold, mean cell
        value)`` when that is positive."""
        cfg = self.config
        ray, slot = keep.nonzero(as_tuple=True)
        sigma = keep.new_zeros(keep.shape, dtype=points.dtype)
        sigma[ray, slot] = self.field.density(points[ray, slot])[0]
        optical = sigma * step
        transmittance = torch.exp(-(torch.cumsum(optical, dim=-1) - optical))
        visible = keep & (transmittance >= cfg.early_stop_eps)
        alpha_threshold = min(cfg.alpha_threshold, self.grid.mean_occupancy())
        if alpha_threshold > 0:
            visible &= (1.0 - torch.exp(-optical)) >= alpha_threshold
        return visible

    # ----------------------------------------------------------------- schedules and losses
    def on_train_step(self, step: int) -> bool:
        """Refresh the occupancy grid when due (every ``occupancy_update_every`` steps, from step 0)."""
        self.grid.update(step, self.occupancy)
        return False

    def learning_rate_factor(self, step: int, decay: Callable[[int], float]) -> float:
        """nerfacc's schedule (``decay`` unused): linear warm-up from 0.01, then x``lr_gamma`` at 1/2,
        3/4 and 9/10 of ``schedule_steps``."""
        cfg = self.config
        warmup = 0.01 + 0.99 * min(step, cfg.lr_warmup_steps) / max(cfg.lr_warmup_steps, 1)
        milestones = [cfg.schedule_steps // 2, cfg.schedule_steps * 3 // 4, cfg.schedule_steps * 9 // 10]
        return warmup * cfg.lr_gamma ** sum(step >= m for m in milestones)

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"all": list(self.field.parameters())}

    def get_learning_rates(self) -> dict[str, float]:
        return {"all": self.config.learning_rate}

    def get_loss_dict(self, outputs: dict[str, Tensor], target_rgb: Tensor,
                      batch: Optional[RayBatch] = None) -> dict[str, Tensor]:
        return {"rgb_mse": torch.mean((outputs["rgb"] - target_rgb) ** 2)}

    def surface(self, aabb: Tensor) -> SurfaceField:
        """The field's density σ at ``surface_density`` over its box."""
        def density(points: Tensor) -> Tensor:
            return self.field.density(points)[0]

        def radiance(points: Tensor, directions: Tensor) -> Tensor:
            return self.field(points, directions)[1]

        return SurfaceField(density, "density", self.config.surface_density,
                            self.field.aabb.detach().clone(), mean_over_axis_views(radiance),
                            f"density sigma of the hash-grid field, level {self.config.surface_density:g}")
