"""DVGO's voxel field (Sun et al., CVPR 2022): a density grid, a colour / feature grid, a shallow MLP.

One :class:`DVGOField` is one stage of the authors' ``DirectVoxGO`` (``lib/dvgo.py``):

* **Density** is a raw value ``d`` on a :class:`DenseGrid`, interpolated *before* activation
  ("post-activation"): for a ray step of ``interval`` base voxels,
  ``α = 1 - (1 + exp(d + shift))^(-interval) = 1 - exp(-softplus(d + shift) · interval)`` (the
  authors' ``Raw2Alpha``). The shift
  ``log(1 / (1 - alpha_init) - 1)`` makes ``α = alpha_init`` where ``d = 0`` for ``interval = 1``.
* **Colour**: the coarse stage stores RGB logits (``k0``, 3 channels, sigmoid); the fine stage stores
  ``rgbnet_dim`` features read by an MLP together with the view direction's positional encoding.
* **Resolution**: ``num_voxels`` cubic voxels over the box: ``voxel_size = (volume / num_voxels)^(1/3)``,
  ``resolution = floor(size / voxel_size)`` vertices per axis (float32, as the authors).
  Ray steps are ``stepsize · voxel_size`` long; in alpha they count as ``stepsize · voxel_size /
  voxel_size_base`` base voxels, ``voxel_size_base`` being the voxel size for ``num_voxels_base``.
* A :class:`MaskCache` marks known free space, which ray marching skips.

Everything a stage needs to resume (box, voxel count, shift, grids, mask) is a buffer or parameter.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfplex.fields.dense_grid import DenseGrid
from nerfplex.fields.tensorf_shading import tensorf_encoding
from nerfplex.render.mask_cache import MaskCache

if TYPE_CHECKING:
    from nerfplex.cameras import Cameras


def density_shift(alpha_init: float) -> float:
    """The authors' ``act_shift``: ``log(1 / (1 - alpha_init) - 1)``."""
    return math.log(1.0 / (1.0 - alpha_init) - 1.0)


def raw_to_optical_depth(raw: Tensor, shift: Tensor | float, interval: float) -> Tensor:
    """``softplus(raw + shift) · interval``, so that ``α = 1 - exp(-that)``."""
    return F.softplus(raw + shift) * interval


def raw_to_alpha(raw: Tensor, shift: Tensor | float, interval: float) -> Tensor:
    """The authors' ``Raw2Alpha``: ``1 - (1 + exp(raw + shift))^(-interval)``, computed stably."""
    return -torch.expm1(-raw_to_optical_depth(raw, shift, interval))


def voxel_size_for(aabb: Tensor, num_voxels: int) -> float:
    """Edge of ``num_voxels`` cubic voxels filling ``aabb`` (float32, as the authors)."""
    size = (aabb[1] - aabb[0]).float()
    return float((size.prod() / num_voxels).pow(1.0 / 3.0))


def resolution_for(aabb: Tensor, num_voxels: int) -> list[int]:
    """The authors' ``world_size``: ``floor(size / voxel_size)`` per axis (computed in float32)."""
    size = (aabb[1] - aabb[0]).float()
    voxel = (size.prod() / num_voxels).pow(1.0 / 3.0)
    return (size / voxel).long().tolist()


class DVGOColorMLP(nn.Module):
    """The fine stage's ``rgbnet``: ``[features, d, sin(d 2^k), cos(d 2^k)] -> width -> ... -> 3``.

    ``depth`` linear layers (ReLU between them), the last one's bias 0 (the authors' init). With
    ``direct`` (``rgbnet_direct``) the MLP sees all features and its output is the colour logit;
    otherwise the first 3 features are a diffuse logit, the MLP sees the rest and adds a residual.
    """

    def __init__(
        self,
        features: int,
        direct: bool,
        depth: int,
        width: int,
        view_frequencies: int,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        super().__init__()
        self.direct = direct
        self.view_frequencies = view_frequencies
        in_dim = (features if direct else features - 3) + 3 * (1 + 2 * view_frequencies)
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Linear(in_dim if i == 0 else width, width if i < depth - 1 else 3))
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(*layers)
        with torch.no_grad():
            for layer in self.mlp:
                if isinstance(layer, nn.Linear):  # PyTorch's default init, from ``generator``
                    bound = 1.0 / math.sqrt(layer.in_features)
                    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
            nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: Tensor, directions: Tensor) -> Tensor:
        """Colours ``[P, 3]`` from features ``[P, C]`` and unit view directions ``[P, 3]``."""
        view = torch.cat([directions, tensorf_encoding(directions, self.view_frequencies)], dim=-1)
        if self.direct:
            return torch.sigmoid(self.mlp(torch.cat([features, view], dim=-1)))
        logit = self.mlp(torch.cat([features[:, 3:], view], dim=-1))
        return torch.sigmoid(logit + features[:, :3])


