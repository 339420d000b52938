"""The two built-in procedural scenes: their geometry, materials, bounds and camera distributions.

The geometry is fixed (the same for every seed, so that results with different seeds stay
comparable); the seed draws the cameras. World up is +z; cameras use the OpenCV convention.

* ``object``: four textured solids inside ``|x|, |y|, |z| <= 0.9``, seen from cameras on a sphere of
  radius 4 (upper hemisphere plus some views from below the horizon), white background.
* ``room``: the inside of a 4 x 4 x 2.5 box with textured walls, floor and ceiling and four
  furniture-like solids, seen from cameras inside it looking in mostly horizontal directions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.cameras import look_at
from nerfplex.data.procedural import sdf as S
from nerfplex.data.procedural.raytrace import Lighting
from nerfplex.data.procedural.textures import Material as M

WORLD_UP = (0.0, 0.0, 1.0)
SQRT3 = math.sqrt(3.0)


@dataclass(frozen=True)
class SceneSpec:
    """A procedural scene definition.

    Attributes:
        sdf: the scene's signed distance and materials.
        aabb: ``[2, 3]`` bounds of the scene.
        near, far: ray bounds.
        fov_x: horizontal field of view in radians.
        opaque: the images have no background (every ray hits).
        sample_c2w: ``(rng, n) -> c2w [n, 3, 4]`` camera-to-world matrices (OpenCV axes).
        lighting: ambient and directional lights for shading.
        clip_aabb: ``[2, 3]`` box that holds all geometry (rays are traced only inside it), or None
            for closed scenes where every ray hits.
    """

    name: str
    sdf: S.SceneSDF
    aabb: Tensor
    near: float
    far: float
    fov_x: float
    opaque: bool
    sample_c2w: Callable[[np.random.Generator, int], Tensor]
    lighting: Lighting = Lighting()
    clip_aabb: Optional[Tensor] = None


# ----------------------------------------------------------------------------------------- object
OBJECT_CAMERA_RADIUS = 4.0
OBJECT_MIN_Z, OBJECT_MAX_Z = -0.3, 0.95
"""Range of the camera direction's z component: down to about 17 degrees below the horizon."""
OBJECT_SPHERE_CENTER, OBJECT_SPHERE_RADIUS = (-0.1, -0.1, 0.02), 0.38
"""The checkered sphere encloses the origin, so every camera's central pixel sees an object."""
OBJECT_CLIP = ((-0.8, -0.65, -0.9), (0.9, 0.65, 0.5))
"""A tight box around the object scene's solids (checked by the tests); tracing starts at its entry."""


def object_sdf() -> S.SceneSDF:
    """A rounded-box pedestal with a checkered sphere, a tilted torus and a banded cylinder."""
    return S.SceneSDF(
        [
            S.Shape(
                partial(S.rounded_box, center=(0.0, 0.0, -0.6), half_size=(0.75, 0.6, 0.25), radius=0.08),
                M.BLUE_STRIPES,
            ),
            S.Shape(partial(S.sphere, center=OBJECT_SPHERE_CENTER, radius=OBJECT_SPHERE_RADIUS), M.RED_CHECKER),
            S.Shape(
                partial(
                    S.torus,
                    center=(0.45, 0.35, 0.1),
                    major_radius=0.3,
                    minor_radius=0.1,
                    rotation=S.rotation_x(math.radians(60.0)),
                ),
                M.GOLD_GRADIENT,
            ),
            S.Shape(
                partial(S.capped_cylinder, center=(0.45, -0.35, -0.1), radius=0.15, half_height=0.25), M.GREEN_BANDS
            ),
        ]
    )


def sample_object_c2w(rng: np.random.Generator, n: int) -> Tensor:
    """``n`` cameras at radius 4 looking at the origin, directions uniform over the spherical band
    ``OBJECT_MIN_Z <= z <= OBJECT_MAX_Z``: ``[n, 3, 4]``."""
    u = torch.from_numpy(rng.random((n, 2))).float()
    z = OBJECT_MIN_Z + (OBJECT_MAX_Z - OBJECT_MIN_Z) * u[:, 0]
    phi = 2.0 * math.pi * u[:, 1]
    r_xy = (1.0 - z * z).sqrt()
    eye = OBJECT_CAMERA_RADIUS * torch.stack([r_xy * phi.cos(), r_xy * phi.sin(), z], dim=-1)
    return look_at(eye, torch.zeros_like(eye), torch.tensor(WORLD_UP))


def object_scene() -> SceneSpec:
    return SceneSpec(
        name="procedural-object",
        sdf=object_sdf(),
        aabb=torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]),
        near=OBJECT_CAMERA_RADIUS - SQRT3,
        far=OBJECT_CAMERA_RADIUS + SQRT3,
        fov_x=math.radians(40.0),
        opaque=False,
        sample_c2w=sample_object_c2w,
        clip_aabb=torch.tensor(OBJECT_CLIP),
    )


