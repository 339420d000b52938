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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Optional

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
from nerfplex.render.contraction import contract
from nerfplex.render.nerfacc_render import nerfacc_usable, render_nerfacc
from nerfplex.render.occupancy_grid import OccupancyGrid
from nerfplex.render.occupancy_march import StepRule, march_occupied, step_count

if TYPE_CHECKING:
    from nerfplex.data.ray_sampler import RayBatch
    from nerfplex.data.scene import SceneData


def _ngp_grid() -> HashGridConfig:
    return HashGridConfig(
        n_levels=16,
        n_features_per_level=2,
        log2_hashmap_size=19,
        base_resolution=16,
        per_level_scale=per_level_scale_for(16, 4096, 16),
    )


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
    foreground: Literal["scene_box", "cameras"] = "scene_box"
    """The finest occupancy level's box (also the contraction's inner box). ``scene_box``: the scene
    box shrunk ``2^(occupancy_levels - 1)`` times, so the coarsest level is the scene box (instant-ngp:
    the ``aabb_scale`` box). ``cameras``: the scene box cut down to the cube about its centre that holds
    every training camera, with the coarser levels growing beyond it (nerfacc's ``roi_aabb`` + levels;
    nerfstudio scales scenes so the cameras fit the unit cube); it suits every layout's box, from a
    COLMAP point-cloud box to instant-ngp's ``aabb_scale`` box. Rays are clipped to the coarsest box."""
    occupancy_levels: int = 1
    """Cascades of the occupancy grid (instant-ngp's multi-scale grid for ``aabb_scale`` > 1, nerfacc's
    ``levels``): the finest level covers the scene box shrunk ``2^(levels - 1)`` times about its
    centre, each next level doubles it, the coarsest is the scene box. 1: one grid over the box. For an
    instant-ngp scene, ``1 + log2(aabb_scale)`` makes level 0 instant-ngp's unit cube."""
    contraction: Literal["none", "inf", "l2"] = "none"
    """Mip-NeRF 360's scene contraction of the hash grid's input: points relative to the finest
    occupancy level's box (its centre, half-side 1) stay inside it and the rest of space is squeezed
    into a shell around it (``(2 - 1/|x|) x/|x|``; ``inf``: nerfacto's cube norm, ``l2``: the paper's
    sphere), so the hash grid's resolution goes to the foreground and far background costs no extra
    table entries. ``none``: the grid spans the scene box linearly (instant-ngp)."""
    cone_angle: float = 0.0
    """Step growth with distance: the step from distance ``t`` is ``clamp(t · cone_angle,
    render_step_size, max_step_size)`` (instant-ngp's ``calc_dt``; its default for ``aabb_scale`` > 1 is
    1/256, 0 for synthetic scenes). 0: the constant ``render_step_size``."""
    max_step_size: float = 0.0
    """Upper bound of the cone-angle step in world units (instant-ngp caps it); 0: no bound (nerfacc).
    The nerfacc CUDA sampler has no cap, so a non-zero value keeps the torch sampler."""
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

    def build(self, scene: SceneData, device: Optional[torch.device | str] = None) -> NGP:
        """The model over ``scene.aabb``; ``device`` picks tiny-cuda-nn (CUDA) or the torch modules."""
        return NGP(self, scene.aabb, device, camera_origins=scene.train.cameras.c2w[:, :, 3])

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(
                self,
                "render_step_size",
                "occupancy_resolution",
                "occupancy_update_every",
                "learning_rate",
                "schedule_steps",
                "geo_feat_dim",
                "density_neurons",
                "density_hidden_layers",
                "color_neurons",
                "color_hidden_layers",
            ),
            *non_negative(
                self,
                "occupancy_warmup_steps",
                "occupancy_threshold",
                "early_stop_eps",
                "alpha_threshold",
                "lr_warmup_steps",
                "lr_gamma",
                "surface_density",
            ),
            within(self, "occupancy_ema_decay", 0.0, 1.0),
            ("sh_degree", 1 <= self.sh_degree <= 4, "1, 2, 3 or 4"),
            (
                "occupancy_resolution",
                self.occupancy_resolution <= 1024,
                "at most 1024 (a 1024^3 grid already takes 4 GiB)",
            ),
            ("occupancy_levels", 1 <= self.occupancy_levels <= 16, "an integer in [1, 16]"),
            ("contraction", self.contraction in ("none", "inf", "l2"), "none, inf or l2"),
            ("cone_angle", 0 <= self.cone_angle < 1, "in [0, 1) (instant-ngp: 1/256 = 0.00390625)"),
            (
                "max_step_size",
                self.max_step_size == 0 or self.max_step_size >= self.render_step_size,
                "0 (no bound) or at least render_step_size",
            ),
        ]


