"""Normalised device coordinates (NDC) for forward-facing scenes, as the NeRF authors define them.

NeRF (Mildenhall et al. 2020, appendix C; ``ndc_rays`` in their code) warps the frustum of a reference
camera that looks along ``-z`` (the recentred LLFF world, OpenGL axes) into the cube ``[-1, 1]^3``: a
world point ``(x, y, z)`` maps to ``(-x / (z a_x), -y / (z a_y), 1 + 2 n / z)`` with ``a_x = W / (2 f)``,
``a_y = H / (2 f)`` (half the image size over the focal length) and near plane ``n``. Depth from the
near plane to infinity becomes ``z' in [-1, 1]``, linear in disparity. A ray ``o + t d`` is first moved
to the near plane (``o <- o + t_n d``, ``t_n = -(n + o_z) / d_z``), then::

    o' = (-o_x / (a_x o_z), -o_y / (a_y o_z), 1 + 2 n / o_z)
    d' = (-(d_x / d_z - o_x / o_z) / a_x, -(d_y / d_z - o_y / o_z) / a_y, -2 n / o_z)

and ``o' + t' d'`` for ``t' in [0, 1]`` covers the near plane to infinity. nerfplex keeps unit
directions, so :func:`ndc_rays` returns ``d' / |d'|``: the segment is ``[0, |d'|]``, exactly where the
ray is inside the slab ``-1 <= z' <= 1``; loaders give NDC scenes a box with that slab and ray clipping
to it (``data.ray_bounds: aabb``) then samples ``t'`` in ``[0, 1]`` uniformly, as NeRF does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NDCSpace", "ndc_rays", "ndc_points"]


@dataclass(frozen=True)
class NDCSpace:
    """The NDC warp of one reference frustum.

    Attributes:
        half_width: ``W / (2 f_x)``, tangent of half the horizontal field of view.
        half_height: ``H / (2 f_y)``.
        near: the world-space near plane ``z = -near`` that maps to ``z' = -1`` (NeRF: 1).
    """

    half_width: float
    half_height: float
    near: float = 1.0


def ndc_rays(origins: Tensor, directions: Tensor, space: NDCSpace) -> tuple[Tensor, Tensor, Tensor]:
    """NeRF's ``ndc_rays``: ``origins, directions [R, 3]`` (world, OpenGL-style ``-z`` forward) ->
    NDC origins ``[R, 3]`` on ``z' = -1``, unit NDC directions ``[R, 3]`` and the NDC segment length
    ``|d'| [R, 1]`` (the distance from ``z' = -1`` to ``z' = 1``)."""
    o, d = origins.double(), directions.double()
    t_near = -(space.near + o[:, 2]) / d[:, 2]
    o = o + t_near[:, None] * d
    ox, oy, oz = o.unbind(-1)
    dx, dy, dz = d.unbind(-1)
    ndc_o = torch.stack(
        [-ox / (space.half_width * oz), -oy / (space.half_height * oz), 1.0 + 2.0 * space.near / oz], dim=-1
    )
    ndc_d = torch.stack(
        [-(dx / dz - ox / oz) / space.half_width, -(dy / dz - oy / oz) / space.half_height, -2.0 * space.near / oz],
        dim=-1,
    )
    length = ndc_d.norm(dim=-1, keepdim=True)
    dtype = origins.dtype
    return ndc_o.to(dtype), (ndc_d / length).to(dtype), length.to(dtype)


def ndc_points(points: Tensor, space: NDCSpace) -> Tensor:
    """World points ``[P, 3]`` (``z < 0``) -> their NDC positions ``[P, 3]``."""
    x, y, z = points.unbind(-1)
    return torch.stack([-x / (space.half_width * z), -y / (space.half_height * z), 1.0 + 2.0 * space.near / z], dim=-1)
