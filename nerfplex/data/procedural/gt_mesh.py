"""Ground-truth meshes of analytic scenes: marching cubes on the zero level of an SDF.

The grid evaluation and marching cubes live in :mod:`nerfplex.geometry.mesh_extraction`; this module
fixes the ground-truth settings (one voxel of padding, one torch thread by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np
from torch import Tensor

from nerfplex.geometry.mesh_extraction import extract_mesh, field_grid


def sdf_grid(
    sdf_fn: Callable[[Tensor], Tensor],
    lower: np.ndarray,
    spacing: float,
    shape: tuple[int, int, int],
    chunk_points: int = 1 << 18,
) -> np.ndarray:
    """SDF values ``[X, Y, Z]`` (float32) at ``lower + spacing * (i, j, k)``, evaluated in slabs of
    constant ``i`` holding at most about ``chunk_points`` points."""
    return field_grid(sdf_fn, lower, spacing, shape, chunk_points)


def extract_sdf_mesh(
    sdf_fn: Callable[[Tensor], Tensor],
    aabb,
    resolution: int,
    chunk_points: int = 1 << 18,
    num_threads: Optional[int] = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle mesh of the zero level set of ``sdf_fn`` (negative inside solids) within ``aabb``.

    The grid is isotropic: ``resolution`` samples span the longest side of ``aabb``, the other sides
    get the same spacing. It extends one voxel beyond ``aabb`` on every side, so surfaces lying on the
    box itself (such as a room's walls, when ``aabb`` is the room) are closed surfaces too.

    Args:
        sdf_fn: ``points [P, 3] -> signed distance [P]``.
        aabb: ``[2, 3]`` min / max corners (tensor, array or nested lists).
        resolution: grid samples along the longest side, at least 2.
        num_threads: torch CPU threads while evaluating the SDF (see
            :func:`~nerfplex.data.procedural.raytrace.render_images`; None leaves torch's setting).
    Returns:
        ``vertices [V, 3]`` float32 in world coordinates and ``faces [F, 3]`` int64, counter-clockwise
        seen from outside the solid (right-hand normals point towards positive SDF, i.e. outwards).
    """
    mesh = extract_mesh(
        sdf_fn,
        aabb,
        resolution,
        field="sdf",
        level=0.0,
        chunk_points=chunk_points,
        pad_voxels=1,
        num_threads=num_threads,
    )
    return mesh.vertices, mesh.faces
