"""Points on the surface of a triangle mesh, for comparing meshes as point sets.

Two samplers:

- :func:`sample_surface`: ``count`` points drawn uniformly by area (what MonoSDF's Replica
  evaluation does with ``trimesh.sample.sample_surface``), with each point's unit face normal.
- :func:`sample_surface_grid`: the deterministic per-triangle grid of DTUeval-python
  (jzhangbs/DTUeval-python, ``eval.py``, "mesh" mode) at a given spacing, plus the mesh vertices.

Positions keep the mesh's units (metres for Replica, millimetres for DTU).
"""

from __future__ import annotations

from typing import NamedTuple, Union

import numpy as np

from nerfplex.errors import NerfplexError

RngLike = Union[np.random.Generator, int, None]


class SurfaceSamples(NamedTuple):
    """``points [N, 3]`` float64, unit ``normals [N, 3]`` float64 (right-hand rule of each face's
    winding), ``face_index [N]`` int64."""

    points: np.ndarray
    normals: np.ndarray
    face_index: np.ndarray


def as_generator(rng: RngLike) -> np.random.Generator:
    """``rng`` itself if it is a Generator, else ``np.random.default_rng(rng)`` (an int seeds it)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _triangles(vertices, faces) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"face indices must lie in [0, {len(vertices)}), got [{faces.min()}, {faces.max()}]")
    return vertices, faces


def face_areas_and_normals(vertices, faces) -> tuple[np.ndarray, np.ndarray]:
    """Areas ``[F]`` (mesh units squared) and unit normals ``[F, 3]`` (zero for degenerate faces)."""
    vertices, faces = _triangles(vertices, faces)
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    double_area = np.linalg.norm(cross, axis=-1)
    normals = np.divide(cross, double_area[:, None], out=np.zeros_like(cross), where=double_area[:, None] > 0)
    return 0.5 * double_area, normals


def sample_surface(vertices, faces, count: int, rng: RngLike = 0, what: str = "mesh") -> SurfaceSamples:
    """``count`` points uniformly distributed over the mesh's area.

    A face is drawn with probability proportional to its area, then a point uniformly inside it
    (two uniform barycentric coordinates, reflected into the triangle when their sum exceeds 1).
    The same ``rng`` state (or seed) gives the same points.

    Args:
        vertices: ``[V, 3]``. faces: ``[F, 3]`` vertex indices.
        count: number of points, at least 1.
        rng: a ``np.random.Generator`` (advanced in place) or an integer seed.
        what: names the mesh in error messages.
    Returns:
        :class:`SurfaceSamples`.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise NerfplexError(f"surface sampling: the number of points must be a positive integer, got {count!r}")
    vertices, faces = _triangles(vertices, faces)
    areas, normals = face_areas_and_normals(vertices, faces)
    total = float(areas.sum()) if len(areas) else 0.0
    if not total > 0.0:
        raise NerfplexError(
            f"cannot sample points on the {what}: it has no faces with non-zero "
            f"area ({len(faces)} faces). Check that the mesh is not empty, e.g. that "
            "culling or cropping did not remove all of it."
        )
    gen = as_generator(rng)
    cdf = np.cumsum(areas)
    # a value in [cdf[k-1], cdf[k]) picks face k; zero-area faces own an empty interval
    face = np.searchsorted(cdf, gen.random(count) * cdf[-1], side="right")
    face = np.minimum(face, len(faces) - 1)
    r = gen.random((count, 2))
    flip = r.sum(axis=-1) > 1.0
    r[flip] = 1.0 - r[flip]
    a, b, c = (vertices[faces[face, i]] for i in range(3))
    points = a + r[:, :1] * (b - a) + r[:, 1:] * (c - a)
    return SurfaceSamples(points, normals[face], face.astype(np.int64))


def sample_surface_grid(vertices, faces, spacing: float, max_points_per_chunk: int = 1 << 22) -> np.ndarray:
    """DTUeval-python's deterministic mesh sampling: the vertices, then a grid on every triangle.

    For a triangle ``(a, b, c)`` with edges ``e1 = b - a``, ``e2 = c - a`` (lengths ``l1``, ``l2``,
    twice its area ``A2``): ``step = spacing * sqrt(l1 * l2 / A2)``, ``n_k = floor(l_k / step)``, and
    the points ``a + s * e1 + t * e2`` for ``s = (i + 0.5) / n1``, ``t = (j + 0.5) / n2``,
    ``i = 0..n1``, ``j = 0..n2``, ``s + t < 1``. Triangles with zero area, or with ``n1`` or ``n2``
    zero, add no points. The grid is denser than ``spacing``; the DTU protocol thins it afterwards.

    Args:
        vertices: ``[V, 3]``. faces: ``[F, 3]``.
        spacing: target spacing in mesh units (DTU: 0.2 mm).
        max_points_per_chunk: bounds the candidate grid points held at once (memory).
    Returns:
        ``[V + S, 3]`` float64 points: the vertices first, then the grid points of each face in
        face order.
    """
    if not spacing > 0:
        raise NerfplexError(f"surface grid sampling: spacing must be positive, got {spacing!r}")
    vertices, faces = _triangles(vertices, faces)
    corner = vertices[faces[:, 0]]
    e1 = vertices[faces[:, 1]] - corner
    e2 = vertices[faces[:, 2]] - corner
    l1 = np.linalg.norm(e1, axis=-1)
    l2 = np.linalg.norm(e2, axis=-1)
    double_area = np.linalg.norm(np.cross(e1, e2), axis=-1)
    keep = double_area > 0
    corner, e1, e2, l1, l2, double_area = (x[keep] for x in (corner, e1, e2, l1, l2, double_area))
    step = spacing * np.sqrt(l1 * l2 / double_area)
    n1 = np.floor(l1 / step)
    n2 = np.floor(l2 / step)
    keep = (n1 > 0) & (n2 > 0)
    corner, e1, e2, n1, n2 = (x[keep] for x in (corner, e1, e2, n1, n2))
    candidates = ((n1 + 1) * (n2 + 1)).astype(np.int64)  # grid nodes per face, before s + t < 1
    pieces = [vertices]
    ends = np.cumsum(candidates)
    start = 0
    while start < len(candidates):  # chunks of faces holding at most about max_points_per_chunk nodes
        offset = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, offset + max_points_per_chunk, side="right")))
        counts = candidates[start:stop]
        face = np.repeat(np.arange(start, stop), counts)
        local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        i, j = np.divmod(local, (n2[face] + 1).astype(np.int64))
        s = (i + 0.5) / n1[face]
        t = (j + 0.5) / n2[face]
        inside = s + t < 1.0
        face, s, t = face[inside], s[inside], t[inside]
        pieces.append(e1[face] * s[:, None] + e2[face] * t[:, None] + corner[face])
        start = stop
    return np.concatenate(pieces, axis=0)
