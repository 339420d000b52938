"""TensoRF's factorised radiance fields (Chen et al., ECCV 2022): VM and CP decompositions.

A feature grid over ``aabb`` is stored as sums of products of low-rank factors, each sampled by
(bi)linear interpolation with ``align_corners=True`` (factor entries sit on the grid vertices, the first
and last on the box faces). With ``PLANES = ((0, 1), (0, 2), (1, 2))`` and ``LINES = (2, 1, 0)``
(the axes of the authors' ``matMode`` / ``vecMode``):

* VM: ``f(x) = Σ_i Σ_r M_{i,r}(x_{PLANES[i]}) · v_{i,r}(x_{LINES[i]})`` for density (summed into one
  scalar) and, per component, the inputs of the appearance ``basis`` matrix (``[3·R_c] -> app_dim``).
* CP: ``f(x) = Σ_r v_{0,r}(x_2) · v_{1,r}(x_1) · v_{2,r}(x_0)``; the appearance basis maps ``R_c``
  components to ``app_dim``.

Shapes follow the authors' layout so that their hyper-parameters mean the same: plane ``i`` is
``[1, R, N_{b}, N_{a}]`` for axes ``(a, b) = PLANES[i]``, line ``i`` is ``[1, R, N_{LINES[i]}, 1]``.
Density is ``softplus(feature + density_shift)`` (see :func:`shifted_softplus`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PLANES = ((0, 1), (0, 2), (1, 2))
"""Axes ``(a, b)`` of plane ``i``: its width runs along ``a``, its height along ``b``."""
LINES = (2, 1, 0)
"""Axis of line ``i`` (the one its plane leaves out)."""


def shifted_softplus(features: Tensor, shift: float) -> Tensor:
    """Density ``softplus(features + shift)``; ``shift = -10`` makes empty space (features 0) ≈ 4.5e-5."""
    return F.softplus(features + shift)


def sample_plane(plane: Tensor, uv: Tensor) -> Tensor:
    """Bilinear lookup of ``plane [1, R, H, W]`` at ``uv [P, 2]`` in ``[-1, 1]`` (u along W): ``[R, P]``."""
    return F.grid_sample(plane, uv.view(1, -1, 1, 2), align_corners=True).view(plane.shape[1], -1)


def sample_line(line: Tensor, t: Tensor) -> Tensor:
    """Linear lookup of ``line [1, R, N, 1]`` at ``t [P]`` in ``[-1, 1]``: ``[R, P]``."""
    grid = torch.stack([torch.zeros_like(t), t], dim=-1)
    return sample_plane(line, grid)


def total_variation(x: Tensor) -> Tensor:
    """The authors' TV of ``x [B, C, H, W]``: ``2 (Σ Δ_h² / count_h + Σ Δ_w² / count_w) / B``."""
    batch, channels, height, width = x.shape
    count_h = max(channels * (height - 1) * width, 1)
    count_w = max(channels * height * (width - 1), 1)
    h_tv = (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).sum()
    w_tv = (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).sum()
    return 2.0 * (h_tv / count_h + w_tv / count_w) / batch


def resolution_for_voxels(num_voxels: int, aabb: Tensor) -> list[int]:
    """The authors' ``N_to_reso``: cubic voxels, ``num_voxels`` in total, sides truncated to integers."""
    size = (aabb[1] - aabb[0]).double()
    voxel = (size.prod() / num_voxels).pow(1.0 / 3.0)
    return (size / voxel).long().tolist()


def _line_params(ranks: Sequence[int], resolution: Sequence[int], scale: float) -> nn.ParameterList:
    return nn.ParameterList(nn.Parameter(scale * torch.randn(1, ranks[i], resolution[LINES[i]], 1)) for i in range(3))


def _plane_params(ranks: Sequence[int], resolution: Sequence[int], scale: float) -> nn.ParameterList:
    return nn.ParameterList(
        nn.Parameter(scale * torch.randn(1, ranks[i], resolution[b], resolution[a])) for i, (a, b) in enumerate(PLANES)
    )


