"""Multiresolution hash-grid encoding (Müller et al., "Instant Neural Graphics Primitives", 2022).

A pure-torch implementation with tiny-cuda-nn's semantics, configured by the same keys
(``otype``, ``n_levels``, ``n_features_per_level``, ``log2_hashmap_size``, ``base_resolution``,
``per_level_scale``) and storing its table in the same flat layout, so that parameters move between
this module and ``tinycudann.Encoding`` unchanged (``nerfplex/fields/tcnn_backend.py`` picks one).

Per level ``l`` (tiny-cuda-nn's ``include/tiny-cuda-nn/encodings/grid.h``, read for these facts):

- ``scale_l = 2^(l · log2(per_level_scale)) · base_resolution - 1`` (float32 arithmetic), and the
  level has ``res_l = ceil(scale_l) + 1`` vertices a side: ``base_resolution`` counts vertices.
- The level owns ``T_l = min(next_multiple(res_l³, 8), 2^log2_hashmap_size)`` entries of
  ``n_features_per_level`` values, stored one level after the other (entry-major, features adjacent).
- A point ``x ∈ [0, 1]³`` sits at ``p = x · scale_l + 0.5`` in vertex units (the half-vertex offset
  staggers the levels); its cell is ``floor(p)`` and its trilinear weights come from ``p - floor(p)``.
- A vertex ``v`` is looked up densely, ``v_x + v_y · res_l + v_z · res_l²``, when ``res_l³ ≤ T_l``;
  otherwise through the spatial hash ``(v_x · 1) ⊕ (v_y · 2654435761) ⊕ (v_z · 805459861)`` in
  uint32 arithmetic. Either index is taken modulo ``T_l`` (so the outermost vertices, which the
  0.5 offset reaches, wrap around in dense levels, as in tiny-cuda-nn).
- Entries start uniform in ``[-1e-4, 1e-4]``.

The output concatenates the levels, level-major: ``[..., n_levels · n_features_per_level]``.
Inputs outside ``[0, 1]³`` are clamped (tiny-cuda-nn leaves them undefined).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nerfplex.config_checks import Check, positive
from nerfplex.errors import NerfplexError

PRIMES = (1, 2654435761, 805459861)
"""tiny-cuda-nn's spatial-hash factors for x, y, z (the first is 1, for memory coherence)."""
_UINT32 = 0xFFFFFFFF


@dataclass
class HashGridConfig:
    """A multiresolution hash grid, in tiny-cuda-nn's keys (``to_tcnn()`` gives its config dict).

    instant-ngp's NeRF: 16 levels x 2 features, 2^19 entries per level, 16 -> 2048 vertices a side
    (``per_level_scale`` = exp(ln(2048 / 16) / 15) ≈ 1.3819)."""

    n_levels: int = 16
    """Number of resolution levels L."""
    n_features_per_level: int = 2
    """Features per level F (tiny-cuda-nn supports 1, 2, 4, 8)."""
    log2_hashmap_size: int = 19
    """log2 of the entries per level T; coarse levels that fit are dense instead."""
    base_resolution: int = 16
    """Vertices a side of the coarsest level."""
    per_level_scale: float = 1.3819128799677
    """Growth factor b between levels (finest ≈ base_resolution · b^(L-1) vertices a side)."""

    def checks(self) -> list[Check]:
        """Value ranges (the ``checks()`` protocol, nerfplex/config_checks.py)."""
        return [
            *positive(self, "n_levels", "n_features_per_level", "base_resolution"),
            ("log2_hashmap_size", 3 <= self.log2_hashmap_size <= 30, "in [3, 30]"),
            ("per_level_scale", self.per_level_scale >= 1, "at least 1"),
        ]

    def to_tcnn(self) -> dict[str, Any]:
        """tiny-cuda-nn's encoding config for this grid."""
        return {
            "otype": "HashGrid",
            "n_levels": self.n_levels,
            "n_features_per_level": self.n_features_per_level,
            "log2_hashmap_size": self.log2_hashmap_size,
            "base_resolution": self.base_resolution,
            "per_level_scale": self.per_level_scale,
        }


def per_level_scale_for(base_resolution: int, finest_resolution: int, n_levels: int) -> float:
    """The growth factor that takes ``base_resolution`` to ``finest_resolution`` in ``n_levels``
    levels: ``exp(ln(finest / base) / (L - 1))`` (instant-ngp's formula)."""
    if n_levels < 2:
        return 1.0
    return math.exp(math.log(finest_resolution / base_resolution) / (n_levels - 1))


