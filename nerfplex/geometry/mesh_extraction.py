"""Triangle meshes from neural (or analytic) fields: marching cubes on a grid of field values.

- :func:`field_grid`: a field ``points [P, 3] -> values [P]`` on a regular grid, queried in slabs of
  bounded size (memory stays about ``chunk_points`` points, whatever the resolution).
- :func:`isotropic_grid`: the grid for a box and a resolution (same spacing on every axis).
- :func:`extract_mesh`: the level set of an SDF (negative inside, level 0) or of a density
  (positive inside, level = a threshold), faces oriented outwards in both cases, optional
  largest-component clean-up and vertex colours.
- :func:`mesh_report`: vertex / face counts, edge-manifoldness, watertightness (open3d).

Positions are in the field's world units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.errors import NerfplexError
from nerfplex.geometry.culling import submesh
from nerfplex.geometry.mesh_io import Mesh, _open3d
from nerfplex.threads import torch_threads

FIELD_KINDS = ("sdf", "density")


def field_grid(
    field_fn: Callable[[Tensor], Tensor],
    lower: np.ndarray,
    spacing: float,
    shape: tuple[int, int, int],
    chunk_points: int = 1 << 18,
    device: Optional[torch.device] = None,
) -> np.ndarray:
    """Field values ``[X, Y, Z]`` (float32, on the CPU) at ``lower + spacing * (i, j, k)``.

    The field is called on float32 points ``[P, 3]`` (on ``device``, default CPU) in slabs of
    constant ``i`` holding at most about ``chunk_points`` points (at least one slab of ``Y * Z``),
    without gradients; it must return ``[P]`` (or ``[P, 1]``) values.
    """
    nx, ny, nz = shape
    ys = torch.from_numpy(lower[1] + spacing * np.arange(ny)).float()
    zs = torch.from_numpy(lower[2] + spacing * np.arange(nz)).float()
    yz = torch.stack(torch.meshgrid(ys, zs, indexing="ij"), dim=-1).reshape(-1, 2)  # [Y * Z, 2]
    yz = yz.to(device) if device is not None else yz
    slabs = max(1, chunk_points // (ny * nz))
    values = np.empty(shape, dtype=np.float32)
    with torch.no_grad():
        for start in range(0, nx, slabs):
            xs = torch.from_numpy(lower[0] + spacing * np.arange(start, min(start + slabs, nx))).float()
            xs = xs.to(yz.device)
            points = torch.cat([xs.repeat_interleave(yz.shape[0])[:, None], yz.repeat(xs.numel(), 1)], dim=-1)
            out = field_fn(points)
            if out.numel() != points.shape[0]:
                raise ValueError(
                    f"the field returned {tuple(out.shape)} values for "
                    f"{points.shape[0]} points; it must return [P] or [P, 1]"
                )
            values[start : start + xs.numel()] = out.reshape(xs.numel(), ny, nz).float().cpu().numpy()
    return values


def _check_box(aabb) -> np.ndarray:
    try:
        box = (
            aabb.detach().cpu().double().numpy()
            if isinstance(aabb, torch.Tensor)
            else np.asarray(aabb, dtype=np.float64)
        )
    except (TypeError, ValueError) as exc:
        raise NerfplexError(
            f"mesh extraction: aabb must be [[xmin, ymin, zmin], [xmax, ymax, zmax]], got {aabb!r}"
        ) from exc
    if box.shape != (2, 3) or not np.all(box[1] > box[0]):
        raise NerfplexError(
            f"mesh extraction: aabb must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] with max > min, got {box.tolist()}"
        )
    return box


def isotropic_grid(aabb, resolution: int, pad_voxels: int = 0) -> tuple[np.ndarray, float, tuple[int, int, int]]:
    """The grid of :func:`extract_mesh`: ``resolution`` samples span the longest side of ``aabb``
    ``[2, 3]``; the other sides get the same spacing (their sample count rounded up, at least 2), the
    grid is centred on the box and extends ``pad_voxels`` samples beyond it on every side.

    Returns:
        ``lower [3]`` (the first sample's position), ``spacing`` and ``shape (X, Y, Z)``.
    """
    box = _check_box(aabb)
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise NerfplexError(f"mesh extraction: resolution must be an integer >= 2, got {resolution!r}")
    if isinstance(pad_voxels, bool) or not isinstance(pad_voxels, (int, np.integer)) or pad_voxels < 0:
        raise NerfplexError(f"mesh extraction: pad_voxels must be an integer >= 0, got {pad_voxels!r}")
    extent = box[1] - box[0]
    spacing = float(extent.max()) / (resolution - 1)
    counts = np.array([max(2, math.ceil(e / spacing - 1e-9) + 1) for e in extent]) + 2 * pad_voxels
    lower = (box[0] + box[1]) / 2.0 - spacing * (counts - 1) / 2.0
    return lower, spacing, tuple(int(c) for c in counts)


def largest_component(mesh: Mesh) -> Mesh:
    """The connected component (by shared edges, open3d ``cluster_connected_triangles``) with the
    most triangles; unused vertices are dropped. Ties go to the component found first."""
    if len(mesh.faces) == 0:
        return mesh
    o3d = _open3d()
    o3d_mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(np.asarray(mesh.vertices, dtype=np.float64)),
        o3d.utility.Vector3iVector(np.asarray(mesh.faces, dtype=np.int32)),
    )
    cluster, counts, _ = o3d_mesh.cluster_connected_triangles()
    cluster = np.asarray(cluster)
    return submesh(mesh, cluster == int(np.argmax(np.asarray(counts))))


def extract_mesh(
    field_fn: Callable[[Tensor], Tensor],
    aabb,
    resolution: int = 256,
    *,
    field: str = "sdf",
    level: Optional[float] = None,
    chunk_points: int = 1 << 18,
    pad_voxels: int = 0,
    keep_largest_component: bool = False,
    color_fn: Optional[Callable[[Tensor], Tensor]] = None,
    device: Optional[torch.device] = None,
    num_threads: Optional[int] = None,
) -> Mesh:
    """Marching cubes (scikit-image) on the level set of a field over a box.

    Args:
        field_fn: ``points [P, 3] -> values [P]`` (torch), called in chunks without gradients.
        aabb: ``[2, 3]`` min / max corners, in world units.
        resolution: grid samples along the longest side, at least 2 (spacing
            ``longest side / (resolution - 1)``; see :func:`isotropic_grid`).
        field: ``"sdf"`` (negative inside; default level 0) or ``"density"`` (positive inside; a
            ``level`` threshold is required, e.g. a volume density in 1 / world unit).
        level: the iso-value; inside is ``value < level`` for an SDF, ``value > level`` for a density.
        chunk_points: points per field call (memory bound).
        pad_voxels: extra samples beyond the box on every side; with 1, surfaces on the box itself
            close up (the field is then also queried just outside the box).
        keep_largest_component: keep only the connected component with the most triangles
            (removes floating blobs).
        color_fn: optional ``points [V, 3] -> rgb [V, 3]`` in [0, 1], evaluated at the final vertices
            (chunked, no gradients); values are clipped to [0, 1].
        device: where the points are made and the fields are called (default CPU).
        num_threads: torch CPU threads while querying (None: leave torch's setting).
    Returns:
        :class:`~nerfplex.geometry.mesh_io.Mesh`: ``vertices [V, 3]`` float32, ``faces [F, 3]`` int64
        counter-clockwise seen from outside (right-hand normals point out of the solid, for both
        field kinds), ``vertex_colors [V, 3]`` float32 or None. A field with no crossing of ``level``
        in the grid gives an empty mesh (``V = F = 0``).
    """
    from skimage.measure import marching_cubes

    if field not in FIELD_KINDS:
        raise NerfplexError(f"mesh extraction: field must be one of {', '.join(FIELD_KINDS)}, got {field!r}")
    if level is None:
        if field == "density":
            raise NerfplexError(
                "mesh extraction: a density field needs a threshold: pass level=... "
                "(a density value, e.g. 10 for NeRF-style fields; inside is density > level)"
            )
        level = 0.0
    if not math.isfinite(level):
        raise NerfplexError(f"mesh extraction: level must be a finite number, got {level!r}")
    lower, spacing, shape = isotropic_grid(aabb, resolution, pad_voxels)
    if num_threads is None:
        values = field_grid(field_fn, lower, spacing, shape, chunk_points, device)
    else:
        with torch_threads(num_threads):
            values = field_grid(field_fn, lower, spacing, shape, chunk_points, device)
    bad = ~np.isfinite(values)
    if bad.any():
        raise NerfplexError(
            f"mesh extraction: the field returned NaN or infinite values at "
            f"{int(bad.sum())} of {values.size} grid points; check the model / "
            "checkpoint (or shrink the aabb to where the field is defined)"
        )
    # "inside negative" in both cases, so that one winding rule orients every mesh outwards
    signed = values - np.float32(level) if field == "sdf" else np.float32(level) - values
    empty = Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64), None)
    if not (signed.min() < 0.0 < signed.max()):
        return empty
    # skimage's "descent" winding points right-hand normals towards larger values: out of the solid
    vertices, faces, _, _ = marching_cubes(
        signed, level=0.0, spacing=(spacing,) * 3, gradient_direction="descent", allow_degenerate=False
    )
    mesh = Mesh((vertices + lower).astype(np.float32), faces.astype(np.int64), None)
    if keep_largest_component:
        mesh = largest_component(mesh)
    if color_fn is not None and len(mesh.vertices):
        mesh = mesh._replace(vertex_colors=vertex_colors(color_fn, mesh.vertices, chunk_points, device))
    return mesh


def vertex_colors(
    color_fn: Callable[[Tensor], Tensor],
    vertices: np.ndarray,
    chunk_points: int = 1 << 18,
    device: Optional[torch.device] = None,
) -> np.ndarray:
    """``color_fn`` at ``vertices [V, 3]`` in chunks, without gradients: ``[V, 3]`` float32 in [0, 1]."""
    points = torch.from_numpy(np.asarray(vertices, dtype=np.float32))
    points = points.to(device) if device is not None else points
    pieces = []
    with torch.no_grad():
        for start in range(0, len(points), max(1, chunk_points)):
            chunk = points[start : start + chunk_points]
            rgb = color_fn(chunk)
            if tuple(rgb.shape) != (len(chunk), 3):
                raise ValueError(f"color_fn returned {tuple(rgb.shape)} for {len(chunk)} points; it must return [P, 3]")
            pieces.append(rgb.float().cpu().numpy())
    return np.clip(np.concatenate(pieces), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class MeshReport:
    """Counts and topology of a mesh: ``edge_manifold`` (every edge has at most two faces),
    ``watertight`` (open3d: edge- and vertex-manifold, no self-intersection, no boundary edge),
    ``components`` (connected components by shared edges)."""

    num_vertices: int
    num_faces: int
    edge_manifold: bool
    watertight: bool
    components: int

    def as_dict(self) -> dict:
        return asdict(self)


def mesh_report(mesh: Mesh) -> MeshReport:
    """:class:`MeshReport` of ``mesh`` (open3d's ``is_edge_manifold``, ``is_watertight``,
    ``cluster_connected_triangles``)."""
    o3d = _open3d()
    o3d_mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(np.asarray(mesh.vertices, dtype=np.float64).reshape(-1, 3)),
        o3d.utility.Vector3iVector(np.asarray(mesh.faces, dtype=np.int32).reshape(-1, 3)),
    )
    components = len(np.asarray(o3d_mesh.cluster_connected_triangles()[1])) if len(mesh.faces) else 0
    return MeshReport(
        num_vertices=len(mesh.vertices),
        num_faces=len(mesh.faces),
        edge_manifold=bool(o3d_mesh.is_edge_manifold()),
        watertight=bool(len(mesh.faces) > 0 and o3d_mesh.is_watertight()),
        components=components,
    )
