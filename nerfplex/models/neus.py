"""NeuS (Wang et al., NeurIPS 2021): a signed distance field rendered with an unbiased opacity.

Follows the authors' code (Totoro97/NeuS: ``models/fields.py``, ``models/renderer.py``,
``exp_runner.py``); the defaults are ``confs/womask.conf`` (with the NeRF++ background model, no mask
loss). For ``confs/wmask.conf`` set ``n_outside: 0``, ``mask_weight: 0.1``, ``anneal_end: 0``.

**Scene frame.** NeuS assumes the object inside the unit sphere and the cameras outside it. The model
maps world points into that frame with the scene box: ``x_unit = (x - c) / r``, with ``c`` the centre
of ``scene_aabb`` and ``r`` the dataset's bounding-sphere radius where its format defines one (DTU:
1, as the authors) and otherwise the box's half-diagonal (so the whole box lies inside the unit sphere). Ray
directions are unit vectors in both frames, so a distance ``t`` along a ray is ``t · r`` in world
units. The SDF network works in unit-frame units; :meth:`NeuS.sdf` returns world-unit distances
``r · f(x_unit)``; gradients and normals are the same in both frames. Reported depths are metric.

**Hash-grid SDF.** ``sdf_encoding: hash_grid`` swaps the SDF network for instant-NSR's
(:class:`~nerfplex.fields.hash_sdf_network.HashSDFNetwork`: hash grid + raw position into a small MLP,
same outputs and sphere initialisation); everything below applies unchanged. Its hash table is a
second parameter group at ``hash_grid.learning_rate`` under the same schedule.

**Sampling.** The data's near / far bounds are ignored: like the authors, every ray gets
``near, far = t_mid ∓ 1`` around its point closest to the sphere's centre
(:func:`~nerfplex.render.neus_sampling.near_far_from_sphere`), ``n_samples`` samples there (one jitter
per ray while training), ``n_importance`` more from :func:`hierarchical_up_sample`, and with the
background model ``n_outside`` samples beyond ``far`` (:func:`outside_distances`). Samples are
sections ``[z_i, z_{i+1}]`` evaluated at their midpoints (the last one ``2 / n_samples`` long).

**Opacity.** ``α_i`` from :func:`neus_alpha` with ``inv_s = exp(10 · variance)`` and the cosine
annealed by ``cos_anneal_ratio = min(1, step / anneal_end)``; samples outside the unit sphere take the
background model's opacity and colour instead (when there is one). The colour seen through the
remaining transmittance is the trainer's background colour (white with ``use_white_bkgd``).

**Losses** (the authors' weighting): ``color_l1`` = Σ |rgb - target| over the channels of the masked
rays / (number of masked rays) (L1, not MSE); ``eikonal`` = ``igr_weight · Σ (|∇f| - 1)² / count``
over the samples within radius 1.2 of the unit frame (the authors' ``relax_inside_sphere``);
``mask_bce`` = ``mask_weight · BCE(clip(opacity, 1e-3, 1 - 1e-3), mask)`` when ``mask_weight > 0``.

**Learning rate.** One Adam group at ``learning_rate`` scaled by :func:`neus_learning_rate_factor`
(linear warm-up, then cosine down to ``learning_rate_alpha``); the model exposes it as
:meth:`NeuS.learning_rate_factor` for the trainer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfplex.cameras import RayBundle
from nerfplex.config_checks import Check, non_negative, positive, run_checks, within
from nerfplex.errors import NerfplexError
from nerfplex.fields.chunking import CPU_CHUNK_POINTS, apply_in_chunks, chunk_size_for
from nerfplex.fields.hash_sdf_network import HashSDFConfig, HashSDFNetwork
from nerfplex.fields.nerfpp_background import BackgroundNeRF, BackgroundNeRFConfig, outside_distances
from nerfplex.fields.neus_color import RenderingNetwork, RenderingNetworkConfig, SingleVariance
from nerfplex.fields.sdf_network import SDFNetwork, SDFNetworkConfig
from nerfplex.models.base import Model
from nerfplex.models.surface import SurfaceField
from nerfplex.render.neus_sampling import (
    alpha_weights,
    hierarchical_up_sample,
    initial_distances,
    near_far_from_sphere,
    neus_alpha,
)

if TYPE_CHECKING:
    from nerfplex.data.ray_sampler import RayBatch
    from nerfplex.data.scene import SceneData

EIKONAL_RADIUS = 1.2
"""Samples within this radius of the unit frame enter the eikonal loss (``relax_inside_sphere``)."""


def neus_learning_rate_factor(step: int, warm_up_end: int, end_iter: int, alpha: float) -> float:
    """The authors' ``update_learning_rate`` factor at ``step`` (a pure function of the step).

    ``step / warm_up_end`` during the warm-up (0 at step 0), then
    ``alpha + (1 - alpha) · (1 + cos(π p)) / 2`` with ``p = (step - warm_up_end) / (end_iter -
    warm_up_end)``: 1 at the end of the warm-up, ``alpha`` at ``end_iter``. Beyond ``end_iter`` (where
    the authors stop) ``p`` is held at 1 so the rate stays at ``alpha`` instead of rising again.
    """
    if step < warm_up_end:
        return step / warm_up_end
    progress = min(1.0, (step - warm_up_end) / max(end_iter - warm_up_end, 1))
    return (math.cos(math.pi * progress) + 1.0) * 0.5 * (1.0 - alpha) + alpha


@dataclass
class NeuSConfig:
    """NeuS; defaults are the authors' ``confs/womask.conf`` (300k steps of 512 rays)."""

    sdf_network: SDFNetworkConfig = field(default_factory=SDFNetworkConfig)
    """The SDF MLP (``model.sdf_network``: 8 x 256, skip at 4, 6 frequencies, sphere init r = 0.5)."""
    sdf_encoding: Literal["frequency", "hash_grid"] = "frequency"
    """How the SDF network encodes positions: ``frequency`` (the authors' positional encoding into
    the ``sdf_network`` MLP) or ``hash_grid`` (instant-NSR style: the ``hash_grid`` section's hash grid
    plus the raw position into a small MLP; :mod:`nerfplex.fields.hash_sdf_network`)."""
    hash_grid: HashSDFConfig = field(default_factory=HashSDFConfig)
    """The hash-grid SDF network (instant-nsr-pl's NeuS defaults); used only with
    ``sdf_encoding: hash_grid``, which also takes ``d_out``, ``bias``, ``scale``, ``inside_outside``,
    ``weight_norm`` and ``geometric_init`` from ``sdf_network``."""
    rendering_network: RenderingNetworkConfig = field(default_factory=RenderingNetworkConfig)
    """The colour MLP (``model.rendering_network``: 4 x 256, ``idr`` inputs, 4 view frequencies)."""
    variance_init: float = 0.3
    """Initial value of the sharpness parameter, ``inv_s = exp(10 · variance)``
    (``model.variance_network.init_val``)."""
    background: BackgroundNeRFConfig = field(default_factory=BackgroundNeRFConfig)
    """The NeRF++ background MLP (``model.nerf``); used only when ``n_outside > 0``."""
    n_samples: int = 64
    """Evenly spaced samples per ray in the unit sphere's segment (``neus_renderer.n_samples``)."""
    n_importance: int = 64
    """Up-sampled samples per ray, over all rounds (``neus_renderer.n_importance``); 0 disables."""
    up_sample_steps: int = 4
    """Up-sampling rounds; round i draws ``n_importance / up_sample_steps`` samples with sharpness
    ``64 · 2^i`` (``neus_renderer.up_sample_steps``; 1 is plain coarse-to-fine)."""
    n_outside: int = 32
    """Background samples per ray beyond the sphere (``neus_renderer.n_outside``): 32 in womask;
    0 (wmask) drops the background model."""
    perturb: float = 1.0
    """Jitter samples while training when > 0 (``neus_renderer.perturb``)."""
    learning_rate: float = 5e-4
    """Peak learning rate of all parameters (``train.learning_rate``)."""
    learning_rate_alpha: float = 0.05
    """Final learning rate as a fraction of the peak (``train.learning_rate_alpha``)."""
    end_iter: int = 300000
    """Step at which the cosine decay reaches ``learning_rate_alpha`` (``train.end_iter``); the
    authors train for exactly this many steps."""
    warm_up_end: int = 5000
    """Steps of linear learning-rate warm-up from 0 (``train.warm_up_end``)."""
    anneal_end: int = 50000
    """Steps over which ``cos_anneal_ratio`` grows from 0 to 1 (``train.anneal_end``; 0 in wmask:
    the ratio is 1 from the start)."""
    batch_size: int = 512
    """Rays per step in the authors' runs (``train.batch_size``). The trainer's ``batch_size``
    governs; set it to this to reproduce them."""
    igr_weight: float = 0.1
    """Weight of the eikonal loss (``train.igr_weight``)."""
    mask_weight: float = 0.0
    """Weight of the mask BCE (``train.mask_weight``: 0 in womask, 0.1 in wmask). When > 0 the colour
    loss also only counts rays whose target alpha exceeds 0.5, as the authors do."""
    use_white_bkgd: bool = False
    """Composite white behind the scene (``train.use_white_bkgd``). False composites the trainer's
    background colour (the authors' False means black: use ``trainer.train_background: black``)."""
    cpu_chunk_points: int = CPU_CHUNK_POINTS
    """On the CPU, run the networks over this many points at a time (0: all at once); same result,
    less memory traffic (see :mod:`nerfplex.fields.chunking`)."""

    def build(self, scene: SceneData, device: Optional[torch.device | str] = None) -> NeuS:
        """The model in ``scene``'s unit sphere (``scene.sphere_radius`` or the box's circumscribed one)."""
        if self.mask_weight > 0 and scene.train.alpha is None:
            raise NerfplexError(
                "model.neus.mask_weight > 0 needs training images with alpha (masks); "
                "this dataset has none: set model.neus.mask_weight to 0."
            )
        return NeuS(self, scene.aabb, scene.sphere_radius)

    def checks(self) -> list[Check]:
        """Value ranges and network sizes that fit together (the ``checks()`` protocol,
        nerfplex/config_checks.py)."""
        sdf = self.sdf_network
        encoded = sdf.d_in * (1 + 2 * sdf.multires) if sdf.multires > 0 else sdf.d_in
        skips = any(0 < skip <= sdf.n_layers for skip in sdf.skip_in)
        return [
            *positive(self, "learning_rate", "end_iter", "variance_init", "batch_size"),
            *non_negative(
                self,
                "n_importance",
                "n_outside",
                "up_sample_steps",
                "perturb",
                "warm_up_end",
                "anneal_end",
                "igr_weight",
                "mask_weight",
                "cpu_chunk_points",
            ),
            ("n_samples", self.n_samples >= 2, "at least 2"),
            within(self, "learning_rate_alpha", 0.0, 1.0),
            ("end_iter", self.end_iter > self.warm_up_end, f"larger than warm_up_end = {self.warm_up_end}"),
            (
                "n_importance",
                self.n_importance == 0 or (self.up_sample_steps > 0 and self.n_importance % self.up_sample_steps == 0),
                f"0 or a multiple of up_sample_steps = {self.up_sample_steps}",
            ),
            (
                "rendering_network.d_feature",
                self.rendering_network.d_feature == sdf.d_out - 1,
                f"sdf_network.d_out - 1 = {sdf.d_out - 1}",
            ),
            ("sdf_network.d_in", sdf.d_in == 3, "3 (points)"),
            (
                "sdf_network.d_hidden",
                self.sdf_encoding == "hash_grid" or not skips or sdf.d_hidden > encoded,
                f"larger than the encoded input size {encoded} when skip_in is used",
            ),
            (
                "background.d_in",
                self.n_outside == 0 or self.background.d_in == 4,
                "4 when n_outside > 0 (inverted-sphere inputs)",
            ),
            ("background.multires", self.n_outside == 0 or self.background.multires > 0, "positive when n_outside > 0"),
        ]