class DVGOField(nn.Module):
    """One DVGO stage over ``aabb [2, 3]``: density grid, ``k0`` grid, optional ``rgbnet``, mask cache.

    ``rgbnet_dim = 0`` is the coarse stage (``k0`` = RGB logits); ``> 0`` the fine stage. ``num_voxels``
    is the current voxel count (progressive scaling changes it), ``num_voxels_base`` fixes the unit of
    the alpha interval.
    """

    def __init__(
        self,
        aabb: Tensor,
        num_voxels: int,
        num_voxels_base: int,
        alpha_init: float,
        rgbnet_dim: int = 0,
        rgbnet_direct: bool = True,
        rgbnet_depth: int = 3,
        rgbnet_width: int = 128,
        viewbase_pe: int = 4,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        super().__init__()
        aabb = aabb.detach().float()
        self.register_buffer("num_voxels", torch.tensor(int(num_voxels)))
        self.register_buffer("num_voxels_base", torch.tensor(int(num_voxels_base)))
        self.register_buffer("act_shift", torch.tensor(density_shift(alpha_init), device=aabb.device))
        resolution = resolution_for(aabb, num_voxels)
        self.density = DenseGrid(1, resolution, aabb)
        self.k0 = DenseGrid(rgbnet_dim if rgbnet_dim > 0 else 3, resolution, aabb)
        self.rgbnet = (
            DVGOColorMLP(rgbnet_dim, rgbnet_direct, rgbnet_depth, rgbnet_width, viewbase_pe, generator).to(aabb.device)
            if rgbnet_dim > 0
            else None
        )
        self.mask_cache = MaskCache.full(resolution, aabb)

    # ----------------------------------------------------------------- geometry
    @property
    def aabb(self) -> Tensor:
        return self.density.aabb

    @property
    def resolution(self) -> list[int]:
        return self.density.resolution

    def voxel_size(self) -> float:
        return voxel_size_for(self.aabb, int(self.num_voxels))

    def voxel_size_ratio(self) -> float:
        """``voxel_size / voxel_size_base``: the alpha interval of a one-voxel step."""
        return self.voxel_size() / voxel_size_for(self.aabb, int(self.num_voxels_base))

    # ----------------------------------------------------------------- queries
    def raw_density(self, points: Tensor) -> Tensor:
        """Interpolated raw density ``[P]`` at world ``points [P, 3]`` (not activated)."""
        return self.density(points)[:, 0]

    def alpha(self, raw: Tensor, interval: Optional[float] = None) -> Tensor:
        """Post-activation alpha of raw densities; ``interval`` defaults to one voxel (the authors')."""
        return raw_to_alpha(raw, self.act_shift, self.voxel_size_ratio() if interval is None else interval)

    def optical_depth(self, raw: Tensor, interval: float) -> Tensor:
        """``-log(1 - α)`` of raw densities for ``interval`` (exact, also where α rounds to 1)."""
        return raw_to_optical_depth(raw, self.act_shift, interval)

    def colors(self, points: Tensor, directions: Tensor) -> Tensor:
        """RGB ``[P, 3]`` at world ``points [P, 3]`` seen along unit ``directions [P, 3]``."""
        features = self.k0(points)
        if self.rgbnet is None:
            return torch.sigmoid(features)
        return self.rgbnet(features, directions)

    # ----------------------------------------------------------------- occupancy and scaling
    @torch.no_grad()
    def dilated_alpha(self, vertices: Tensor) -> Tensor:
        """One-voxel alpha at ``vertices [N_x, N_y, N_z, 3]``, max-pooled over 3x3x3 neighbourhoods."""
        shape = vertices.shape[:3]
        alpha = self.alpha(self.raw_density(vertices.reshape(-1, 3))).view(1, 1, *shape)
        return F.max_pool3d(alpha, kernel_size=3, stride=1, padding=1)[0, 0]

    @torch.no_grad()
    def update_occupancy(self, threshold: float) -> None:
        """The authors' ``update_occupancy_cache``: keep only mask vertices whose dilated alpha exceeds
        ``threshold`` (``fast_color_thres``); the mask only ever shrinks."""
        self.mask_cache.replace(self.mask_cache.mask & (self.dilated_alpha(self.mask_cache.vertices()) > threshold))

    @torch.no_grad()
    def scale_volume(self, num_voxels: int, threshold: float, max_mask_voxels: int = 256**3) -> None:
        """The authors' ``scale_volume_grid``: resample both grids to ``num_voxels``; then, unless that
        is more than ``max_mask_voxels``, rebuild the mask at the new vertices as old mask & dilated
        alpha ``> threshold``."""
        self.num_voxels.fill_(int(num_voxels))
        resolution = resolution_for(self.aabb, num_voxels)
        self.density.scale(resolution)
        self.k0.scale(resolution)
        if math.prod(resolution) <= max_mask_voxels:
            vertices = self.density.vertices()
            keep = self.mask_cache(vertices.reshape(-1, 3)).view(vertices.shape[:3])
            self.mask_cache.replace(keep & (self.dilated_alpha(vertices) > threshold))

    @torch.no_grad()
    def mask_out_near(self, camera_origins: Tensor, near: float, chunk: int = 100) -> None:
        """The authors' ``maskout_near_cam_vox``: raw density -100 at vertices within ``near`` of a
        camera centre ``[N, 3]`` (space between the cameras and their near planes)."""
        vertices = self.density.vertices().reshape(-1, 3)
        origins = camera_origins.to(vertices)
        nearest = torch.cat(
            [
                torch.stack(
                    [(part[:, None] - cams).pow(2).sum(-1).sqrt().amin(dim=-1) for cams in origins.split(chunk)]
                ).amin(dim=0)
                for part in vertices.split(1 << 15)
            ]
        )
        grid = self.density.grid.data
        grid[nearest.view(1, 1, *grid.shape[2:]) <= near] = -100.0

    def grid_parameters(self, name: str) -> list[nn.Parameter]:
        """Parameters of the authors' ``lrate_<name>`` group: ``density``, ``k0`` or ``rgbnet``."""
        module = getattr(self, name)
        return [] if module is None else list(module.parameters())


def mask_from_coarse(coarse: DVGOField, vertices: Tensor, threshold: float) -> Tensor:
    """The fine stage's first mask at ``vertices [N_x, N_y, N_z, 3]`` (the authors' ``MaskGrid`` from
    the coarse checkpoint): coarse raw density max-pooled over 3x3x3 vertices, one-voxel alpha
    ``>= threshold`` (``mask_cache_thres``), read at the nearest coarse vertex."""
    with torch.no_grad():
        raw = F.max_pool3d(coarse.density.grid, kernel_size=3, stride=1, padding=1)
        occupied = (coarse.alpha(raw) >= threshold)[0, 0]
        lookup = MaskCache(occupied, coarse.aabb)
        return lookup(vertices.reshape(-1, 3)).view(vertices.shape[:3])


def coarse_geometry_box(coarse: DVGOField, threshold: float) -> Optional[Tensor]:
    """The authors' ``compute_bbox_by_coarse_geo``: the box ``[2, 3]`` of the coarse vertices whose
    one-voxel alpha exceeds ``threshold`` (``bbox_thres``); None when there are none."""
    with torch.no_grad():
        alpha = coarse.alpha(coarse.density.grid[0, 0])
        active = coarse.density.vertices()[alpha > threshold]
        if active.shape[0] == 0:
            return None
        return torch.stack([active.amin(dim=0), active.amax(dim=0)])


@torch.no_grad()
def frustum_box(cameras: Cameras, near: float, far: float) -> Tensor:
    """The box ``[2, 3]`` of every training pixel's points at distances ``near`` and ``far`` along its
    unit ray (the authors' ``compute_bbox_by_cam_frustrm`` for bounded scenes)."""
    low = torch.full((3,), float("inf"))
    high = -low
    for index in range(len(cameras)):
        origins, directions = cameras.image_rays(index)
        directions = directions / directions.norm(dim=-1, keepdim=True)
        ends = torch.cat([origins + directions * near, origins + directions * far]).float().cpu()
        low, high = torch.minimum(low, ends.amin(dim=0)), torch.maximum(high, ends.amax(dim=0))
    return torch.stack([low, high])


def scaled_box(aabb: Tensor, scale: float) -> Tensor:
    """``aabb`` grown (or shrunk) about its centre by ``scale`` (the authors' ``world_bound_scale``)."""
    shift = (aabb[1] - aabb[0]) * (scale - 1.0) / 2.0
    return torch.stack([aabb[0] - shift, aabb[1] + shift])
