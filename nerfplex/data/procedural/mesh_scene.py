"""Render a triangle mesh file like the built-in ``object`` scene, with exact ground truth.

``make_mesh_scene(path, resolution, num_train, num_test, seed)`` reads a ``.ply`` / ``.obj`` mesh,
turns its up axis to the world's +z, centres it and scales it so that its bounding sphere has radius
:data:`MESH_RADIUS` (inside the object scene's ``[-1, 1]^3`` box), and renders it with the object
scene's cameras (the same cameras for the same seed), lights, near/far and box. Rays are cast exactly
against the triangles with open3d's ``RaycastingScene``; hits are shaded by
:func:`~nerfplex.data.procedural.raytrace.shade` with a solid texture from
:mod:`~nerfplex.data.procedural.textures`, so the surface has texture detail for photometric methods.

Ground truth: alpha is the (super-sampled) hit mask, depth the exact ray distance to the first
triangle through each pixel centre (``inf`` where the ray misses), and ``extras["gt_mesh"]`` the
normalised mesh in the cameras' world frame.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.data.procedural import _TEST_STREAM, _TRAIN_STREAM, _cameras, _check_size
from nerfplex.data.procedural import sdf as S
from nerfplex.data.procedural.raytrace import Lighting, _row_rays, shade
from nerfplex.data.procedural.scenes import SceneSpec, object_scene
from nerfplex.data.procedural.textures import Material
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.errors import NerfplexError
from nerfplex.threads import torch_threads

__all__ = ["MESH_RADIUS", "UP_AXES", "MeshRaycaster", "load_normalized_mesh", "make_mesh_scene"]

MESH_RADIUS = 0.9
"""Radius of the normalised mesh's bounding sphere (centred at the origin). The object scene's solids
also stay within ``|x|, |y|, |z| <= 0.9``, so the mesh lies inside the same ``[-1, 1]^3`` box and
fills a similar part of the images."""

UP_AXES: dict[str, tuple[tuple[float, ...], ...]] = {
    "x": ((0.0, 0.0, -1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
    "y": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    "z": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}
"""Rotations (proper, so face winding is kept) that turn a file's up axis to the world's +z."""


def load_normalized_mesh(mesh_path, up_axis: str = "y") -> tuple[np.ndarray, np.ndarray, dict]:
    """Read a triangle mesh and map it into the object scene's frame.

    ``world = scale * rotation @ file + translation``: ``rotation`` turns ``up_axis`` to +z, the
    centre of the bounding box of the vertices used by faces goes to the origin, and the farthest such
    vertex ends up at distance :data:`MESH_RADIUS`.

    Returns:
        ``vertices [V, 3]`` float32 (all of the file's vertices, in order), ``faces [F, 3]`` int64, and
        the transform: ``{"scale", "rotation" [3][3], "translation" [3], "matrix" [4][4]}`` (lists).
    """
    from nerfplex.geometry.mesh_io import read_mesh

    path = Path(mesh_path)
    if not path.is_file():
        raise NerfplexError(f"mesh file {str(path)!r} does not exist; pass the path of a .ply or .obj triangle mesh.")
    if up_axis not in UP_AXES:
        raise NerfplexError(f"up_axis must be one of {', '.join(UP_AXES)}, got {up_axis!r}")
    mesh = read_mesh(path)
    if len(mesh.faces) == 0:
        raise NerfplexError(
            f"mesh file {str(path)!r} has no triangles (a point cloud or an empty "
            f"mesh); make-scene needs a triangle mesh."
        )
    rotation = np.asarray(UP_AXES[up_axis], dtype=np.float64)
    rotated = mesh.vertices.astype(np.float64) @ rotation.T
    used = rotated[np.unique(mesh.faces)]
    centre = 0.5 * (used.min(axis=0) + used.max(axis=0))
    radius = float(np.linalg.norm(used - centre, axis=-1).max())
    if not math.isfinite(radius) or radius <= 0.0:
        raise NerfplexError(
            f"mesh file {str(path)!r} is degenerate (all triangles collapse to one "
            f"point) or holds non-finite coordinates."
        )
    scale = MESH_RADIUS / radius
    translation = -scale * centre
    vertices = (scale * rotated + translation).astype(np.float32)
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = scale * rotation, translation
    transform = {
        "scale": scale,
        "rotation": rotation.tolist(),
        "translation": translation.tolist(),
        "matrix": matrix.tolist(),
    }
    return vertices, mesh.faces.astype(np.int64), transform


class MeshRaycaster:
    """Exact first hits of rays with a triangle mesh (open3d ``RaycastingScene``, CPU)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        from nerfplex.geometry.mesh_io import _open3d

        o3d = _open3d()
        self._core = o3d.core
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
        )

    def cast(self, origins: Tensor, directions: Tensor, num_threads: Optional[int] = None) -> tuple[Tensor, Tensor]:
        """Distances ``[R]`` along rays ``[R, 3]`` (in units of ``|direction|``, ``inf`` where missed)
        and the hit triangles' unit normals ``[R, 3]`` (as wound in the file; 0 where missed)."""
        rays = torch.cat([origins, directions], dim=-1).detach().cpu().float().numpy()
        result = self._scene.cast_rays(self._core.Tensor(np.ascontiguousarray(rays)), nthreads=num_threads or 0)
        return (
            torch.from_numpy(result["t_hit"].numpy().copy()),
            torch.from_numpy(result["primitive_normals"].numpy().copy()),
        )