def check_neus_config(config: NeuSConfig) -> None:
    """Raise :class:`NerfplexError` for settings the renderer cannot run (:meth:`NeuSConfig.checks`)."""
    run_checks(config, "model.neus.")


class NeuS(Model):
    """SDF + colour networks rendered with NeuS's unbiased opacity (see the module docstring).

    Outputs of :meth:`get_outputs` (per ray): ``rgb [R, 3]``, ``depth [R, 1]`` (metric),
    ``opacity [R, 1]`` (sum of all weights, background samples included: the authors' ``weight_sum``),
    ``normals [R, 3]`` (weight-averaged SDF gradients inside the sphere, unnormalised, as the authors'
    validation images), ``gradients [R, S, 3]``, ``weights [R, S (+ n_outside)]``, ``s_val [R, 1]``
    (``1 / inv_s``), and ``eikonal_sum`` / ``eikonal_count [R, 1]`` (the eikonal residual summed over
    and the count of the samples within radius 1.2; the loss is their ratio over the batch).
    """

    def __init__(self, config: NeuSConfig, scene_aabb: Tensor, sphere_radius: Optional[float] = None) -> None:
        super().__init__()
        check_neus_config(config)
        self.config = config
        box = torch.as_tensor(scene_aabb, dtype=torch.get_default_dtype()).reshape(2, 3)
        radius = 0.5 * (box[1] - box[0]).norm() if sphere_radius is None else torch.tensor(float(sphere_radius))
        if not float(radius) > 0:
            raise NerfplexError(
                f"NeuS needs a positive bounding-sphere radius, got {float(radius)} (scene box {box.tolist()})."
            )
        self.register_buffer("center", 0.5 * (box[0] + box[1]))
        self.register_buffer("radius", radius)
        self.register_buffer("train_step", torch.zeros((), dtype=torch.long))
        self.sdf_network = (
            HashSDFNetwork(config.sdf_network, config.hash_grid)
            if config.sdf_encoding == "hash_grid"
            else SDFNetwork(config.sdf_network)
        )
        self.color_network = RenderingNetwork(config.rendering_network)
        self.variance = SingleVariance(config.variance_init)
        self.background = BackgroundNeRF(config.background) if config.n_outside > 0 else None

    # ----------------------------------------------------------------- frames and schedules
    def to_unit(self, points: Tensor) -> Tensor:
        """World points ``[..., 3]`` in the unit-sphere frame."""
        return (points - self.center) / self.radius

    def cos_anneal_ratio(self) -> float:
        """``min(1, step / anneal_end)`` (1 when ``anneal_end`` is 0), the authors' schedule."""
        if self.config.anneal_end == 0:
            return 1.0
        return min(1.0, int(self.train_step) / self.config.anneal_end)

    def learning_rate_factor(self, step: int, decay: Callable[[int], float]) -> float:
        """The authors' warm-up + cosine factor (:func:`neus_learning_rate_factor`) at ``step``
        (``decay`` unused)."""
        cfg = self.config
        return neus_learning_rate_factor(step, cfg.warm_up_end, cfg.end_iter, cfg.learning_rate_alpha)

    def on_train_step(self, step: int) -> bool:
        """Remember the step (a checkpointed buffer) for the cosine annealing; nothing is rebuilt."""
        self.train_step.fill_(step)
        return False

    # ----------------------------------------------------------------- network evaluation
    def _chunk(self, points: Tensor) -> int:
        return chunk_size_for(points, self.config.cpu_chunk_points)

    def _sdf_unit(self, points: Tensor) -> Tensor:
        """SDF ``[P]`` at unit-frame points ``[P, 3]``."""
        (sdf,) = apply_in_chunks(lambda p: (self.sdf_network.sdf(p)[:, 0],), points, chunk_size=self._chunk(points))
        return sdf

    def _geometry(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """SDF-network outputs ``[P, d_out]`` and SDF gradients ``[P, 3]`` at unit-frame points."""
        return apply_in_chunks(self.sdf_network.forward_with_gradient, points, chunk_size=self._chunk(points))

    def _colors(self, points: Tensor, normals: Tensor, dirs: Tensor, features: Tensor) -> Tensor:
        (rgb,) = apply_in_chunks(
            lambda *x: (self.color_network(*x),), points, normals, dirs, features, chunk_size=self._chunk(points)
        )
        return rgb

    # ----------------------------------------------------------------- rendering
    def render(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        """All rays, whatever their near / far: NeuS takes its bounds from the unit sphere."""
        return self.get_outputs(rays, background, generator)

    def get_outputs(
        self, rays: RayBundle, background: Tensor, generator: Optional[torch.Generator] = None
    ) -> dict[str, Tensor]:
        cfg = self.config
        perturb = self.training and cfg.perturb > 0
        origins = self.to_unit(rays.origins)
        directions = rays.directions
        near, far = near_far_from_sphere(origins, directions)
        z_vals = initial_distances(near, far, cfg.n_samples, perturb=perturb, generator=generator)
        z_outside = None
        if self.background is not None:
            z_outside = outside_distances(far, cfg.n_outside, cfg.n_samples, perturb=perturb, generator=generator)
        if cfg.n_importance > 0:
            z_vals = hierarchical_up_sample(
                origins, directions, z_vals, self._sdf_unit, cfg.n_importance, cfg.up_sample_steps
            )

        # Sections [z_i, z_{i+1}] evaluated at their midpoints; the last one is 2 / n_samples long.
        sample_dist = 2.0 / cfg.n_samples
        num_rays, num_samples = z_vals.shape
        dists = torch.cat([z_vals[:, 1:] - z_vals[:, :-1], z_vals.new_full((num_rays, 1), sample_dist)], dim=-1)
        mid = z_vals + 0.5 * dists
        points = origins[:, None] + directions[:, None] * mid[..., None]  # [R, S, 3]
        dirs = directions[:, None].expand_as(points).reshape(-1, 3)
        flat = points.reshape(-1, 3)
        out, gradients = self._geometry(flat)
        sdf, features = out[:, 0], out[:, 1:]
        colors = self._colors(flat, gradients, dirs, features).reshape(num_rays, num_samples, 3)
        inv_s = self.variance.inv_s()
        true_cos = (dirs * gradients).sum(dim=-1)
        alpha, _ = neus_alpha(
            sdf.reshape(num_rays, num_samples),
            true_cos.reshape(num_rays, num_samples),
            dists,
            inv_s,
            self.cos_anneal_ratio(),
        )

        radius = points.detach().norm(dim=-1)
        inside = (radius < 1.0).to(alpha.dtype)
        relax_inside = (radius < EIKONAL_RADIUS).to(alpha.dtype)
        distances = mid
        if self.background is not None:
            feed = torch.sort(torch.cat([z_vals, z_outside], dim=-1), dim=-1).values
            bg_alpha, bg_colors, bg_mid = self.background.sample_alpha_color(origins, directions, feed, sample_dist)
            alpha = torch.cat(
                [alpha * inside + bg_alpha[:, :num_samples] * (1.0 - inside), bg_alpha[:, num_samples:]], dim=-1
            )
            colors = torch.cat(
                [
                    colors * inside[..., None] + bg_colors[:, :num_samples] * (1.0 - inside[..., None]),
                    bg_colors[:, num_samples:],
                ],
                dim=1,
            )
            distances = torch.cat([mid, bg_mid[:, num_samples:]], dim=-1)

        weights = alpha_weights(alpha)
        opacity = weights.sum(dim=-1, keepdim=True)
        if cfg.use_white_bkgd:
            background = torch.ones_like(background)
        rgb = torch.einsum("rs,rsc->rc", weights, colors) + (1.0 - opacity) * background
        depth = (weights * distances).sum(dim=-1, keepdim=True) / opacity.clamp_min(1e-10) * self.radius
        gradients = gradients.reshape(num_rays, num_samples, 3)
        normals = (gradients * (weights[:, :num_samples] * inside)[..., None]).sum(dim=1)
        residual = (gradients.norm(dim=-1) - 1.0) ** 2
        return {
            "rgb": rgb,
            "depth": depth,
            "opacity": opacity,
            "normals": normals,
            "gradients": gradients,
            "weights": weights,
            "s_val": (1.0 / inv_s).expand(num_rays, 1),
            "eikonal_sum": (relax_inside * residual).sum(dim=-1, keepdim=True),
            "eikonal_count": relax_inside.sum(dim=-1, keepdim=True),
        }

    # ----------------------------------------------------------------- losses and optimisation
    def get_loss_dict(
        self, outputs: dict[str, Tensor], target_rgb: Tensor, batch: Optional[RayBatch] = None
    ) -> dict[str, Tensor]:
        """``color_l1``, ``eikonal`` and (with ``mask_weight > 0``) ``mask_bce``, weighted.

        The mask loss reads ``batch.alpha [R, 1]`` (the images' coverage).
        """
        cfg = self.config
        rgb = outputs["rgb"]
        if cfg.mask_weight > 0:
            if batch is None or batch.alpha is None:
                raise NerfplexError(
                    "model.neus.mask_weight > 0 needs the images' alpha (a dataset with "
                    "masks); set mask_weight to 0 for this scene."
                )
            mask = (batch.alpha > 0.5).to(rgb.dtype)
        else:
            mask = torch.ones_like(rgb[:, :1])
        mask_sum = mask.sum() + 1e-5
        losses = {"color_l1": ((rgb - target_rgb).abs() * mask).sum() / mask_sum}
        eikonal = outputs["eikonal_sum"].sum() / (outputs["eikonal_count"].sum() + 1e-5)
        losses["eikonal"] = cfg.igr_weight * eikonal
        if cfg.mask_weight > 0:
            opacity = outputs["opacity"].clip(1e-3, 1.0 - 1e-3)
            losses["mask_bce"] = cfg.mask_weight * F.binary_cross_entropy(opacity, mask)
        return losses

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        """One group, as the authors' single Adam over all four networks; with the hash-grid SDF the
        hash table is a second group, ``sdf_grid``, at ``hash_grid.learning_rate``."""
        if self.config.sdf_encoding != "hash_grid":
            return {"fields": list(self.parameters())}
        table = self.sdf_network.encoding.params
        return {"fields": [p for p in self.parameters() if p is not table], "sdf_grid": [table]}

    def get_learning_rates(self) -> dict[str, float]:
        rates = {"fields": self.config.learning_rate}
        if self.config.sdf_encoding == "hash_grid":
            rates["sdf_grid"] = self.config.hash_grid.learning_rate
        return rates

    # ----------------------------------------------------------------- geometry queries
    def sdf(self, points: Tensor) -> Tensor:
        """Signed distance ``[P]`` in world units at world points ``[P, 3]`` (negative inside):
        ``r · f((x - c) / r)`` with the scene box's centre ``c`` and half-diagonal ``r``. Meaningful
        inside the unit sphere of the model, i.e. within ``r`` of ``c``; mesh the level 0."""
        return self.radius * self._sdf_unit(self.to_unit(points))

    def surface(self, aabb: Tensor) -> SurfaceField:
        """The level 0 of :meth:`sdf` (world units) in ``aabb``, with :meth:`color` (head-on views)
        as vertex colours. The authors mesh ``-sdf`` at level 0 likewise (``extract_geometry``)."""
        return SurfaceField(
            self.sdf,
            "sdf",
            0.0,
            aabb,
            self.color,
            "NeuS signed distance in world units (unit-sphere SDF x half-diagonal), level 0",
        )

    def color(self, points: Tensor, view_dirs: Optional[Tensor] = None) -> Tensor:
        """Colour ``[P, 3]`` at world points ``[P, 3]`` seen along ``view_dirs`` (unit, world), by
        default head-on (against the SDF gradient): e.g. vertex colours of an extracted mesh."""
        unit = self.to_unit(points)
        out, gradients = self._geometry(unit)
        if view_dirs is None:
            view_dirs = -F.normalize(gradients, dim=-1)
        return self._colors(unit, gradients, view_dirs, out[:, 1:])
