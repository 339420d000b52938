"""Ground-truth meshes of analytic scenes: marching cubes on the zero level of an SDF."""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.data.procedural.raytrace import torch_threads
from nerfplex.errors import NerfplexError


def sdf_grid(sdf_fn: Callable[[Tensor], Tensor], lower: np.ndarray, spacing: float,
             shape: tuple[int, int, int], chunk_points: int = 1 << 18) -> np.ndarray:
    """SDF values ``[X, Y, Z]`` (float32) at ``lower + spacing * (i, j, k)``, evaluated in slabs of
    constant ``i`` holding at most about ``chunk_points`` points."""
    nx, ny, nz = shape
    ys = torch.from_numpy(lower[1] + spacing * np.arange(ny)).float()
    zs = torch.from_numpy(lower[2] + spacing * np.arange(nz)).float()
    yz = torch.stack(torch.meshgrid(ys, zs, indexing="ij"), dim=-1).reshape(-1, 2)  # [Y * Z, 2]
    slabs = max(1, chunk_points // (ny * nz))
    values = np.empty(shape, dtype=np.float32)
    with torch.no_grad():
        for start in range(0, nx, slabs):
            xs = torch.from_numpy(lower[0] + spacing * np.arange(start, min(start + slabs, nx))).float()
            points = torch.cat([xs.repeat_interleave(yz.shape[0])[:, None], yz.repeat(xs.numel(), 1)],
                               dim=-1)
            values[start:start + xs.numel()] = (
                sdf_fn(points).reshape(xs.numel(), ny, nz).float().cpu().numpy())
    return values


def extract_sdf_mesh(sdf_fn: Callable[[Tensor], Tensor], aabb, resolution: int,
                     chunk_points: int = 1 << 18, num_threads: Optional[int] = 1
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
    from skimage.measure import marching_cubes

    box = np.asarray(torch.as_tensor(aabb, dtype=torch.float64).cpu(), dtype=np.float64)
    if box.shape != (2, 3) or not np.all(box[1] > box[0]):
        raise NerfplexError(f"mesh extraction: aabb must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] "
                            f"with max > min, got {box.tolist()}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise NerfplexError(f"mesh extraction: resolution must be an integer >= 2, got {resolution!r}")
    extent = box[1] - box[0]
    spacing = float(extent.max()) / (resolution - 1)
    counts = np.array([max(2, math.ceil(e / spacing - 1e-9) + 1) for e in extent]) + 2  # 1-voxel pad
    lower = (box[0] + box[1]) / 2.0 - spacing * (counts - 1) / 2.0
    with torch_threads(num_threads):
        values = sdf_grid(sdf_fn, lower, spacing, tuple(int(c) for c in counts), chunk_points)
    if not (values.min() < 0.0 < values.max()):
        return np.zeros((0, 3), dtype=np.float32), np.zeros((0, 3), dtype=np.int64)
    # skimage's default ("descent") winding has right-hand normals pointing towards larger values,
    # i.e. out of the solid for an SDF (checked by the tests against the SDF gradient).
    vertices, faces, _, _ = marching_cubes(values, level=0.0, spacing=(spacing,) * 3,
                                           gradient_direction="descent", allow_degenerate=False)
    return (vertices + lower).astype(np.float32), faces.astype(np.int64)