# ------------------------------------------------------------------------------------------- room
ROOM_HALF = (2.0, 2.0, 1.25)
ROOM_CAMERA_CLEARANCE = 0.45
"""Cameras keep at least this distance from every surface."""
ROOM_EYE_Z = (-0.5, 0.5)
ROOM_PITCH_DEGREES = (-25.0, 15.0)
ROOM_LIGHTING = Lighting(ambient=0.45, directions=((0.4, 0.6, 0.7), (-0.5, -0.3, -0.8)), intensities=(0.35, 0.3))
"""Brighter ambient and a fill light from below, so that the ceiling is not dark."""
_WALL_MATERIALS = torch.tensor(
    [M.WALL_STRIPES, M.WALL_STRIPES, M.WALL_GRADIENT, M.WALL_GRADIENT, M.FLOOR_TILES, M.CEILING]
)


def _room_material(points: Tensor) -> Tensor:
    face = S.box_interior_face(points, (0.0, 0.0, 0.0), ROOM_HALF)
    return _WALL_MATERIALS.to(face.device)[face]


def room_sdf() -> S.SceneSDF:
    """Room walls (x walls striped, y walls graded), tiled floor, ceiling, a table, a cabinet against
    a wall, a ball on the floor and a pillar."""
    floor = -ROOM_HALF[2]
    return S.SceneSDF(
        [
            S.Shape(partial(S.box_interior, center=(0.0, 0.0, 0.0), half_size=ROOM_HALF), _room_material),
            S.Shape(
                partial(S.rounded_box, center=(0.55, 0.5, floor + 0.35), half_size=(0.6, 0.4, 0.35), radius=0.05),
                M.WOOD,
            ),
            S.Shape(partial(S.box, center=(-1.7, -0.6, floor + 0.6), half_size=(0.3, 0.7, 0.6)), M.TEAL_STRIPES),
            S.Shape(partial(S.sphere, center=(-0.7, 1.2, floor + 0.3), radius=0.3), M.ORANGE_GRADIENT),
            S.Shape(
                partial(S.capped_cylinder, center=(1.3, -1.2, 0.0), radius=0.22, half_height=ROOM_HALF[2]),
                M.PURPLE_BANDS,
            ),
        ]
    )


def _room_candidates(rng: np.random.Generator, n: int) -> tuple[Tensor, Tensor]:
    """``n`` candidate eyes ``[n, 3]`` and unit view directions ``[n, 3]``; each candidate uses five
    consecutive random numbers, so accepted cameras form one stream independent of batch size."""
    u = torch.from_numpy(rng.random((n, 5))).float()
    mx, my = ROOM_HALF[0] - ROOM_CAMERA_CLEARANCE, ROOM_HALF[1] - ROOM_CAMERA_CLEARANCE
    low, high = torch.tensor([-mx, -my, ROOM_EYE_Z[0]]), torch.tensor([mx, my, ROOM_EYE_Z[1]])
    eye = low + (high - low) * u[:, :3]
    yaw = 2.0 * math.pi * u[:, 3]
    pitch = torch.deg2rad(ROOM_PITCH_DEGREES[0] + (ROOM_PITCH_DEGREES[1] - ROOM_PITCH_DEGREES[0]) * u[:, 4])
    direction = torch.stack([pitch.cos() * yaw.cos(), pitch.cos() * yaw.sin(), pitch.sin()], dim=-1)
    return eye, direction


def sample_room_c2w(rng: np.random.Generator, n: int, sdf: S.SceneSDF) -> Tensor:
    """``n`` cameras inside the room, at least ``ROOM_CAMERA_CLEARANCE`` from any surface, looking
    in directions within ``ROOM_PITCH_DEGREES`` of the horizontal: ``[n, 3, 4]``."""
    eyes, directions = [], []
    accepted = 0
    while accepted < n:
        eye, direction = _room_candidates(rng, 4 * n + 16)
        keep = sdf(eye) >= ROOM_CAMERA_CLEARANCE
        eyes.append(eye[keep])
        directions.append(direction[keep])
        accepted += int(keep.sum())
    eye, direction = torch.cat(eyes)[:n], torch.cat(directions)[:n]
    return look_at(eye, eye + direction, torch.tensor(WORLD_UP))


def room_scene() -> SceneSpec:
    sdf = room_sdf()
    half = torch.tensor(ROOM_HALF)
    return SceneSpec(
        name="procedural-room",
        sdf=sdf,
        aabb=torch.stack([-half, half]),
        near=0.05,
        far=float(2.0 * half.norm()),
        fov_x=math.radians(80.0),
        opaque=True,
        sample_c2w=lambda rng, n: sample_room_c2w(rng, n, sdf),
        lighting=ROOM_LIGHTING,
    )


SCENES: dict[str, Callable[[], SceneSpec]] = {"object": object_scene, "room": room_scene}
"""Scene kinds by name."""
