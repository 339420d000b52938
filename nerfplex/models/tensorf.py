"""TensoRF (Chen et al., ECCV 2022): a factorised feature grid, uniform ray marching, a small MLP.

The defaults are the authors' lego configuration (``configs/lego.txt`` + ``opt.py`` of
apchenstu/TensoRF): VM ranks 16 / 48, 128³ -> 300³ voxels, ``MLP_Fea`` shading, L1 density loss.
Every schedule is a step list that assumes the authors' 30,000 steps of 4,096 rays; scale the lists
with ``trainer.max_steps`` for shorter runs. The authors' Adam uses ``betas=(0.9, 0.99)``: set
``optim.beta2: 0.99``. See the report / docs for the (few) deviations from their code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Optional

import torch
from torch import Tensor, nn

from nerfplex.cameras import RayBundle
from nerfplex.config_checks import Check, increasing_steps, non_negative, positive, voxel_bound
from nerfplex.errors import NerfplexError
from nerfplex.fields.tensorf import CPField, VMField, resolution_for_voxels
from nerfplex.fields.tensorf_shading import FeatureShadingMLP
from nerfplex.models.base import Model
from nerfplex.models.surface import SurfaceField, mean_over_axis_views
from nerfplex.render.alpha_mask import AlphaGridMask
from nerfplex.render.compositing import composite, density_weights

if TYPE_CHECKING:
    from nerfplex.data.ray_sampler import RayBatch
    from nerfplex.data.scene import SceneData

MAX_MASK_VOXELS = 256**3
"""The alpha mask keeps its previous resolution once the grid has this many voxels (the authors')."""
FILTER_SAMPLES = 256
"""Samples per ray of the training-ray filter (the authors' ``filtering_rays`` default): rays whose
occupied space lies farther than 256 half-voxel steps from the box entry are dropped too."""


@dataclass
class TensoRFConfig:
    """TensoRF; defaults are the authors' lego settings (VM), whose schedules assume 30k steps."""

    decomposition: Literal["vm", "cp"] = "vm"
    """``vm``: vector-matrix (``TensorVMSplit``, the paper's main model); ``cp``: CP (``TensorCP``;
    the authors' CP lego also uses ``n_voxel_final`` 500³ = 125000000 and L1 weights 1e-5 / 1e-5)."""
    density_ranks: tuple[int, int, int] = (16, 16, 16)
    """VM: density components per plane-line pair (``n_lamb_sigma``)."""
    color_ranks: tuple[int, int, int] = (48, 48, 48)
    """VM: appearance components per plane-line pair (``n_lamb_sh``)."""
    cp_density_rank: int = 96
    """CP: density components (the authors' CP lego: 96)."""
    cp_color_rank: int = 288
    """CP: appearance components (the authors' CP lego: 288)."""
    color_feature_dim: int = 27
    """Output size of the appearance basis matrix, the MLP's feature input (``data_dim_color``)."""
    n_voxel_init: int = 2097156
    """Grid voxels at the start (cubic voxels over the box, sides truncated: 2097156 gives 128³)."""
    n_voxel_final: int = 27000000
    """Grid voxels after the last upsampling (27000000 gives 299³ on a cube, as the authors' code)."""
    upsample_steps: tuple[int, ...] = (2000, 3000, 4000, 5500, 7000)
    """Upsample the grid before these steps; voxel counts go from ``n_voxel_init`` to
    ``n_voxel_final`` evenly in log space (``upsamp_list``; 30k-step schedule)."""
    alpha_mask_steps: tuple[int, ...] = (2000, 4000)
    """Recompute the alpha mask before these steps (``update_AlphaMask_list``; 30k-step schedule)."""
    shrink_box: bool = True
    """At the first alpha-mask update, crop the grid to the occupied box (the authors' ``shrink``);
    later upsampling then spends its voxels on that smaller box."""
    filter_rays: bool = True
    """Train only on rays that can see something, as the authors' ``filtering_rays``: from the start,
    rays that cross the scene box; from the second alpha-mask update on, rays that cross occupied
    mask cells (this concentrates the batch on the object)."""
    step_ratio: float = 0.5
    """Ray-marching step as a fraction of the mean voxel size."""
    distance_scale: float = 25.0
    """Step lengths are multiplied by this before alpha = 1 - exp(-σ δ)."""
    density_shift: float = -10.0
    """σ = softplus(feature + shift): about 4.5e-5 where the features are 0."""
    alpha_mask_threshold: float = 1e-4
    """Alpha (computed with the unscaled step, as the authors do) below which a vertex is empty."""
    weight_threshold: float = 1e-4
    """Samples with compositing weight at most this get no colour evaluation (``rm_weight_mask_thre``)."""
    mlp_width: int = 128
    """Hidden width of the colour MLP (``featureC``)."""
    view_frequencies: int = 2
    """Positional-encoding frequencies of the view direction (``view_pe``)."""
    feature_frequencies: int = 2
    """Positional-encoding frequencies of the appearance features (``fea_pe``)."""
    l1_weight_initial: float = 8e-5
    """Weight of the L1 density loss until the first alpha-mask update (``L1_weight_inital``)."""
    l1_weight_rest: float = 4e-5
    """Weight of the L1 density loss from the first alpha-mask update on (``L1_weight_rest``)."""
    tv_weight_density: float = 0.0
    """Total-variation weight on the density factors (0 for blender; the authors use it for LLFF)."""
    tv_weight_color: float = 0.0
    """Total-variation weight on the appearance factors (0 for blender)."""
    lr_grid: float = 0.02
    """Initial learning rate of the factors (``lr_init``); decays with ``optim.final_factor``."""
    lr_network: float = 1e-3
    """Initial learning rate of the basis matrix and the MLP (``lr_basis``)."""
    lr_upsample_reset: bool = True
    """Restart the learning-rate decay at each upsampling, as the authors' default
    (``lr_upsample_reset=1``): the rate is the initial one times the decay since the last upsampling."""
    perturb: bool = True
    """While training, shift each ray's samples by one random fraction of a step."""

    def build(self, scene: SceneData, device: Optional[torch.device | str] = None) -> TensoRF:
        """The model with its grids over ``scene.aabb``."""
        return TensoRF(self, scene.aabb)

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        checks = [
            *positive(
                self,
                "cp_density_rank",
                "cp_color_rank",
                "color_feature_dim",
                "step_ratio",
                "distance_scale",
                "mlp_width",
                "lr_grid",
                "lr_network",
            ),
            *non_negative(
                self,
                "view_frequencies",
                "feature_frequencies",
                "alpha_mask_threshold",
                "weight_threshold",
                "l1_weight_initial",
                "l1_weight_rest",
                "tv_weight_density",
                "tv_weight_color",
            ),
            *[
                (key, min(getattr(self, key)) > 0, "three positive integers")
                for key in ("density_ranks", "color_ranks")
            ],
            increasing_steps(self, "upsample_steps"),
            increasing_steps(self, "alpha_mask_steps"),
        ]
        for key in ("n_voxel_init", "n_voxel_final"):
            checks.append(voxel_bound(self, key, MAX_VOXELS, self._grid_bytes(getattr(self, key))))
        return checks

    def _grid_bytes(self, voxels: int) -> float:
        """Bytes of the factorised grids at ``voxels`` voxels, with Adam's two moments."""
        side = max(float(voxels), 0.0) ** (1 / 3)
        if self.decomposition == "cp":
            values = (self.cp_density_rank + self.cp_color_rank) * 3 * side
        else:
            values = (sum(self.density_ranks) + sum(self.color_ranks)) * (side * side + side)
        return values * 4 * 3


MAX_VOXELS = 1200**3
"""The largest voxel count TensoRF accepts (the authors' largest scenes use about 640^3)."""


class TensoRF(Model):
    """Uniform ray marching through a VM / CP field with an alpha mask; ``MLP_Fea`` colours.

    Samples sit at ``t_k = near + step (k + u)`` (``u`` one uniform per ray while training, else 0)
    inside the field's box, ``step = step_ratio · mean voxel size``, at most the authors' count
    ``int(|N| / step_ratio)`` per ray. Samples in empty alpha-mask cells are not evaluated (σ = 0);
    colours are evaluated only where the compositing weight exceeds ``weight_threshold``.
    """

    def __init__(self, config: TensoRFConfig, aabb: Tensor) -> None:
        super().__init__()
        self.config = config
        resolution = resolution_for_voxels(config.n_voxel_init, aabb)
        if min(resolution) < 2:
            raise NerfplexError(
                f"model.tensorf.n_voxel_init = {config.n_voxel_init} gives a "
                f"{resolution} grid on the scene box; raise it (at least 2 a side)."
            )
        if config.decomposition == "vm":
            self.field = VMField(aabb, resolution, config.density_ranks, config.color_ranks, config.color_feature_dim)
        else:
            self.field = CPField(
                aabb, resolution, config.cp_density_rank, config.cp_color_rank, config.color_feature_dim
            )
        self.shading = FeatureShadingMLP(
            config.color_feature_dim, config.view_frequencies, config.feature_frequencies, config.mlp_width
        )
        self.alpha_mask = AlphaGridMask()
        count = len(config.upsample_steps) + 1
        logs = torch.linspace(math.log(config.n_voxel_init), math.log(config.n_voxel_final), count, dtype=torch.float64)
        self.voxel_schedule = torch.round(torch.exp(logs)).long().tolist()[1:]
        self._step = 0
        self._filter_step_size = self.step_size()

    # ----------------------------------------------------------------- sampling and rendering
    def step_size(self) -> float:
        return float(self.field.voxel_size().mean()) * self.config.step_ratio

    def max_samples(self) -> int:
        """The authors' ``cal_n_samples``: ``int(|resolution| / step_ratio)``."""
        return int(math.sqrt(sum(n * n for n in self.field.resolution)) / self.config.step_ratio)

    def density(self, points: Tensor) -> Tensor:
        """σ ``[P]`` at world points ``[P, 3]``, 0 where the alpha mask is empty (only the rest is
        evaluated)."""
        sigma = points.new_zeros(points.shape[0])
        keep = self.alpha_mask.occupied(points)
        if bool(keep.any()):
            sigma[keep] = self.field.density(self.field.normalize(points[keep]), self.config.density_shift)
        return sigma

    def box_segment(self, rays: RayBundle) -> RayBundle:
        """Where the authors' ``sample_ray`` marches: from ``max(near, box entry)`` to the box exit,
        past the scene's ``far`` where the box reaches beyond it (their samples are bounded by the
        box only; on lego 5% of the rays cross box corners farther than ``far`` = 6)."""
        unbounded = RayBundle(rays.origins, rays.directions, rays.near, torch.full_like(rays.far, math.inf))
        return unbounded.clipped_to_aabb(self.field.aabb)  # the field's box may have shrunk

    def get_outputs(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        rays = self.box_segment(rays)
        step = self.step_size()
        span = float((rays.far - rays.near).max()) if len(rays) else 0.0
        count = max(1, min(self.max_samples(), int(math.ceil(span / step)) + 1))
        offsets = torch.arange(count, device=rays.origins.device, dtype=rays.origins.dtype)
        if self.training and self.config.perturb:
            offsets = offsets + torch.rand(
                (len(rays), 1), device=offsets.device, dtype=offsets.dtype, generator=generator
            )
        t = rays.near + step * offsets.expand(len(rays), count)  # [R, S]
        valid = (t <= rays.far) & (rays.far > rays.near)
        points = rays.origins[:, None] + rays.directions[:, None] * t[..., None]  # [R, S, 3]

        sigma = t.new_zeros(t.shape)
        sigma[valid] = self.density(points[valid])
        deltas = torch.full_like(t, step * self.config.distance_scale)
        weights = density_weights(sigma, deltas)

        rgb = t.new_zeros(t.shape + (3,))
        shade = weights > self.config.weight_threshold
        if bool(shade.any()):
            features = self.field.color_features(self.field.normalize(points[shade]))
            directions = rays.directions[:, None].expand_as(points)[shade]
            rgb[shade] = self.shading(features, directions)
        return composite(weights, rgb, t, background)

    def surface(self, aabb: Tensor) -> SurfaceField:
        """Alpha of one marching step, ``1 - exp(-σ · step)``, at level 0.005 over the field's (possibly
        shrunk) box: the authors' ``export_mesh`` (``getDenseAlpha`` + ``level=0.005``)."""
        step = self.step_size()

        def alpha(points: Tensor) -> Tensor:
            return 1.0 - torch.exp(-self.density(points) * step)

        def radiance(points: Tensor, directions: Tensor) -> Tensor:
            return self.shading(self.field.color_features(self.field.normalize(points)), directions)

        return SurfaceField(
            alpha,
            "density",
            0.005,
            self.field.aabb.detach().clone(),
            mean_over_axis_views(radiance),
            "alpha of one marching step (1 - exp(-sigma * step)), level 0.005",
        )

    # ----------------------------------------------------------------- losses and optimisation
    def l1_weight(self) -> float:
        first_mask = min(self.config.alpha_mask_steps, default=None)
        rest = first_mask is not None and self._step >= first_mask
        return self.config.l1_weight_rest if rest else self.config.l1_weight_initial

    def get_loss_dict(
        self, outputs: dict[str, Tensor], target_rgb: Tensor, batch: Optional[RayBatch] = None
    ) -> dict[str, Tensor]:
        losses = {"rgb_mse": torch.mean((outputs["rgb"] - target_rgb) ** 2)}
        if self.l1_weight() > 0:
            losses["density_l1"] = self.l1_weight() * self.field.density_l1()
        if self.config.tv_weight_density > 0:
            losses["tv_density"] = self.config.tv_weight_density * self.field.tv_density()
        if self.config.tv_weight_color > 0:
            losses["tv_color"] = self.config.tv_weight_color * self.field.tv_color()
        return losses

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "grid": self.field.grid_parameters(),
            "network": list(self.field.basis.parameters()) + list(self.shading.parameters()),
        }

    def get_learning_rates(self) -> dict[str, float]:
        return {"grid": self.config.lr_grid, "network": self.config.lr_network}

    def learning_rate_factor(self, step: int, decay: Callable[[int], float]) -> float:
        """With ``lr_upsample_reset`` (the authors' default) ``decay`` restarts at each upsampling."""
        if not self.config.lr_upsample_reset:
            return decay(step)
        return decay(step - max((s for s in self.config.upsample_steps if s <= step), default=0))

    def on_train_step(self, step: int) -> bool:
        """Alpha-mask update (with the box shrink at the first one), then upsampling, before ``step``.

        Returns True when the factors were replaced (upsampling or shrinking).
        """
        self._step = step
        changed = False
        if step in self.config.alpha_mask_steps:
            first = step == min(self.config.alpha_mask_steps)
            changed = self.update_alpha_mask(shrink=first and self.config.shrink_box)
            self._filter_step_size = self.step_size()  # the authors filter before upsampling
        if step in self.config.upsample_steps:
            voxels = self.voxel_schedule[sorted(self.config.upsample_steps).index(step)]
            self.field.upsample(resolution_for_voxels(voxels, self.field.aabb))
            changed = True
        return changed

    def training_ray_filter(self, step: int) -> Optional[Callable[[RayBundle], Tensor]]:
        """Step 0: keep rays whose line crosses the box; the second alpha-mask update: rays with an occupied
        sample among the first ``FILTER_SAMPLES`` marching steps from the box entry (the authors'
        ``filtering_rays``; :meth:`AlphaGridMask.rays_may_hit` first drops most misses cheaply)."""
        masks = sorted(self.config.alpha_mask_steps)
        if not self.config.filter_rays or step not in (0, *masks[1:2]):
            return None

        def keep(rays: RayBundle) -> Tensor:
            if step == 0:  # the authors' bbox_only test: the ray's line crosses the box
                line = RayBundle(
                    rays.origins,
                    rays.directions,
                    torch.full_like(rays.near, -math.inf),
                    torch.full_like(rays.far, math.inf),
                ).clipped_to_aabb(self.field.aabb)
                return (line.far > line.near)[:, 0]
            rays = self.box_segment(rays)  # the samples start at max(near, box entry), as theirs
            # ...and run on past the exit, where the lookup stays > 0 for one more mask cell.
            cell = self.alpha_mask.cell_size()
            margin = torch.stack([self.alpha_mask.aabb[0] - cell, self.alpha_mask.aabb[1] + cell])
            reach = RayBundle(
                rays.origins, rays.directions, rays.near, torch.full_like(rays.far, math.inf)
            ).clipped_to_aabb(margin)
            keep = self.alpha_mask.rays_may_hit(rays.origins, rays.directions, reach.near, reach.far)
            rows = keep.nonzero()[:, 0]
            keep[rows] = self.alpha_mask.samples_hit(
                rays.origins[rows], rays.directions[rows], rays.near[rows], self._filter_step_size, FILTER_SAMPLES
            )
            return keep

        return keep

    @torch.no_grad()
    def update_alpha_mask(self, shrink: bool = False) -> bool:
        """Recompute the mask at the grid's vertices (capped at 256³ voxels, as the authors do);
        with ``shrink``, crop the field to the occupied box. Returns whether the field was cropped."""
        resolution = self.field.resolution
        if math.prod(resolution) >= MAX_MASK_VOXELS:
            resolution = (
                list(self.alpha_mask.volume.shape[::-1])
                if self.alpha_mask.active
                else resolution_for_voxels(MAX_MASK_VOXELS - 1, self.field.aabb)
            )
        step = self.step_size()

        def alpha(points: Tensor) -> Tensor:
            return 1.0 - torch.exp(-self.density(points) * step)  # unscaled step: the authors' choice

        box = self.alpha_mask.update(alpha, self.field.aabb.clone(), resolution, self.config.alpha_mask_threshold)
        if not shrink or bool(torch.equal(box, self.field.aabb)):
            return False
        self.field.shrink(box)
        return True

    # ----------------------------------------------------------------- checkpoints
    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Resize factors and mask buffers to the checkpoint's shapes first (it may come from after an
        upsampling, a shrink or a mask update), then load as usual."""
        self.match_shapes(state_dict)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
