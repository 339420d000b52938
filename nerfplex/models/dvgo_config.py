"""DVGO's settings: the authors' NeRF-synthetic defaults (``configs/default.py`` of sunset1995/DirectVoxGO).

Each field names the official option it mirrors. Step lists (``coarse_steps``, ``pg_scale``,
``occupancy_every``, ``tv_*``) assume the authors' 5000 coarse + 20000 fine steps; scale them together
(with ``optim.decay_steps``, the authors' ``lrate_decay`` x 1000 = 20000) for shorter runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Optional

from nerfplex.config_checks import Check, increasing_steps, non_negative, positive, voxel_bound

if TYPE_CHECKING:
    import torch

    from nerfplex.data.scene import SceneData
    from nerfplex.models.dvgo import DVGO


@dataclass
class DVGOConfig:
    """DVGO; defaults are the authors' NeRF-synthetic settings, whose schedules assume 5000 + 20000 steps."""

    coarse_steps: int = 5000
    """Steps of the coarse stage (``coarse_train.N_iters``); the fine stage starts at this step and
    runs to ``trainer.max_steps``. 0 skips the coarse stage (fine field on the scene box)."""
    coarse_num_voxels: int = 1024000
    """Coarse voxels over the coarse box (``coarse_model_and_render.num_voxels`` = ``num_voxels_base``)."""
    coarse_box: Literal["frustum", "scene"] = "frustum"
    """The coarse stage's box. ``frustum`` (the authors'): the box of every training pixel's points at
    the near and far distances, usually far larger than the object, so that coarse voxels are large
    and gather enough gradient to leave the near-empty start; ``scene``: the dataset's box."""
    fine_num_voxels: int = 160**3
    """Fine voxels after the last progressive scaling (``fine_model_and_render.num_voxels`` =
    ``num_voxels_base``)."""
    coarse_alpha_init: float = 1e-6
    """Alpha of one base voxel where the raw density is 0, at the start (coarse ``alpha_init``)."""
    fine_alpha_init: float = 1e-2
    """The same for the fine stage (fine ``alpha_init``)."""
    stepsize: float = 0.5
    """Ray-marching step in voxels (``stepsize``, both stages)."""
    coarse_fast_color_thres: float = 1e-7
    """Samples with alpha, then weight, at most this are skipped (coarse ``fast_color_thres``); it is
    also the occupancy threshold of the coarse mask cache."""
    fine_fast_color_thres: float = 1e-4
    """The same for the fine stage (fine ``fast_color_thres``)."""
    bbox_thres: float = 1e-3
    """The fine box holds the coarse vertices with one-voxel alpha above this (``bbox_thres``)."""
    mask_cache_thres: float = 1e-3
    """Fine-stage free space: dilated coarse one-voxel alpha below this (``mask_cache_thres``)."""
    world_bound_scale: float = 1.05
    """The fine box is the coarse-geometry box grown by this about its centre (fine
    ``world_bound_scale``; the coarse stage uses the scene box as it is)."""
    maskout_near_cam_vox: bool = True
    """Coarse stage: raw density -100 at vertices within ``near`` of a training camera
    (``maskout_near_cam_vox``)."""
    pervoxel_lr: bool = True
    """Coarse stage: scale the density rate per voxel by its training-view count / the maximum, and
    mark voxels seen by at most 2 views as free (``coarse_train.pervoxel_lr``; fine: False)."""
    pervoxel_lr_downrate: int = 1
    """Pixel stride (per image axis) of the view count (``pervoxel_lr_downrate``)."""
    rgbnet_dim: int = 12
    """Fine feature-grid channels (fine ``rgbnet_dim``; the coarse grid holds 3 RGB logits)."""
    rgbnet_direct: bool = True
    """The MLP sees all features and outputs the colour (``rgbnet_direct``); False: the first 3
    features are a diffuse colour logit to which the MLP adds a view-dependent residual."""
    rgbnet_depth: int = 3
    """Linear layers of the colour MLP (``rgbnet_depth``)."""
    rgbnet_width: int = 128
    """Hidden width of the colour MLP (``rgbnet_width``)."""
    viewbase_pe: int = 4
    """Frequencies of the view direction's positional encoding (``viewbase_pe``)."""
    pg_scale: tuple[int, ...] = (1000, 2000, 3000, 4000)
    """Fine-stage steps (counted from 1) at which the grids double their voxels, from
    ``fine_num_voxels / 2^len`` (``fine_train.pg_scale``; 20k-step schedule)."""
    decay_after_scale: float = 1.0
    """Subtracted from the density shift at each progressive scaling (``decay_after_scale``)."""
    occupancy_every: int = 1000
    """Shrink the mask cache to the dilated alpha above ``fast_color_thres`` at stage steps
    ``occupancy_every / 2`` mod ``occupancy_every`` (the authors hard-code 500, 1500, ...); 0: never."""
    in_maskcache: bool = True
    """Fine stage: train only on rays that cross the mask cache (``ray_sampler='in_maskcache'``)."""
    skip_zero_grad: bool = True
    """Fine stage: grid voxels with zero gradient are not updated (``skip_zero_grad_fields``
    density, k0)."""
    weight_main: float = 1.0
    """Weight of the photometric MSE (``weight_main``)."""
    coarse_weight_entropy_last: float = 0.01
    """Weight of the entropy of the background transmittance (coarse ``weight_entropy_last``)."""
    fine_weight_entropy_last: float = 0.001
    """The same for the fine stage."""
    coarse_weight_rgbper: float = 0.1
    """Weight of the per-sample colour loss (coarse ``weight_rgbper``)."""
    fine_weight_rgbper: float = 0.01
    """The same for the fine stage."""
    weight_distortion: float = 0.0
    """Weight of the Mip-NeRF 360 distortion loss (``weight_distortion``; 0 in the authors' defaults,
    0.01 in their unbounded configs)."""
    weight_tv_density: float = 0.0
    """Total-variation weight of the density grid (``weight_tv_density``)."""
    weight_tv_k0: float = 0.0
    """Total-variation weight of the colour / feature grid (``weight_tv_k0``)."""
    tv_after: int = 0
    """TV applies at stage steps strictly between ``tv_after`` and ``tv_before`` (``tv_after``)."""
    tv_before: int = 0
    """See ``tv_after`` (``tv_before``; the default 0 never applies TV)."""
    tv_every: int = 1
    """TV applies every this many steps (``tv_every``)."""
    lrate_density: float = 0.1
    """Initial learning rate of the density grid (``lrate_density``)."""
    lrate_k0: float = 0.1
    """Initial learning rate of the colour / feature grid (``lrate_k0``)."""
    lrate_rgbnet: float = 1e-3
    """Initial learning rate of the colour MLP (``lrate_rgbnet``)."""
    contracted: bool = False
    """DVGOv2's unbounded model (``dcvgo.py``): the scene box is the foreground cube, the space beyond
    is contracted into a shell ``bg_len`` thick around it, rays are sampled from their origin.
    Needs ``coarse_steps: 0`` (the authors' unbounded configs have no coarse stage) and
    ``data.ray_bounds: near_far``; no ``in_maskcache`` filtering (their ``ray_sampler='flatten'``)."""
    bg_len: float = 0.2
    """Contracted model: thickness of the background shell in foreground radii (``bg_len``)."""
    contracted_norm: Literal["inf", "l2"] = "inf"
    """Contracted model: the norm whose unit ball is left uncontracted (``contracted_norm``)."""

    def build(self, scene: SceneData, device: Optional[torch.device | str] = None) -> DVGO:
        """The model over ``scene.aabb``; the training cameras and near / far place the coarse box and
        count views per voxel."""
        from nerfplex.models.dvgo import DVGO  # the model imports this module (its config)

        return DVGO(self, scene.aabb, scene.train.cameras, scene.near, scene.far)

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        checks = [
            *positive(
                self, "stepsize", "world_bound_scale", "rgbnet_width", "pervoxel_lr_downrate", "tv_every", "bg_len"
            ),
            *non_negative(
                self,
                "coarse_steps",
                "coarse_fast_color_thres",
                "fine_fast_color_thres",
                "bbox_thres",
                "mask_cache_thres",
                "rgbnet_dim",
                "viewbase_pe",
                "occupancy_every",
                "weight_main",
                "coarse_weight_entropy_last",
                "fine_weight_entropy_last",
                "coarse_weight_rgbper",
                "fine_weight_rgbper",
                "weight_distortion",
                "weight_tv_density",
                "weight_tv_k0",
                "lrate_density",
                "lrate_k0",
                "lrate_rgbnet",
                "decay_after_scale",
                "tv_after",
                "tv_before",
            ),
            *[(key, 0 < getattr(self, key) < 1, "in (0, 1)") for key in ("coarse_alpha_init", "fine_alpha_init")],
            ("rgbnet_depth", self.rgbnet_depth >= 2, "an integer of at least 2"),
            (
                "rgbnet_dim",
                self.rgbnet_direct or self.rgbnet_dim == 0 or self.rgbnet_dim > 3,
                "0 or more than 3 when rgbnet_direct is false (3 channels are the diffuse colour)",
            ),
            increasing_steps(self, "pg_scale", first=1),
        ]
        channels = 1 + max(self.rgbnet_dim, 3)  # density + k0
        for key in ("coarse_num_voxels", "fine_num_voxels"):
            checks.append(voxel_bound(self, key, MAX_VOXELS, max(getattr(self, key), 0) * channels * 4 * 3))
        if self.contracted:
            checks.append(
                (
                    "coarse_steps",
                    self.coarse_steps == 0,
                    "0 with model.dvgo.contracted (the unbounded model has no coarse stage)",
                )
            )
        return checks


MAX_VOXELS = 512**3
"""The largest dense grid DVGO accepts (the authors use 160^3 for objects, 320^3 for unbounded scenes)."""
