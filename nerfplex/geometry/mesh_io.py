"""Read and write triangle meshes (PLY or OBJ, chosen by suffix) with open3d.

open3d is imported inside the functions, so that the rest of nerfplex works without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from nerfplex.errors import NerfplexError
from nerfplex.io import atomic_path, os_error_message

MESH_SUFFIXES = (".ply", ".obj")


class Mesh(NamedTuple):
    """``vertices [V, 3]`` float32, ``faces [F, 3]`` int64, ``vertex_colors [V, 3]`` float32 in
    [0, 1] or None."""

    vertices: np.ndarray
    faces: np.ndarray
    vertex_colors: Optional[np.ndarray]


def _open3d():
    try:
        import open3d
    except (ImportError, OSError) as exc:
        raise NerfplexError(
            f"mesh files need open3d, which failed to import ({exc}). Install it with "
            "`pip install open3d-cpu`; on Linux it also needs the system library libusb: "
            "`apt-get install libusb-1.0-0`."
        ) from exc
    return open3d


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise NerfplexError(
            f"mesh file {str(path)!r}: unsupported suffix {path.suffix!r}; use one of {', '.join(MESH_SUFFIXES)}"
        )
    return suffix


def write_mesh(path, vertices, faces, vertex_colors=None) -> Path:
    """Write a triangle mesh atomically (a temporary file in the same folder, then a rename).

    Args:
        path: destination ending in ``.ply`` or ``.obj``; missing parent folders are created.
        vertices: ``[V, 3]`` positions. faces: ``[F, 3]`` vertex indices.
        vertex_colors: optional ``[V, 3]`` colours in [0, 1].
    Returns:
        the path written.
    """
    path = Path(path)
    _suffix(path)  # an unsupported suffix is an error before any work
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int32).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"face indices must lie in [0, {len(vertices)}), got [{faces.min()}, {faces.max()}]")
    o3d = _open3d()
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(faces))
    if vertex_colors is not None:
        colors = np.clip(np.asarray(vertex_colors, dtype=np.float64).reshape(-1, 3), 0.0, 1.0)
        if len(colors) != len(vertices):
            raise ValueError(f"{len(colors)} vertex colours for {len(vertices)} vertices")
        mesh.vertex_colors = o3d.utility.Vector3dVector(colors)
    try:
        with atomic_path(path) as tmp:  # the temporary keeps the suffix: open3d picks the format by it
            if not o3d.io.write_triangle_mesh(
                str(tmp),
                mesh,
                write_ascii=False,
                compressed=False,
                write_vertex_normals=False,
                write_vertex_colors=vertex_colors is not None,
                write_triangle_uvs=False,
                print_progress=False,
            ):
                raise NerfplexError(
                    f"could not write mesh file {str(path)!r}: check that the folder is "
                    f"writable and the disk has free space."
                )
    except OSError as exc:
        raise NerfplexError(f"could not write mesh file {path}: {os_error_message(exc, path.parent)}") from None
    return path


def read_mesh(path) -> Mesh:
    """Read a ``.ply`` or ``.obj`` triangle mesh as :class:`Mesh` (vertex order kept)."""
    path = Path(path)
    _suffix(path)
    if not path.is_file():
        raise NerfplexError(f"mesh file {str(path)!r} does not exist")
    o3d = _open3d()
    mesh = o3d.io.read_triangle_mesh(str(path), enable_post_processing=False, print_progress=False)
    vertices = np.asarray(mesh.vertices, dtype=np.float32).reshape(-1, 3)
    faces = np.asarray(mesh.triangles, dtype=np.int64).reshape(-1, 3)
    if len(vertices) == 0:
        raise NerfplexError(f"mesh file {str(path)!r} holds no vertices (empty or unreadable)")
    colors = np.asarray(mesh.vertex_colors, dtype=np.float32).reshape(-1, 3) if mesh.has_vertex_colors() else None
    return Mesh(vertices, faces, colors)
