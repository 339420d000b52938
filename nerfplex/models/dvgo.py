"""DVGO, Direct Voxel Grid Optimization (Sun et al., CVPR 2022): dense grids in two stages.

The defaults are the authors' NeRF-synthetic configuration (``configs/default.py`` +
``configs/nerf/lego.py`` of sunset1995/DirectVoxGO):

* **coarse** (``coarse_steps`` = 5000): 1024000 voxels over the scene box, a density grid and an RGB
  grid, view-count-scaled density rate, entropy + per-point RGB losses.
* **fine** (the remaining steps; the authors' 20000): a new field on the box of the coarse geometry
  (alpha > ``bbox_thres``, grown by ``world_bound_scale``), free space known from the coarse density
  (mask cache), 160³ voxels reached by progressive scaling from 160³ / 16, a 12-channel feature grid
  + MLP, training rays restricted to those that cross the mask.
* ``contracted``: DVGOv2's unbounded model (``lib/dcvgo.py``), fine stage only, on a contracted grid.

Learning rates: 0.1 (grids), 1e-3 (MLP), ×0.1 every 20000 steps (``lrate_decay`` 20: set
``optim.decay_steps: 20000``, ``optim.final_factor: 0.1``), restarting at each stage and at each
progressive scaling (the authors re-create the optimiser with the initial rates). The optimiser is the
authors' ``MaskedAdam``, betas (0.9, 0.99): set ``optim.beta2: 0.99``. Step lists count steps within
the stage from 1, as the authors' ``global_step``, and assume their 5000 + 20000 steps; scale them
(and ``coarse_steps``) for shorter runs. See docs/methods.md for the deviations from their code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor, nn

from nerfplex.cameras import Cameras, RayBundle
from nerfplex.errors import NerfplexError
from nerfplex.fields.dvgo import (
    DVGOField,
    coarse_geometry_box,
    frustum_box,
    mask_from_coarse,
    scaled_box,
    voxel_size_for,
)
from nerfplex.fields.view_count import count_views
from nerfplex.losses.distortion import distortion_loss
from nerfplex.models.base import Model
from nerfplex.models.masked_adam import MaskedAdam
from nerfplex.models.surface import SurfaceField, mean_over_axis_views
from nerfplex.render.compositing import composite
from nerfplex.render.contraction import march_contracted
from nerfplex.render.mask_cache import MaskCache
from nerfplex.render.voxel_march import march_box

if TYPE_CHECKING:  # DVGOConfig.build imports this module: the config is named here for annotations only
    from nerfplex.data.ray_sampler import RayBatch
    from nerfplex.models.dvgo_config import DVGOConfig

__all__ = ["DVGO"]

EARLY_STOP_TRANSMITTANCE = 1e-3
"""A ray stops accumulating once its transmittance falls below this (the authors' ``alpha2weight``)."""


class DVGO(Model):
    """Two DVGO stages (:class:`DVGOField`) behind the Model interface; only one exists at a time.

    Samples sit at ``t_k = t_min + k · stepsize · voxel_size`` inside the stage's box; samples in
    mask-cache free space are skipped, alpha is computed from interpolated raw density, samples with
    alpha (then weight) at most ``fast_color_thres`` are dropped, rays stop once their transmittance
    falls below 1e-3, and only the remaining samples get a colour.
    """

    def __init__(
        self,
        config: DVGOConfig,
        aabb: Tensor,
        cameras: Optional[Cameras] = None,
        near: float = 0.0,
        far: Optional[float] = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.scene_aabb = aabb.detach().clone().float()
        self.cameras = cameras  # training views: view counts, near-camera masking
        self.near = float(near)
        # Seeds the fine MLP's initialisation, so that it does not depend on when the stage starts.
        self.register_buffer("fine_seed", torch.randint(0, 2**62, ()))
        self.register_buffer("view_count", torch.zeros(0))
        self.coarse: Optional[DVGOField] = None
        self.fine: Optional[DVGOField] = None
        self._first_fine_mask: Optional[tuple[Tensor, Tensor]] = None  # (mask, box) for the ray filter
        if config.contracted and config.coarse_steps > 0:
            raise NerfplexError(
                "model.dvgo.contracted needs model.dvgo.coarse_steps: 0 (the authors' "
                "unbounded model has no coarse stage)."
            )
        if config.coarse_steps > 0:
            box = self.scene_aabb
            if config.coarse_box == "frustum" and cameras is not None and far is not None:
                box = frustum_box(cameras, self.near, far)
            self.coarse = DVGOField(box, config.coarse_num_voxels, config.coarse_num_voxels, config.coarse_alpha_init)
            if min(self.coarse.resolution) < 2:
                raise NerfplexError(
                    f"model.dvgo.coarse_num_voxels = {config.coarse_num_voxels} gives a "
                    f"{self.coarse.resolution} grid on the coarse box; raise it."
                )
            if config.maskout_near_cam_vox and cameras is not None:
                self.coarse.mask_out_near(cameras.c2w[:, :, 3], self.near)
        elif config.contracted:
            side = 1.0 + config.bg_len
            self._start_fine(torch.tensor([[-side] * 3, [side] * 3]), coarse=None)
        else:
            self._start_fine(scaled_box(self.scene_aabb, config.world_bound_scale), coarse=None)
        # Contracted model: the foreground cube about the scene box's centre (its largest half-side).
        self.centre = self.scene_aabb.mean(dim=0)
        self.radius = float((self.scene_aabb[1] - self.scene_aabb[0]).max()) / 2
        self._step = 0

    # ----------------------------------------------------------------- stages
    @property
    def field(self) -> DVGOField:
        """The stage being trained."""
        return self.fine if self.fine is not None else self.coarse

    @property
    def in_fine_stage(self) -> bool:
        return self.fine is not None

    def _fast_color_thres(self) -> float:
        cfg = self.config
        return cfg.fine_fast_color_thres if self.in_fine_stage else cfg.coarse_fast_color_thres

    def fine_initial_voxels(self) -> int:
        """The authors' ``int(num_voxels / 2^len(pg_scale))``."""
        return int(self.config.fine_num_voxels / (2 ** len(self.config.pg_scale)))

    def _new_fine(self, box: Tensor) -> DVGOField:
        cfg = self.config
        generator = torch.Generator().manual_seed(int(self.fine_seed))
        field = DVGOField(
            box.cpu(),
            self.fine_initial_voxels(),
            cfg.fine_num_voxels,
            cfg.fine_alpha_init,
            cfg.rgbnet_dim,
            cfg.rgbnet_direct,
            cfg.rgbnet_depth,
            cfg.rgbnet_width,
            cfg.viewbase_pe,
            generator,
        )
        return field.to(self.fine_seed.device)

    def _start_fine(self, box: Tensor, coarse: Optional[DVGOField]) -> None:
        """Build the fine stage on ``box``; its mask comes from ``coarse`` (all free space unknown
        without one). The coarse stage and its view counts are dropped."""
        fine = self._new_fine(box)
        if min(fine.resolution) < 2:
            raise NerfplexError(
                f"model.dvgo.fine_num_voxels = {self.config.fine_num_voxels} gives a "
                f"{fine.resolution} starting grid on the fine box; raise it."
            )
        if coarse is not None:
            fine.mask_cache.replace(mask_from_coarse(coarse, fine.mask_cache.vertices(), self.config.mask_cache_thres))
        self.fine = fine
        self.coarse = None
        self.view_count = self.view_count.new_zeros(0)
        # The fine stage trains on the rays that cross this first mask (the trainer checkpoints the
        # resulting ray pool, so this copy need not be).
        self._first_fine_mask = (fine.mask_cache.mask.clone(), fine.aabb.clone())

    @torch.no_grad()
    def switch_to_fine(self) -> None:
        """End of the coarse stage: fine box from the coarse geometry, fine mask from coarse density."""
        coarse = self.coarse
        box = coarse_geometry_box(coarse, self.config.bbox_thres)
        if box is None:  # nothing reached bbox_thres: keep the coarse box
            box = coarse.aabb.clone()
        self._start_fine(scaled_box(box, self.config.world_bound_scale), coarse)

    def stage_step(self, step: int) -> int:
        """The authors' ``global_step`` of trainer step ``step``: steps within the stage, from 1."""
        start = self.config.coarse_steps if step >= self.config.coarse_steps else 0
        return step - start + 1

    def on_train_step(self, step: int) -> bool:
        """Before ``step``: view counts (first coarse step), the stage switch, mask-cache occupancy
        updates and progressive scaling. Returns True when parameters were replaced."""
        cfg = self.config
        self._step = step
        changed = False
        if (
            not self.in_fine_stage
            and step < cfg.coarse_steps
            and cfg.pervoxel_lr
            and self.cameras is not None
            and self.view_count.numel() == 0
        ):
            self.init_view_counts()
            changed = True
        if not self.in_fine_stage and step >= cfg.coarse_steps:
            self.switch_to_fine()
            changed = True
        local = self.stage_step(step)
        every = cfg.occupancy_every
        if every > 0 and local % every == every // 2:
            self.field.update_occupancy(self._fast_color_thres())
        if self.in_fine_stage and local in cfg.pg_scale:
            rest = len(cfg.pg_scale) - sorted(cfg.pg_scale).index(local) - 1
            self.fine.scale_volume(int(cfg.fine_num_voxels / (2**rest)), self._fast_color_thres())
            self.fine.act_shift -= cfg.decay_after_scale
            changed = True
        return changed

    @torch.no_grad()
    def init_view_counts(self) -> None:
        """``pervoxel_lr``: count the training views per coarse voxel; voxels seen by at most 2 views
        become free space."""
        coarse = self.coarse
        self.view_count = count_views(
            self.cameras,
            coarse.aabb,
            coarse.resolution,
            coarse.voxel_size(),
            self.near,
            self.config.stepsize,
            self.config.pervoxel_lr_downrate,
        )
        coarse.mask_cache.replace(coarse.mask_cache.mask & (self.view_count[0, 0] > 2))

    def learning_rate_factor(self, step: int, decay: Callable[[int], float]) -> float:
        """``decay`` restarts at the fine stage and at each progressive scaling (the authors create a
        new optimiser with the initial rates there)."""
        if step < self.config.coarse_steps:
            return decay(step)
        start = self.config.coarse_steps
        restart = max([start] + [start + p - 1 for p in self.config.pg_scale if start + p - 1 <= step])
        return decay(step - restart)

    def training_ray_filter(self, step: int) -> Optional[Callable[[RayBundle], Tensor]]:
        """At the first fine step (``in_maskcache``): keep the rays whose samples cross the mask."""
        cfg = self.config
        if not cfg.in_maskcache or cfg.contracted or step != cfg.coarse_steps or not self.in_fine_stage:
            return None
        first = self._first_fine_mask
        mask = MaskCache(*first) if first is not None else self.fine.mask_cache
        return lambda rays: self.hits_mask(rays, mask)

    @torch.no_grad()
    def hits_mask(self, rays: RayBundle, mask: MaskCache, chunk: int = 8192) -> Tensor:
        """The authors' ``hit_coarse_geo``: whether any sample of each ray (marching ``mask``'s box with
        the fine stage's first step length) lies in ``mask``: ``[R]`` bool."""
        step = self.config.stepsize * voxel_size_for(mask.aabb, self.fine_initial_voxels())
        hits = []
        for start in range(0, len(rays), chunk):
            part = rays[start : start + chunk]
            samples = march_box(part, mask.aabb, step, keep=mask)
            hit = torch.zeros(len(part), dtype=torch.bool, device=part.origins.device)
            hit[samples.ray] = True
            hits.append(hit)
        if not hits:
            return torch.zeros(0, dtype=torch.bool, device=rays.origins.device)
        return torch.cat(hits)

    # ----------------------------------------------------------------- rendering
    def get_outputs(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        field = self.field
        cfg = self.config
        step = cfg.stepsize * field.voxel_size()
        interval = cfg.stepsize * field.voxel_size_ratio()
        if cfg.contracted:
            samples, t_unit = march_contracted(
                rays,
                self.centre,
                self.radius,
                cfg.bg_len,
                cfg.contracted_norm,
                field.resolution[0],
                cfg.stepsize,
                keep=field.mask_cache,
            )
        else:
            samples = march_box(rays, field.aabb, step, keep=field.mask_cache)  # skip known free space
        t = samples.t

        optical = t.new_zeros(t.shape)  # -log(1 - alpha) per sample slot; 0 where skipped
        optical = optical.index_put(
            (samples.ray, samples.step), field.optical_depth(field.raw_density(samples.points), interval)
        )
        threshold = self._fast_color_thres()
        if threshold > 0:
            optical = torch.where(-torch.expm1(-optical) > threshold, optical, torch.zeros_like(optical))
        before = torch.cumsum(optical, dim=-1) - optical
        transmittance = torch.exp(-before)
        alive = transmittance >= EARLY_STOP_TRANSMITTANCE
        weights = torch.where(alive, transmittance * -torch.expm1(-optical), torch.zeros_like(optical))

        shaded = samples.select(weights[samples.ray, samples.step] > threshold)
        rgb = t.new_zeros(t.shape + (3,))
        if shaded.ray.numel() > 0:
            colors = field.colors(shaded.points, rays.directions[shaded.ray])
            rgb = rgb.index_put((shaded.ray, shaded.step), colors)
        outputs = composite(weights, rgb, t, background)
        if self.training:
            outputs["sample_weights"] = torch.where(weights > threshold, weights, torch.zeros_like(weights))
            outputs["sample_rgb"] = rgb
            if cfg.contracted:  # the authors' s = 1 - 1 / (1 + t), interval 1 / (samples per ray)
                n_max = float(t.shape[1])
                outputs["sample_s"] = (1 - 1 / (1 + t_unit)).expand_as(t)
            else:  # step index over the most steps a ray can take in the box
                n_max = max(float(torch.linalg.norm(field.aabb[1] - field.aabb[0])) / step, 1.0)
                index = torch.arange(t.shape[1], device=t.device, dtype=t.dtype)
                outputs["sample_s"] = (index / n_max).expand_as(t)
            outputs["sample_interval"] = t.new_full((t.shape[0], 1), 1.0 / n_max)
        return outputs

    def surface(self, aabb: Tensor) -> SurfaceField:
        """Alpha of one voxel step (0 in mask-cache free space) at level 0.005 over the stage's box.
        The authors ship no mesh export; this is TensoRF's criterion (alpha of one step, 0.005)."""
        field = self.field

        def alpha(points: Tensor) -> Tensor:
            return field.alpha(field.raw_density(points)) * field.mask_cache(points).to(points.dtype)

        return SurfaceField(
            alpha,
            "density",
            0.005,
            field.aabb.detach().clone(),
            mean_over_axis_views(field.colors),
            "alpha of one voxel (post-activation), level 0.005",
        )

    # ----------------------------------------------------------------- losses and optimisation
    def _tv_active(self) -> bool:
        cfg = self.config
        local = self.stage_step(self._step)
        return cfg.tv_after < local < cfg.tv_before and local % max(cfg.tv_every, 1) == 0

    def get_loss_dict(
        self, outputs: dict[str, Tensor], target_rgb: Tensor, batch: Optional[RayBatch] = None
    ) -> dict[str, Tensor]:
        cfg = self.config
        fine = self.in_fine_stage
        rays = target_rgb.shape[0]
        losses = {"rgb_mse": cfg.weight_main * torch.mean((outputs["rgb"] - target_rgb) ** 2)}
        entropy_weight = cfg.fine_weight_entropy_last if fine else cfg.coarse_weight_entropy_last
        if entropy_weight > 0:
            last = (1.0 - outputs["opacity"]).clamp(1e-6, 1.0 - 1e-6)  # background transmittance
            entropy = -(last * torch.log(last) + (1.0 - last) * torch.log(1.0 - last)).mean()
            losses["entropy_last"] = entropy_weight * entropy
        rgbper_weight = cfg.fine_weight_rgbper if fine else cfg.coarse_weight_rgbper
        if rgbper_weight > 0 and "sample_rgb" in outputs:
            error = (outputs["sample_rgb"] - target_rgb[:, None]).pow(2).sum(dim=-1)
            losses["rgbper"] = rgbper_weight * (error * outputs["sample_weights"].detach()).sum() / rays
        if cfg.weight_distortion > 0 and "sample_s" in outputs:
            losses["distortion"] = cfg.weight_distortion * distortion_loss(
                outputs["sample_weights"], outputs["sample_s"], outputs["sample_interval"]
            )
        if (cfg.weight_tv_density > 0 or cfg.weight_tv_k0 > 0) and self._tv_active():
            scale = max(self.field.resolution) / 128 / rays  # the authors' weight / N_rand · N_max / 128
            if cfg.weight_tv_density > 0:
                losses["tv_density"] = cfg.weight_tv_density * scale * self.field.density.total_variation()
            if cfg.weight_tv_k0 > 0:
                losses["tv_k0"] = cfg.weight_tv_k0 * scale * self.field.k0.total_variation()
        return losses

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {name: self.field.grid_parameters(name) for name in ("density", "k0", "rgbnet")}

    def get_learning_rates(self) -> dict[str, float]:
        cfg = self.config
        return {"density": cfg.lrate_density, "k0": cfg.lrate_k0, "rgbnet": cfg.lrate_rgbnet}

    optimizer_class = MaskedAdam

    def get_param_group_options(self) -> dict[str, dict]:
        skip = self.in_fine_stage and self.config.skip_zero_grad
        scale = None
        if not self.in_fine_stage and self.view_count.numel() > 0:
            scale = self.view_count / self.view_count.max().clamp_min(1.0)
        return {
            "density": {"skip_zero_grad": skip, "lr_scale": scale},
            "k0": {"skip_zero_grad": skip, "lr_scale": None},
            "rgbnet": {"skip_zero_grad": False, "lr_scale": None},
        }

    # ----------------------------------------------------------------- checkpoints
    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Match the checkpoint's stage first (build a placeholder fine field, drop or rebuild the
        coarse one), resize grids and masks to its shapes, then load as usual."""
        has = {prefix: any(k.startswith(prefix + ".") for k in state_dict) for prefix in ("coarse", "fine")}
        if has["fine"] and self.fine is None:
            self.fine = self._new_fine(self.scene_aabb)
        if not has["fine"]:
            self.fine = None
        if has["coarse"] and self.coarse is None:
            cfg = self.config
            self.coarse = DVGOField(
                self.scene_aabb, cfg.coarse_num_voxels, cfg.coarse_num_voxels, cfg.coarse_alpha_init
            ).to(self.fine_seed.device)
        if not has["coarse"]:
            self.coarse = None
        self.match_shapes(state_dict)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