def level_scales(n_levels: int, base_resolution: int, per_level_scale: float) -> tuple[Tensor, Tensor]:
    """Per level: ``scale [L]`` (float32, vertex units per unit input) and vertices a side ``res [L]``
    (int64), computed in float32 as tiny-cuda-nn does."""
    log2_scale = np.log2(np.float32(per_level_scale)).astype(np.float32)
    levels = np.arange(n_levels, dtype=np.float32)
    scale = (np.exp2(levels * log2_scale).astype(np.float32) * np.float32(base_resolution) - np.float32(1.0)).astype(
        np.float32
    )
    resolution = np.ceil(scale).astype(np.int64) + 1
    return torch.from_numpy(scale), torch.from_numpy(resolution)


def level_sizes(resolution: Tensor, log2_hashmap_size: int, n_dims: int = 3) -> Tensor:
    """Entries per level ``[L]``: the dense vertex count rounded up to a multiple of 8, capped at
    ``2^log2_hashmap_size`` (and at 2^31 - 1, as tiny-cuda-nn caps ``uint32`` counts)."""
    dense = resolution.double() ** n_dims
    dense = torch.where(dense > (2**32 - 1) // 2, torch.full_like(dense, (2**32 - 1) // 2), dense)
    dense = dense.long()
    dense = (dense + 7) // 8 * 8
    return torch.clamp(dense, max=2**log2_hashmap_size)


def _config_from_mapping(config: Mapping[str, Any] | HashGridConfig) -> HashGridConfig:
    if isinstance(config, HashGridConfig):
        return config
    otype = str(config.get("otype", "HashGrid"))
    if otype.lower() not in ("hashgrid", "grid"):
        raise NerfplexError(f"hash grid encoding: otype {otype!r} is not supported (HashGrid or Grid).")
    if otype.lower() == "grid" and str(config.get("type", "Hash")).lower() != "hash":
        raise NerfplexError("hash grid encoding: only type 'Hash' grids are implemented in torch.")
    if str(config.get("interpolation", "Linear")).lower() != "linear":
        raise NerfplexError("hash grid encoding: only 'Linear' interpolation is implemented in torch.")
    return HashGridConfig(  # tiny-cuda-nn's defaults for absent keys
        n_levels=int(config.get("n_levels", 16)),
        n_features_per_level=int(config.get("n_features_per_level", 2)),
        log2_hashmap_size=int(config.get("log2_hashmap_size", 19)),
        base_resolution=int(config.get("base_resolution", 16)),
        per_level_scale=float(config.get("per_level_scale", 2.0)),
    )


class HashEncoding(nn.Module):
    """The hash-grid encoding in pure torch: ``forward(x [..., 3] in [0, 1]) -> [..., L · F]``.

    All levels and the 8 cell corners are evaluated at once (no Python loop over points or levels);
    memory is about ``P · L · 8`` int64 indices plus ``P · L · 8 · F`` gathered values.

    ``params [sum_l T_l · F]`` is one flat parameter in tiny-cuda-nn's layout (``level offset · F +
    entry · F + feature``), the attribute name tiny-cuda-nn's torch modules use, so state dicts are
    interchangeable.

    Example::

        >>> enc = HashEncoding({"otype": "HashGrid", "n_levels": 4, "n_features_per_level": 2,
        ...                     "log2_hashmap_size": 12, "base_resolution": 4, "per_level_scale": 2.0})
        >>> enc(torch.rand(10, 3)).shape
        torch.Size([10, 8])
    """

    def __init__(
        self, config: Mapping[str, Any] | HashGridConfig, n_input_dims: int = 3, seed: int | None = None
    ) -> None:
        super().__init__()
        cfg = _config_from_mapping(config)
        if n_input_dims != 3:
            raise NerfplexError(f"hash grid encoding: {n_input_dims}-D inputs are not supported (3-D only).")
        if cfg.n_levels < 1 or cfg.n_features_per_level < 1 or cfg.base_resolution < 1:
            raise NerfplexError(
                "hash grid encoding: n_levels, n_features_per_level and base_resolution must be positive."
            )
        if not 3 <= cfg.log2_hashmap_size <= 30:
            raise NerfplexError(f"hash grid encoding: log2_hashmap_size {cfg.log2_hashmap_size} must be in [3, 30].")
        if cfg.per_level_scale < 1.0:
            raise NerfplexError(f"hash grid encoding: per_level_scale {cfg.per_level_scale} must be >= 1.")
        self.config = cfg
        self.n_input_dims = n_input_dims
        self.n_output_dims = cfg.n_levels * cfg.n_features_per_level
        scale, resolution = level_scales(cfg.n_levels, cfg.base_resolution, cfg.per_level_scale)
        sizes = level_sizes(resolution, cfg.log2_hashmap_size)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(sizes, 0)])
        self.register_buffer("scale", scale, persistent=False)
        self.register_buffer("resolution", resolution, persistent=False)
        self.register_buffer("sizes", sizes, persistent=False)
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("hashed", resolution**3 > sizes, persistent=False)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        table = torch.rand(int(offsets[-1]) * cfg.n_features_per_level, generator=generator)
        self.params = nn.Parameter(table * 2e-4 - 1e-4)

    @property
    def table(self) -> Tensor:
        """The entries as ``[sum_l T_l, F]`` (a view of ``params``)."""
        return self.params.view(-1, self.config.n_features_per_level)

    def forward(self, x: Tensor) -> Tensor:
        """Encode ``x [..., 3]`` (in ``[0, 1]``) as ``[..., L · F]`` features (``params``' dtype)."""
        shape = x.shape[:-1]
        points = x.reshape(-1, 3).float().clamp(0.0, 1.0)
        pos = points[:, None, :] * self.scale[None, :, None] + 0.5  # [P, L, 3]
        cell = torch.floor(pos)
        frac = pos - cell  # differentiable in x: d frac / d x = scale
        cell = cell.long()
        # Per axis, the two candidate coordinates and weights: [P, L, 3, 2].
        coords = torch.stack([cell, cell + 1], dim=-1)
        weights = torch.stack([1.0 - frac, frac], dim=-1)
        index = torch.empty(coords.shape[:2] + (8,), dtype=torch.int32, device=x.device)
        dense, hashed = ~self.hashed, self.hashed
        if bool(dense.any()):
            index[:, dense] = self._dense_index(coords[:, dense], self.resolution[dense], self.sizes[dense])
        if bool(hashed.any()):
            index[:, hashed] = self._hashed_index(coords[:, hashed], self.config.log2_hashmap_size)
        index += self.offsets[:-1, None].to(torch.int32)
        corner_weights = _corners(weights[:, :, 0], weights[:, :, 1], weights[:, :, 2], torch.mul)  # [P, L, 8]
        features = self.table.index_select(0, index.reshape(-1).long())
        features = features.view(-1, 8, self.config.n_features_per_level)  # [P · L, 8, F]
        features = torch.bmm(corner_weights.to(features.dtype).view(-1, 1, 8), features)
        return features.reshape(*shape, self.n_output_dims)

    @staticmethod
    def _dense_index(coords: Tensor, resolution: Tensor, sizes: Tensor) -> Tensor:
        """Rows ``[P, D, 8]`` (int32, within each level) of dense levels from ``coords [P, D, 3, 2]``:
        ``(x + y · res + z · res²) mod T``."""
        res = resolution[None, :, None]
        terms = coords[:, :, 0], coords[:, :, 1] * res, coords[:, :, 2] * (res * res)
        rows = _corners(*terms, torch.add)
        return torch.remainder(rows, sizes[None, :, None]).to(torch.int32)

    @staticmethod
    def _hashed_index(coords: Tensor, log2_size: int) -> Tensor:
        """Rows ``[P, H, 8]`` (int32, within each level) of hashed levels from ``coords [P, H, 3, 2]``:
        the prime hash modulo ``T = 2^log2_size``. Masking each axis' product to the low bits first
        gives the same low bits of the XOR as tiny-cuda-nn's uint32 arithmetic."""
        mask = (1 << log2_size) - 1
        terms = [((coords[:, :, axis] * prime) & mask).to(torch.int32) for axis, prime in enumerate(PRIMES)]
        return _corners(*terms, torch.bitwise_xor)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"levels={c.n_levels}, features={c.n_features_per_level}, "
            f"log2_T={c.log2_hashmap_size}, base={c.base_resolution}, b={c.per_level_scale:.4f}, "
            f"resolutions={self.resolution.tolist()}"
        )


def _corners(x: Tensor, y: Tensor, z: Tensor, combine) -> Tensor:
    """Combine per-axis pairs ``[P, L, 2]`` (lower, upper vertex) into the 8 cell corners ``[P, L, 8]``,
    corner ``c`` taking the upper vertex along x if bit 0 of ``c`` is set, y for bit 1, z for bit 2
    (tiny-cuda-nn's order)."""
    xy = combine(x[:, :, None, :], y[:, :, :, None])  # [P, L, 2 (y), 2 (x)]
    return combine(xy[:, :, None], z[:, :, :, None, None]).flatten(2)