def _tangent_planes(points: Tensor, normals: Tensor, material: int) -> S.SceneSDF:
    """The surface's tangent planes at ``points [P, 3]`` as a scene SDF over those same points.

    It lets :func:`~nerfplex.data.procedural.raytrace.shade` (material lookup, finite-difference
    normals, lights) shade mesh hits unchanged: the tetrahedral finite difference of this linear
    function is exactly its gradient, the triangle normal.
    """

    def plane(xyz: S.XYZ) -> Tensor:
        return sum((xyz[k] - points[:, k]) * normals[:, k] for k in range(3))

    return S.SceneSDF([S.Shape(plane, int(material))])


def _trace_and_shade(
    raycaster: MeshRaycaster,
    origins: Tensor,
    directions: Tensor,
    lighting: Lighting,
    material: int,
    num_threads: Optional[int],
) -> tuple[Tensor, Tensor, Tensor]:
    """Colour ``[R, 3]`` (0 where missed), hit ``[R]`` and depth ``[R]`` (inf where missed)."""
    t, normals = raycaster.cast(origins, directions, num_threads)
    hit = torch.isfinite(t)
    color = torch.zeros_like(origins)
    if hit.any():
        points = origins[hit] + t[hit, None] * directions[hit]
        n = normals[hit]
        n = torch.where(((n * directions[hit]).sum(-1, keepdim=True) > 0), -n, n)  # two-sided
        color[hit] = shade(_tangent_planes(points, n, material), points, lighting)
    return color, hit, t


