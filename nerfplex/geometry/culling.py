"""Culling: remove the parts of a mesh that a geometry evaluation must not see.

- :func:`points_in_frusta` / :func:`cull_mesh_to_frusta`: keep what some training camera saw
  (MonoSDF's ``replica_eval/cull_mesh.py``, from NICE-SLAM: a vertex counts when it projects inside
  at least one image, in front of the camera; a face is kept when at least one of its vertices
  counts). MonoSDF tests no depth buffer; pass ``depth_maps`` to also drop occluded vertices.
- :func:`points_on_masks` / :func:`cull_mesh_by_masks`: keep what lies on the dilated object masks
  (MonoSDF's ``dtu_eval/evaluate_single_scene.py``: masks dilated by a disk of radius 12 px; a vertex
  is dropped when some image sees it outside its dilated mask; a face is kept when all three of its
  vertices are kept).
- :class:`Box`, :func:`oriented_bounding_box`, :func:`crop_mesh_to_box`: MonoSDF's crop of the
  reconstruction to the ground truth's oriented bounding box enlarged by 5 %.

Cameras follow :mod:`nerfplex.cameras` (OpenCV axes, pixel ``(x, y)`` centred at ``(x + .5, y + .5)``),
in the same coordinate frame and units as the points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from nerfplex.cameras import Cameras
from nerfplex.distortion import distort
from nerfplex.errors import NerfplexError
from nerfplex.geometry.mesh_io import Mesh


def _numpy_cameras(cameras: Cameras):
    def as_np(t):
        return t.detach().cpu().double().numpy()

    c2w = as_np(cameras.c2w).reshape(-1, 3, 4)
    coeffs = as_np(cameras.distortion) if cameras.distortion is not None else [None] * len(cameras)
    return c2w, as_np(cameras.fx), as_np(cameras.fy), as_np(cameras.cx), as_np(cameras.cy), coeffs


def project(
    points: np.ndarray,
    c2w: np.ndarray,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    distortion: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Project ``points [P, 3]`` into one camera (``c2w [3, 4]``, OpenCV axes), through its lens
    ``distortion [5]`` (``k1, k2, p1, p2, k3``; :mod:`nerfplex.distortion`) when given.

    Returns:
        ``u, v [P]`` continuous pixel coordinates (the image spans ``[0, W] x [0, H]``), ``depth [P]``
        along the optical axis and ``distance [P]`` from the camera centre (nerfplex's depth maps
        hold this distance along the unit ray).
    """
    rotation, origin = c2w[:, :3], c2w[:, 3]
    local = (points - origin) @ rotation  # [P, 3] camera coordinates: R^T (p - o)
    depth = local[:, 2]
    safe = np.where(np.abs(depth) > 1e-12, depth, 1e-12)
    x, y = local[:, 0] / safe, local[:, 1] / safe
    if distortion is not None:
        x_d, y_d = distort(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(np.asarray(distortion)))
        x, y = x_d.numpy(), y_d.numpy()
    return fx * x + cx, fy * y + cy, depth, np.linalg.norm(local, axis=-1)


def _points(points) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"points must be [P, 3], got shape {array.shape}")
    return array


def _image_stack(arrays, cameras: Cameras, name: str) -> np.ndarray:
    stack = np.asarray(arrays)
    expected = (len(cameras), cameras.height, cameras.width)
    if stack.shape[:3] != expected or stack.ndim not in (3, 4) or (stack.ndim == 4 and stack.shape[3] != 1):
        raise NerfplexError(
            f"culling: {name} must be [N, H, W] = {list(expected)} (one per camera, "
            f"at the cameras' image size), got shape {list(stack.shape)}"
        )
    return stack.reshape(expected)


def points_in_frusta(
    points,
    cameras: Cameras,
    margin: float = 0.0,
    min_depth: float = 1e-5,
    depth_maps=None,
    depth_tolerance: float = 0.0,
) -> np.ndarray:
    """Whether each point lies in the view frustum of at least one camera.

    A point is in a camera's frustum when its depth is at least ``min_depth`` and it projects
    strictly inside the image shrunk by ``margin`` pixels: ``margin < u < W - margin`` and
    ``margin < v < H - margin``. (MonoSDF uses ``edge = 0`` and its pixel centres at integers, so its
    window is shifted by half a pixel against the image; the difference is a half-pixel border.)

    Args:
        points: ``[P, 3]``. cameras: the training cameras.
        depth_maps: optional ``[N, H, W]`` distances along each pixel's unit ray to the first surface
            (``inf`` where none), e.g. rendered from the ground truth. When given, a point also has to
            be no further than ``depth + depth_tolerance`` in the pixel it falls into (not occluded).
            MonoSDF's Replica protocol does not use this.
        depth_tolerance: in the points' units.
    Returns:
        ``[P]`` bool.
    """
    pts = _points(points)
    c2w, fx, fy, cx, cy, coeffs = _numpy_cameras(cameras)
    width, height = cameras.width, cameras.height
    depths = None if depth_maps is None else _image_stack(depth_maps, cameras, "depth_maps")
    seen = np.zeros(len(pts), dtype=bool)
    for i in range(len(c2w)):  # a loop over cameras; each step is vectorised over the points
        u, v, depth, distance = project(pts, c2w[i], fx[i], fy[i], cx[i], cy[i], coeffs[i])
        inside = (depth >= min_depth) & (u > margin) & (u < width - margin) & (v > margin) & (v < height - margin)
        if depths is not None:
            col = np.clip(np.floor(u[inside]), 0, width - 1).astype(np.int64)
            row = np.clip(np.floor(v[inside]), 0, height - 1).astype(np.int64)
            visible = distance[inside] <= depths[i][row, col] + depth_tolerance
            inside[np.flatnonzero(inside)[~visible]] = False
        seen |= inside
    return seen


