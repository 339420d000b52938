"""Analytic signed-distance functions (SDFs) in torch.

Every primitive takes points ``[P, 3]`` and returns the signed distance ``[P]``: negative inside the
solid, positive in free space, zero on the surface. Parameters are plain Python numbers or tuples, so
the same function runs on any device and dtype, and gradients (autograd) are finite everywhere.

Primitives also accept points as :data:`XYZ`, a tuple of three contiguous ``[P]`` coordinate
tensors: :class:`SceneSDF` splits the points once and every shape then works on contiguous
components, which is several times faster on CPU than reducing over the last axis of ``[P, 3]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import Tensor

Vec3 = Sequence[float]
Rotation = Sequence[Sequence[float]]
"""A ``3 x 3`` rotation whose columns are the shape's local x, y, z axes in world coordinates."""
XYZ = tuple[Tensor, Tensor, Tensor]
"""Points as three ``[P]`` coordinate tensors."""
PointsLike = Union[Tensor, XYZ]


def as_xyz(points: PointsLike) -> XYZ:
    """Split ``[P, 3]`` points into contiguous ``[P]`` components (an XYZ tuple passes through)."""
    if isinstance(points, tuple):
        return points
    x, y, z = points.t().contiguous().unbind(0)
    return x, y, z


def as_points(points: PointsLike) -> Tensor:
    """``[P, 3]`` points from either representation."""
    return torch.stack(points, dim=-1) if isinstance(points, tuple) else points


def length(*components: Tensor) -> Tensor:
    """Euclidean length ``[P]`` of vectors given by their ``[P]`` components; its gradient is 0
    (not NaN) at the zero vector."""
    squared = components[0] * components[0]
    for c in components[1:]:
        squared = squared + c * c
    return squared.clamp_min(1e-30).sqrt()


def to_local(points: PointsLike, center: Vec3, rotation: Optional[Rotation] = None) -> XYZ:
    """Points in a shape's local frame (translate, then undo the rotation), as components."""
    x, y, z = as_xyz(points)
    x, y, z = x - center[0], y - center[1], z - center[2]
    if rotation is None:
        return x, y, z
    r = rotation
    return (
        x * r[0][0] + y * r[1][0] + z * r[2][0],
        x * r[0][1] + y * r[1][1] + z * r[2][1],
        x * r[0][2] + y * r[1][2] + z * r[2][2],
    )


def rotation_x(angle: float) -> tuple[tuple[float, ...], ...]:
    """Rotation by ``angle`` radians about the world x axis, as nested tuples."""
    c, s = math.cos(angle), math.sin(angle)
    return ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))


def sphere(points: PointsLike, center: Vec3, radius: float) -> Tensor:
    """Sphere: ``|p - c| - r``, ``[P]``."""
    return length(*to_local(points, center)) - radius


def box(points: PointsLike, center: Vec3, half_size: Vec3, rotation: Optional[Rotation] = None) -> Tensor:
    """Solid box with half extents ``half_size``, exact distance ``[P]``."""
    q = [c.abs() - h for c, h in zip(to_local(points, center, rotation), half_size)]
    outside = length(*(c.clamp_min(0.0) for c in q))
    inside = torch.maximum(torch.maximum(q[0], q[1]), q[2]).clamp_max(0.0)
    return outside + inside


def rounded_box(
    points: PointsLike, center: Vec3, half_size: Vec3, radius: float, rotation: Optional[Rotation] = None
) -> Tensor:
    """Box of outer half extents ``half_size`` whose edges are rounded with ``radius``, ``[P]``."""
    inner = [h - radius for h in half_size]
    return box(points, center, inner, rotation) - radius


def torus(
    points: PointsLike, center: Vec3, major_radius: float, minor_radius: float, rotation: Optional[Rotation] = None
) -> Tensor:
    """Torus around the local z axis (ring in the local xy plane), ``[P]``."""
    x, y, z = to_local(points, center, rotation)
    return length(length(x, y) - major_radius, z) - minor_radius