class TensorialField(nn.Module):
    """What VM and CP share: the box, coordinate normalisation, upsampling and cropping of factors.

    Subclasses hold ``ParameterList`` factors named in ``FACTORS`` and implement the features.
    ``aabb`` is a buffer: cropping (:meth:`shrink`) changes it and checkpoints carry it.
    """

    FACTORS: tuple[str, ...] = ()

    def __init__(self, aabb: Tensor, app_rank: int, app_dim: int) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb.detach().clone().float())
        self.basis = nn.Linear(app_rank, app_dim, bias=False)

    @property
    def resolution(self) -> list[int]:
        """Grid vertices per axis ``[N_x, N_y, N_z]`` (read off the line factors)."""
        lines = getattr(self, self.FACTORS[-1])
        return [int(lines[LINES.index(axis)].shape[2]) for axis in range(3)]

    def voxel_size(self) -> Tensor:
        """Distance between grid vertices along each axis ``[3]``."""
        return (self.aabb[1] - self.aabb[0]) / (torch.tensor(self.resolution, device=self.aabb.device) - 1)

    def normalize(self, points: Tensor) -> Tensor:
        """World points ``[P, 3]`` to grid coordinates in ``[-1, 1]`` over the box."""
        return (points - self.aabb[0]) * (2.0 / (self.aabb[1] - self.aabb[0])) - 1.0

    def grid_parameters(self) -> list[nn.Parameter]:
        return [p for name in self.FACTORS for p in getattr(self, name)]

    def density(self, coords: Tensor, shift: float) -> Tensor:
        """Density ``[P]`` at normalised coordinates ``[P, 3]``."""
        return shifted_softplus(self.density_features(coords), shift)

    def density_features(self, coords: Tensor) -> Tensor:
        raise NotImplementedError

    def color_features(self, coords: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def upsample(self, resolution: Sequence[int]) -> None:
        """Resample every factor to ``resolution [N_x, N_y, N_z]`` vertices (bilinear for planes,
        linear for lines, ``align_corners=True``: the represented field is interpolated, not shifted)."""
        for name in self.FACTORS:
            factors = getattr(self, name)
            for i, old in enumerate(factors):
                if name.endswith("lines"):
                    size = (resolution[LINES[i]], 1)
                else:
                    size = (resolution[PLANES[i][1]], resolution[PLANES[i][0]])
                factors[i] = nn.Parameter(F.interpolate(old.data, size=size, mode="bilinear", align_corners=True))

    @torch.no_grad()
    def shrink(self, new_aabb: Tensor) -> None:
        """Crop the factors to the vertices spanning ``new_aabb [2, 3]`` (rounded outwards to whole
        vertices, as the authors' ``shrink``); the box becomes exactly those vertices' extent."""
        units = self.voxel_size()
        res = torch.tensor(self.resolution, device=units.device)
        lo = torch.round((new_aabb[0] - self.aabb[0]) / units).long().clamp(0)
        hi = torch.minimum(torch.round((new_aabb[1] - self.aabb[0]) / units).long() + 1, res)
        for name in self.FACTORS:
            factors = getattr(self, name)
            for i, old in enumerate(factors):
                if name.endswith("lines"):
                    axis = LINES[i]
                    data = old.data[:, :, lo[axis] : hi[axis]]
                else:
                    a, b = PLANES[i]
                    data = old.data[:, :, lo[b] : hi[b], lo[a] : hi[a]]
                factors[i] = nn.Parameter(data.contiguous())
        self.aabb.copy_(torch.stack([self.aabb[0] + lo * units, self.aabb[0] + (hi - 1) * units]))


class VMField(TensorialField):
    """Vector-matrix decomposition (``TensorVMSplit``): 3 planes x 3 lines each for density and colour."""

    FACTORS = ("density_planes", "app_planes", "density_lines", "app_lines")

    def __init__(
        self,
        aabb: Tensor,
        resolution: Sequence[int],
        density_ranks: Sequence[int],
        app_ranks: Sequence[int],
        app_dim: int,
        init_scale: float = 0.1,
    ) -> None:
        super().__init__(aabb, sum(app_ranks), app_dim)
        self.density_planes = _plane_params(density_ranks, resolution, init_scale)
        self.density_lines = _line_params(density_ranks, resolution, init_scale)
        self.app_planes = _plane_params(app_ranks, resolution, init_scale)
        self.app_lines = _line_params(app_ranks, resolution, init_scale)

    def _products(self, planes: nn.ParameterList, lines: nn.ParameterList, coords: Tensor) -> list[Tensor]:
        return [
            sample_plane(planes[i], coords[:, [a, b]]) * sample_line(lines[i], coords[:, LINES[i]])
            for i, (a, b) in enumerate(PLANES)
        ]

    def density_features(self, coords: Tensor) -> Tensor:
        """``Σ_i Σ_r M_{i,r} v_{i,r}``: ``[P]``."""
        return sum(p.sum(dim=0) for p in self._products(self.density_planes, self.density_lines, coords))

    def color_features(self, coords: Tensor) -> Tensor:
        """``basis([M_{i,r} v_{i,r}]_{i,r})``: ``[P, app_dim]``."""
        return self.basis(torch.cat(self._products(self.app_planes, self.app_lines, coords)).T)

    def density_l1(self) -> Tensor:
        """The authors' ``density_L1``: ``Σ_i mean|M_i| + mean|v_i|``."""
        return sum(p.abs().mean() + v.abs().mean() for p, v in zip(self.density_planes, self.density_lines))

    def tv_density(self) -> Tensor:
        return sum(total_variation(p) for p in self.density_planes) * 1e-2

    def tv_color(self) -> Tensor:
        return sum(total_variation(p) for p in self.app_planes) * 1e-2


class CPField(TensorialField):
    """CANDECOMP/PARAFAC decomposition (``TensorCP``): rank-one components of three lines each."""

    FACTORS = ("density_lines", "app_lines")

    def __init__(
        self,
        aabb: Tensor,
        resolution: Sequence[int],
        density_rank: int,
        app_rank: int,
        app_dim: int,
        init_scale: float = 0.2,
    ) -> None:
        super().__init__(aabb, app_rank, app_dim)
        self.density_lines = _line_params([density_rank] * 3, resolution, init_scale)
        self.app_lines = _line_params([app_rank] * 3, resolution, init_scale)

    @staticmethod
    def _product(lines: nn.ParameterList, coords: Tensor) -> Tensor:
        out = sample_line(lines[0], coords[:, LINES[0]])
        for i in (1, 2):
            out = out * sample_line(lines[i], coords[:, LINES[i]])
        return out  # [R, P]

    def density_features(self, coords: Tensor) -> Tensor:
        return self._product(self.density_lines, coords).sum(dim=0)

    def color_features(self, coords: Tensor) -> Tensor:
        return self.basis(self._product(self.app_lines, coords).T)

    def density_l1(self) -> Tensor:
        return sum(v.abs().mean() for v in self.density_lines)

    def tv_density(self) -> Tensor:
        return sum(total_variation(v) for v in self.density_lines) * 1e-3

    def tv_color(self) -> Tensor:
        return sum(total_variation(v) for v in self.app_lines) * 1e-3