def dilate_masks(masks, radius: int) -> np.ndarray:
    """Binary dilation of ``masks [N, H, W]`` (non-zero = object) by a disk of ``radius`` pixels."""
    from scipy.ndimage import binary_dilation
    from skimage.morphology import disk

    masks = np.asarray(masks) != 0
    if radius <= 0:
        return masks
    footprint = disk(int(radius)).astype(bool)  # dx^2 + dy^2 <= r^2, as MonoSDF
    return np.stack([binary_dilation(m, structure=footprint) for m in masks])


def points_on_masks(points, cameras: Cameras, masks, dilation_radius: int = 12) -> np.ndarray:
    """Whether each point is consistent with every camera's object mask (DTU protocol, MonoSDF).

    A camera rejects a point when the point is in front of it, projects strictly between the first
    and last pixel centres (``0.5 < u < W - 0.5``, likewise ``v``; MonoSDF's ``(-1, 1)`` test with
    ``align_corners=True``), and the nearest pixel of the dilated mask is background. Points outside
    a camera's image, or behind it, are not judged by that camera. (MonoSDF does not test "behind";
    DTU's cameras all face the object, so this changes nothing there.)

    Args:
        points: ``[P, 3]``. cameras: ``N`` cameras.
        masks: ``[N, H, W]`` object masks at the cameras' image size, non-zero on the object.
        dilation_radius: disk radius in pixels (MonoSDF: 12).
    Returns:
        ``[P]`` bool: True where no camera rejects the point.
    """
    pts = _points(points)
    dilated = dilate_masks(_image_stack(masks, cameras, "masks"), dilation_radius)
    c2w, fx, fy, cx, cy, coeffs = _numpy_cameras(cameras)
    width, height = cameras.width, cameras.height
    keep = np.ones(len(pts), dtype=bool)
    for i in range(len(c2w)):  # a loop over cameras; each step is vectorised over the points
        u, v, depth, _ = project(pts, c2w[i], fx[i], fy[i], cx[i], cy[i], coeffs[i])
        judged = (depth > 0) & (u > 0.5) & (u < width - 0.5) & (v > 0.5) & (v < height - 0.5)
        col = np.rint(u[judged] - 0.5).astype(np.int64)  # nearest pixel (half to even, as torch)
        row = np.rint(v[judged] - 0.5).astype(np.int64)
        keep[np.flatnonzero(judged)[~dilated[i][row, col]]] = False
    return keep


def submesh(mesh: Mesh, keep_faces: np.ndarray) -> Mesh:
    """The faces where ``keep_faces [F]`` is True, with the vertices they use (order kept)."""
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)[np.asarray(keep_faces, dtype=bool)]
    used = np.zeros(len(mesh.vertices), dtype=bool)
    used[faces.reshape(-1)] = True
    remap = np.cumsum(used) - 1
    colors = None if mesh.vertex_colors is None else np.asarray(mesh.vertex_colors)[used]
    return Mesh(np.asarray(mesh.vertices)[used], remap[faces].astype(np.int64), colors)


def cull_mesh_to_frusta(
    mesh: Mesh,
    cameras: Cameras,
    margin: float = 0.0,
    min_depth: float = 1e-5,
    depth_maps=None,
    depth_tolerance: float = 0.0,
) -> Mesh:
    """Keep the faces with at least one vertex in some camera's frustum (MonoSDF / NICE-SLAM rule);
    arguments as :func:`points_in_frusta`. Unused vertices are dropped."""
    seen = points_in_frusta(mesh.vertices, cameras, margin, min_depth, depth_maps, depth_tolerance)
    return submesh(mesh, seen[np.asarray(mesh.faces, dtype=np.int64)].any(axis=1))


def cull_mesh_by_masks(mesh: Mesh, cameras: Cameras, masks, dilation_radius: int = 12) -> Mesh:
    """Keep the faces whose three vertices pass :func:`points_on_masks` (MonoSDF's DTU rule)."""
    keep = points_on_masks(mesh.vertices, cameras, masks, dilation_radius)
    return submesh(mesh, keep[np.asarray(mesh.faces, dtype=np.int64)].all(axis=1))