def capped_cylinder(
    points: PointsLike, center: Vec3, radius: float, half_height: float, rotation: Optional[Rotation] = None
) -> Tensor:
    """Cylinder along the local z axis with flat caps at ``z = +-half_height``, exact ``[P]``."""
    x, y, z = to_local(points, center, rotation)
    radial, axial = length(x, y) - radius, z.abs() - half_height
    inside = torch.maximum(radial, axial).clamp_max(0.0)
    return inside + length(radial.clamp_min(0.0), axial.clamp_min(0.0))


def plane(points: PointsLike, normal: Vec3, offset: float) -> Tensor:
    """Half-space ``n . p <= offset`` is solid; ``normal`` must be unit length. ``[P]``."""
    x, y, z = as_xyz(points)
    return x * normal[0] + y * normal[1] + z * normal[2] - offset


def box_interior(points: PointsLike, center: Vec3, half_size: Vec3) -> Tensor:
    """The free space *inside* a box (a room): positive inside, negative in the walls, ``[P]``."""
    return -box(points, center, half_size)


def box_interior_face(points: PointsLike, center: Vec3, half_size: Vec3) -> Tensor:
    """Index ``[P]`` (long) of the nearest box face: 0/1 = -x/+x, 2/3 = -y/+y, 4/5 = -z/+z."""
    local = to_local(points, center)
    gaps = [g for c, h in zip(local, half_size) for g in (c + h, h - c)]  # distance to each face
    return _argmin(gaps)


def _argmin(values: Sequence[Tensor]) -> Tensor:
    """Index ``[P]`` (long) of the smallest of several ``[P]`` tensors (the first one on ties)."""
    best, index = values[0], torch.zeros_like(values[0], dtype=torch.long)
    for k, value in enumerate(values[1:], start=1):
        closer = value < best
        best = torch.where(closer, value, best)
        index = torch.where(closer, k, index)
    return index


def union(parts: Sequence[tuple[Tensor, Union[int, Tensor]]]) -> tuple[Tensor, Tensor]:
    """Union of solids: the minimum distance ``[P]`` and the material id ``[P]`` (long) of the closest.

    Args:
        parts: ``(distance [P], material)`` pairs; a material is an int or a ``[P]`` long tensor.
    """
    distance, material = parts[0][0], torch.as_tensor(parts[0][1], device=parts[0][0].device)
    material = material.long().expand_as(distance)
    for d, m in parts[1:]:
        closer = d < distance
        distance = torch.where(closer, d, distance)
        material = torch.where(closer, torch.as_tensor(m, device=d.device).long(), material)
    return distance, material


@dataclass(frozen=True)
class Shape:
    """One part of a scene.

    Attributes:
        distance: ``points -> signed distance [P]``; it receives an :data:`XYZ` tuple (the built-in
            primitives accept it; other functions can call :func:`as_points`).
        material: a material id, or ``points (XYZ) -> material id [P]`` (e.g. per wall of a room).
    """

    distance: Callable[[PointsLike], Tensor]
    material: Union[int, Callable[[PointsLike], Tensor]]


class SceneSDF:
    """The union of several shapes. Calling it returns the signed distance ``[P]`` of points ``[P, 3]``."""

    def __init__(self, shapes: Sequence[Shape]):
        if not shapes:
            raise ValueError("a SceneSDF needs at least one shape")
        self.shapes = tuple(shapes)

    def __call__(self, points: PointsLike) -> Tensor:
        xyz = as_xyz(points)
        distance = self.shapes[0].distance(xyz)
        for shape in self.shapes[1:]:
            distance = torch.minimum(distance, shape.distance(xyz))
        return distance

    def evaluate(self, points: PointsLike) -> tuple[Tensor, Tensor]:
        """Signed distance ``[P]`` and material id ``[P]`` (long) of the closest shape."""
        xyz = as_xyz(points)
        parts = []
        for shape in self.shapes:
            material = shape.material(xyz) if callable(shape.material) else shape.material
            parts.append((shape.distance(xyz), material))
        return union(parts)