def foreground_box(aabb: Tensor, foreground: str, levels: int, camera_origins: Optional[Tensor]) -> Tensor:
    """The finest occupancy level's box ``[2, 3]`` (see ``NGPConfig.foreground``) for the scene box
    ``aabb [2, 3]`` and the training cameras' centres ``camera_origins [N, 3]``."""
    box = aabb.detach().float().reshape(2, 3)
    centre = box.mean(0)
    if foreground == "scene_box":
        return centre + (box - centre) / 2 ** (levels - 1)
    if camera_origins is None or not len(camera_origins):
        raise NerfplexError(
            "model.ngp.foreground 'cameras' needs the training cameras; build the model "
            "with NGPConfig.build(scene) or use foreground 'scene_box'."
        )
    half = float((camera_origins.detach().float().cpu() - centre).abs().max())
    cube = torch.stack([centre - half, centre + half])
    cut = torch.stack([torch.maximum(box[0], cube[0]), torch.minimum(box[1], cube[1])])
    return cut if bool((cut[1] > cut[0]).all()) else box


class NGP(Model):
    """Occupancy-grid marching through an :class:`NGPField`; MSE on the colour."""

    def __init__(
        self,
        config: NGPConfig,
        aabb: Tensor,
        device: Optional[torch.device | str] = None,
        camera_origins: Optional[Tensor] = None,
    ) -> None:
        super().__init__()
        self.config = config
        backend = resolve_backend(config.backend, device)
        inner = foreground_box(aabb, config.foreground, config.occupancy_levels, camera_origins)
        outer = (inner - inner.mean(0)) * 2 ** (config.occupancy_levels - 1) + inner.mean(0)
        # The field's box: contracted coordinates span [-2, 2]^3; otherwise the grid's coarsest box.
        field_box = torch.tensor([[-2.0] * 3, [2.0] * 3]) if config.contraction != "none" else outer
        self.field = NGPField(
            field_box,
            config.grid,
            backend,
            config.geo_feat_dim,
            config.density_neurons,
            config.density_hidden_layers,
            config.color_neurons,
            config.color_hidden_layers,
            config.sh_degree,
        )
        self.grid = OccupancyGrid(
            inner,
            config.occupancy_resolution,
            config.occupancy_ema_decay,
            config.occupancy_threshold,
            config.occupancy_warmup_steps,
            config.occupancy_update_every,
            levels=config.occupancy_levels,
        )
        self.step_rule = StepRule(config.render_step_size, config.cone_angle, config.max_step_size)

    # ----------------------------------------------------------------- the field in world coordinates
    def field_points(self, points: Tensor) -> Tensor:
        """World points ``[P, 3]`` -> the field's input: unchanged, or contracted about the finest
        occupancy level's box (half-side 1) when ``contraction`` is on."""
        if self.config.contraction == "none":
            return points
        lo, hi = self.grid.aabbs[0, :3], self.grid.aabbs[0, 3:]
        return contract((points - (lo + hi) / 2) / ((hi - lo) / 2), 1.0, self.config.contraction)[0]

    def density(self, points: Tensor) -> Tensor:
        """Density σ ``[P]`` at world points ``[P, 3]``."""
        return self.field.density(self.field_points(points))[0]

    def query(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        """``(sigma [P], rgb [P, 3])`` at world points and unit directions ``[P, 3]``."""
        return self.field(self.field_points(points), directions)

    def max_samples_per_ray(self, rays: RayBundle) -> int:
        """Candidate samples of the longest of ``rays`` (clipped to the scene box): the renderer's
        bound on the samples a ray can hold."""
        clipped = rays.clipped_to_aabb(self.grid.outer_aabb)
        return int(step_count(self.step_rule, clipped.near, torch.maximum(clipped.far, clipped.near)).max())

    # ----------------------------------------------------------------- sampling and rendering
    def uses_nerfacc(self, device: torch.device) -> bool:
        if self.config.sampler == "torch":
            return False
        usable = nerfacc_usable(device)
        if self.config.sampler == "nerfacc" and not usable:
            raise NerfplexError(
                "model.ngp.sampler is 'nerfacc' but nerfacc is not importable or the "
                "rays are not on CUDA; use 'auto' or 'torch'."
            )
        return usable

    def occupancy(self, points: Tensor) -> Tensor:
        """Cell values for the occupancy grid: density x (minimum) step ``[P]`` (nerfacc's rule, at
        every level)."""
        return self.density(points) * self.config.render_step_size

    def uses_cone_cap(self) -> bool:
        return self.config.cone_angle > 0 and self.config.max_step_size > 0

    def get_outputs(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        cfg = self.config
        clipped = rays.clipped_to_aabb(self.grid.outer_aabb)
        start, end = clipped.near, clipped.far
        if self.training and cfg.perturb:
            u = torch.rand(start.shape, device=start.device, dtype=start.dtype, generator=generator)
            start = start + u * cfg.render_step_size
        if not self.uses_cone_cap() and self.uses_nerfacc(rays.origins.device):

            def sigma_fn(points: Tensor, ray_indices: Tensor) -> Tensor:
                return self.density(points)

            def rgb_sigma_fn(points: Tensor, directions: Tensor, ray_indices: Tensor):
                sigma, rgb = self.query(points, directions)
                return rgb, sigma

            return render_nerfacc(
                self.grid,
                rays.origins,
                rays.directions,
                start,
                end,
                cfg.render_step_size,
                background,
                sigma_fn,
                rgb_sigma_fn,
                cfg.early_stop_eps,
                cfg.alpha_threshold,
                cfg.cone_angle,
            )
        return self._render_torch(rays, start, end, background)

    def _render_torch(self, rays: RayBundle, start: Tensor, end: Tensor, background: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        samples = march_occupied(rays.origins, rays.directions, start, end, self.grid, self.step_rule)
        keep = samples.keep
        if cfg.early_stop_eps > 0 or cfg.alpha_threshold > 0:
            keep = self._visible(samples.points, keep, samples.deltas)
        ray, slot = keep.nonzero(as_tuple=True)
        sigma, rgb = self.query(samples.points[ray, slot], rays.directions[ray])
        dense_sigma = samples.t.new_zeros(samples.t.shape).index_put((ray, slot), sigma)
        dense_rgb = samples.t.new_zeros(samples.t.shape + (3,)).index_put((ray, slot), rgb)
        deltas = keep.to(samples.t.dtype) * samples.deltas
        weights = density_weights(dense_sigma, deltas)
        out = composite(weights, dense_rgb, samples.t, background)
        out["num_samples"] = keep.sum(dim=1, keepdim=True).to(samples.t.dtype)
        return out

    @torch.no_grad()
    def _visible(self, points: Tensor, keep: Tensor, deltas: Tensor) -> Tensor:
        """nerfacc's visibility test on the grid's samples ``keep [R, K]`` (interval lengths ``deltas
        [R, K]``): transmittance before the sample at least ``early_stop_eps``, and alpha at least
        ``min(alpha_threshold, mean cell value)`` when that is positive."""
        cfg = self.config
        ray, slot = keep.nonzero(as_tuple=True)
        sigma = keep.new_zeros(keep.shape, dtype=points.dtype)
        sigma[ray, slot] = self.density(points[ray, slot])
        optical = sigma * deltas
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

    def get_loss_dict(
        self, outputs: dict[str, Tensor], target_rgb: Tensor, batch: Optional[RayBatch] = None
    ) -> dict[str, Tensor]:
        return {"rgb_mse": torch.mean((outputs["rgb"] - target_rgb) ** 2)}

    def surface(self, aabb: Tensor) -> SurfaceField:
        """The field's density σ at ``surface_density`` over its box."""

        def radiance(points: Tensor, directions: Tensor) -> Tensor:
            return self.query(points, directions)[1]

        return SurfaceField(
            self.density,
            "density",
            self.config.surface_density,
            self.grid.outer_aabb.detach().clone(),
            mean_over_axis_views(radiance),
            f"density sigma of the hash-grid field, level {self.config.surface_density:g}",
        )