@dataclass(frozen=True)
class Box:
    """A box: ``center [3]``, ``axes [3, 3]`` (columns: orthonormal box axes) and
    ``half_extent [3]`` along those axes, in the points' units."""

    center: np.ndarray
    axes: np.ndarray
    half_extent: np.ndarray

    def contains(self, points, scale: float = 1.0) -> np.ndarray:
        """``[P]`` bool: strictly inside the box scaled by ``scale`` about its centre."""
        local = (_points(points) - self.center) @ self.axes
        return (np.abs(local) < scale * self.half_extent).all(axis=-1)


def axis_aligned_box(points) -> Box:
    """The smallest axis-aligned box around ``points [P, 3]``."""
    pts = _points(points)
    low, high = pts.min(axis=0), pts.max(axis=0)
    return Box((low + high) / 2.0, np.eye(3), (high - low) / 2.0)


def _principal_box(pts: np.ndarray) -> Box:
    centred = pts - pts.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt.T
    local = pts @ axes
    low, high = local.min(axis=0), local.max(axis=0)
    return Box(axes @ ((low + high) / 2.0), axes, (high - low) / 2.0)


def oriented_bounding_box(points, max_candidates: int = 1000) -> Box:
    """A small-volume oriented box around ``points [P, 3]``, found as
    ``trimesh.bounds.oriented_bounds`` (MonoSDF's choice) finds it: one box face lies flush with a
    face of the convex hull; for each distinct hull-face normal the points are projected along it and
    the minimum-area rectangle of the projection (one side along an edge of its 2-D hull) gives the
    other two axes; the box of least volume wins.

    The candidate normals are the ``max_candidates`` distinct hull-face normals of largest total face
    area (all of them for box-like scenes such as rooms; round shapes have thousands). Flat or
    collinear point sets (no volume) get the box of their principal axes, of zero thickness.
    """
    from scipy.spatial import ConvexHull

    pts = _points(points)
    if len(pts) == 0:
        raise NerfplexError("bounding box of an empty point set")
    singular = np.linalg.svd(pts - pts.mean(axis=0), compute_uv=False) if len(pts) > 1 else np.zeros(1)
    if len(pts) < 4 or len(singular) < 3 or singular[-1] <= 1e-9 * max(singular[0], 1e-300):
        return _principal_box(pts)
    hull = ConvexHull(pts)
    corners = pts[hull.vertices]
    normals = hull.equations[:, :3]
    tri = pts[hull.simplices]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=-1)
    # parallel and opposite faces give the same box: merge normals up to sign
    first = np.argmax(np.abs(normals) > 1e-9, axis=-1)
    normals = normals * np.sign(normals[np.arange(len(normals)), first])[:, None]
    keys, inverse = np.unique(np.round(normals, 6), axis=0, return_inverse=True)
    group_area = np.bincount(inverse.reshape(-1), weights=areas)
    representative = np.zeros(len(keys), dtype=np.int64)
    representative[inverse.reshape(-1)] = np.arange(len(normals))
    order = np.argsort(-group_area, kind="stable")[: max(1, int(max_candidates))]
    best_volume, best_axes = np.inf, np.eye(3)
    for n in normals[representative[order]]:  # loop over candidate orientations, not points
        helper = np.eye(3)[np.argmin(np.abs(n))]
        a = np.cross(n, helper)
        a /= np.linalg.norm(a)
        b = np.cross(n, a)
        flat = corners @ np.stack([a, b], axis=1)  # [H, 2]
        polygon = flat[ConvexHull(flat).vertices]  # [K, 2]
        edges = np.roll(polygon, -1, axis=0) - polygon
        edges = edges / np.linalg.norm(edges, axis=-1, keepdims=True)
        along = polygon @ edges.T  # [K, E]
        across = polygon @ np.stack([-edges[:, 1], edges[:, 0]], axis=1).T
        rect = np.ptp(along, axis=0) * np.ptp(across, axis=0)
        k = int(np.argmin(rect))
        volume = rect[k] * np.ptp(corners @ n)
        if volume < best_volume:
            d = edges[k]
            e1 = d[0] * a + d[1] * b
            best_volume, best_axes = volume, np.stack([e1, np.cross(n, e1), n], axis=1)
    local = pts @ best_axes
    low, high = local.min(axis=0), local.max(axis=0)
    return Box(best_axes @ ((low + high) / 2.0), best_axes, (high - low) / 2.0)


def crop_mesh_to_box(mesh: Mesh, box: Box, scale: float = 1.0) -> Mesh:
    """Keep the faces whose three vertices lie strictly inside ``box`` scaled by ``scale``."""
    inside = box.contains(mesh.vertices, scale)
    return submesh(mesh, inside[np.asarray(mesh.faces, dtype=np.int64)].all(axis=1))


def require_faces(mesh: Mesh, what: str, hint: Optional[str] = None) -> Mesh:
    """``mesh`` if it has faces, else a :class:`NerfplexError` naming ``what`` removed them."""
    if len(mesh.faces) == 0:
        raise NerfplexError(
            f"no faces of the reconstruction are left after {what}. "
            + (hint or "Check that the mesh and the cameras / ground truth use the same coordinate frame and units.")
        )
    return mesh