def _render_split(
    raycaster: MeshRaycaster,
    cameras: Cameras,
    lighting: Lighting,
    material: int,
    supersample: int,
    chunk_rays: int,
    num_threads: Optional[int],
) -> SceneSplit:
    """Premultiplied rgb and alpha averaged over ``supersample^2`` sub-pixels (the sub-pixel layout
    of :func:`~nerfplex.data.procedural.raytrace.render_images`), depth through pixel centres."""
    n, h, w, s = len(cameras), cameras.height, cameras.width, supersample
    rgb, alpha, depth = torch.empty(n * h, w, 3), torch.empty(n * h, w, 1), torch.empty(n * h, w)
    rows_per_chunk = max(1, chunk_rays // (w * s * s))
    for start in range(0, n * h, rows_per_chunk):
        units = torch.arange(start, min(start + rows_per_chunk, n * h))
        origins, directions = _row_rays(cameras, units, s)
        color, hit, t = _trace_and_shade(raycaster, origins, directions, lighting, material, num_threads)
        rgb[units] = color.reshape(-1, s, w, s, 3).mean(dim=(1, 3))
        alpha[units] = hit.to(color.dtype).reshape(-1, s, w, s).mean(dim=(1, 3))[..., None]
        if s > 1:
            t, _ = raycaster.cast(*_row_rays(cameras, units, 1), num_threads)
        depth[units] = t.reshape(-1, w)
    names = [f"r_{i}" for i in range(n)]
    return SceneSplit(
        rgb.reshape(n, h, w, 3), alpha.reshape(n, h, w, 1), cameras, names, depth=depth.reshape(n, h, w, 1)
    )


def make_mesh_scene(
    mesh_path,
    resolution: int,
    num_train: int,
    num_test: int,
    seed: int = 0,
    *,
    up_axis: str = "y",
    material: int = Material.RED_CHECKER,
    lighting: Optional[Lighting] = None,
    supersample: int = 2,
    chunk_rays: int = 1 << 19,
    num_threads: Optional[int] = 1,
) -> SceneData:
    """Render a triangle mesh file with the object scene's cameras, lights and bounds.

    Args:
        mesh_path: a ``.ply`` or ``.obj`` triangle mesh.
        resolution: image width and height in pixels.
        num_train, num_test: views per split; the cameras are those of
            ``make_procedural_scene("object", resolution, num_train, num_test, seed)``.
        seed: draws the cameras.
        up_axis: the file's up axis (``"x"``, ``"y"`` or ``"z"``), turned to the world's +z; most
            OBJ / PLY files, e.g. the Stanford bunny, are y-up.
        material: a :class:`~nerfplex.data.procedural.textures.Material` id: the solid texture.
        lighting: the lights (default: the object scene's).
        supersample: rgb and alpha average ``supersample x supersample`` sub-pixels.
        chunk_rays: rays cast at once (bounds memory).
        num_threads: torch and open3d CPU threads while rendering (None: torch's setting and all
            cores for open3d).
    Returns:
        SceneData named ``mesh-<file stem>`` with premultiplied rgb ``[N, H, W, 3]``, alpha
        ``[N, H, W, 1]``, depth ``[N, H, W, 1]`` (distance along the unit pixel-centre ray, ``inf``
        where it misses) on each split, the object scene's near / far / aabb, and extras
        ``"gt_mesh"``: ``(vertices [V, 3] float32, faces [F, 3] int64)`` in the world frame,
        ``"mesh_transform"``: the similarity from the file's coordinates to the world (see
        :func:`load_normalized_mesh`), ``"mesh_path"``: the file.
    """
    resolution = _check_size("resolution", resolution)
    num_train = _check_size("num_train", num_train)
    num_test = _check_size("num_test", num_test)
    supersample = _check_size("supersample", supersample)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NerfplexError(f"mesh scene: seed must be a non-negative integer, got {seed!r}")
    vertices, faces, transform = load_normalized_mesh(mesh_path, up_axis)
    spec: SceneSpec = object_scene()
    lighting = spec.lighting if lighting is None else lighting
    raycaster = MeshRaycaster(vertices, faces)
    splits = []
    with torch_threads(num_threads):
        for stream, count in ((_TRAIN_STREAM, num_train), (_TEST_STREAM, num_test)):
            cameras = _cameras(spec, int(seed), stream, count, resolution)
            splits.append(
                _render_split(raycaster, cameras, lighting, int(material), supersample, chunk_rays, num_threads)
            )
    return SceneData(
        train=splits[0],
        test=splits[1],
        near=spec.near,
        far=spec.far,
        aabb=spec.aabb.clone(),
        name=f"mesh-{Path(mesh_path).stem}",
        extras={"gt_mesh": (vertices, faces), "mesh_transform": transform, "mesh_path": Path(mesh_path)},
    )
