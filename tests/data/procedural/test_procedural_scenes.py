"""make_procedural_scene: shapes, determinism, splits, closed-form depth checks, argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.data.procedural import make_procedural_scene, procedural_kinds
from nerfplex.data.procedural.raytrace import TraceSettings, render_images
from nerfplex.data.procedural.scenes import (
    OBJECT_CAMERA_RADIUS,
    OBJECT_SPHERE_CENTER,
    OBJECT_SPHERE_RADIUS,
    ROOM_CAMERA_CLEARANCE,
    ROOM_HALF,
    ROOM_PITCH_DEGREES,
    object_scene,
    room_scene,
)
from nerfplex.data.scene import SceneData
from nerfplex.errors import NerfplexError


@pytest.fixture(scope="module")
def obj() -> SceneData:
    return make_procedural_scene("object", 24, 5, 3, seed=0)


@pytest.fixture(scope="module")
def room() -> SceneData:
    return make_procedural_scene("room", 16, 4, 2, seed=0)


def test_kinds():
    assert procedural_kinds() == ["object", "room"]


@pytest.mark.parametrize("name", ["obj", "room"])
def test_shapes_dtypes_and_ranges(name, request):
    scene = request.getfixturevalue(name)
    size = scene.train.cameras.width
    for split, count in ((scene.train, len(scene.train)), (scene.test, len(scene.test))):
        assert split.rgb.shape == (count, size, size, 3) and split.rgb.dtype == torch.float32
        assert split.rgb.min() >= 0.0 and split.rgb.max() <= 1.0
        assert split.names == [f"r_{i}" for i in range(count)]
        assert split.cameras.c2w.shape == (count, 3, 4) and split.cameras.height == size
        torch.testing.assert_close(split.cameras.cx, torch.full((count,), size / 2))
    depth = scene.train.depth[..., 0]
    assert depth.shape == (len(scene.train), size, size) and depth.dtype == torch.float32
    assert scene.test.depth[..., 0].shape == (len(scene.test), size, size)
    finite = depth[torch.isfinite(depth)]
    assert finite.numel() > 0 and finite.min() > scene.near and finite.max() < scene.far
    assert scene.aabb.shape == (2, 3)
    # the images are textured, not blank
    assert scene.train.composite(torch.ones(3)).std(dim=(0, 1, 2)).min() > 0.05


def test_object_scene_metadata_and_alpha(obj):
    assert obj.name == "procedural-object"
    torch.testing.assert_close(obj.aabb, torch.tensor([[-1.0] * 3, [1.0] * 3]))
    assert obj.near == pytest.approx(OBJECT_CAMERA_RADIUS - math.sqrt(3.0))
    assert obj.far == pytest.approx(OBJECT_CAMERA_RADIUS + math.sqrt(3.0))
    alpha, rgb = obj.train.alpha, obj.train.rgb
    assert alpha.shape == (5, 24, 24, 1) and alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert (rgb <= alpha + 1e-6).all(), "rgb must be premultiplied by alpha"
    corners = alpha[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 0.0).all()
    assert (alpha[:, 12, 12] == 1.0).all()
    assert ((alpha > 0) & (alpha < 1)).any(), "silhouettes should be anti-aliased"
    # depth is finite exactly where the pixel-centre ray hits: inside the silhouette
    depth = obj.train.depth[..., 0]
    assert torch.isfinite(depth[alpha[..., 0] == 1.0]).all()
    assert torch.isinf(depth[alpha[..., 0] == 0.0]).all()


def test_object_cameras_on_sphere_looking_at_origin(obj):
    for split in (obj.train, obj.test):
        c2w = split.cameras.c2w
        eye = c2w[:, :, 3]
        torch.testing.assert_close(eye.norm(dim=-1), torch.full((len(split),), OBJECT_CAMERA_RADIUS))
        torch.testing.assert_close(c2w[:, :, 2], -eye / eye.norm(dim=-1, keepdim=True))
        torch.testing.assert_close(
            c2w[:, :, :3] @ c2w[:, :, :3].transpose(1, 2), torch.eye(3).expand(len(split), 3, 3), atol=1e-5, rtol=0
        )


def _box_surface(lo, hi, n: int) -> torch.Tensor:
    """``[6 n^2, 3]`` points on the faces of the box ``[lo, hi]``."""
    u = torch.linspace(0.0, 1.0, n)
    a, b = (t.reshape(-1) for t in torch.meshgrid(u, u, indexing="ij"))
    faces = []
    for axis in range(3):
        others = [k for k in range(3) if k != axis]
        for side in (lo, hi):
            p = torch.empty(a.numel(), 3)
            p[:, axis] = side[axis]
            p[:, others[0]] = lo[others[0]] + a * (hi[others[0]] - lo[others[0]])
            p[:, others[1]] = lo[others[1]] + b * (hi[others[1]] - lo[others[1]])
            faces.append(p)
    return torch.cat(faces)


def test_object_geometry_stays_inside_09_cube_and_clip_box():
    spec = object_scene()
    lo, hi = spec.clip_aabb
    # nothing crosses the faces of either box ...
    assert spec.sdf(_box_surface(torch.full((3,), -0.9), torch.full((3,), 0.9), 61)).min() > 0.0
    assert spec.sdf(_box_surface(lo, hi, 61)).min() > 0.0
    # ... and nothing lies wholly outside the clip box
    g = torch.linspace(-1.0, 1.0, 41)
    p = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), dim=-1).reshape(-1, 3)
    assert spec.sdf(p[((p < lo) | (p > hi)).any(dim=-1)]).min() > 0.0
    assert (spec.aabb[0] <= lo).all() and (hi <= spec.aabb[1]).all()


def test_room_scene(room):
    assert room.name == "procedural-room" and room.train.alpha is None and room.test.alpha is None
    half = torch.tensor(ROOM_HALF)
    torch.testing.assert_close(room.aabb, torch.stack([-half, half]))
    assert room.near == pytest.approx(0.05) and room.far == pytest.approx(float(2 * half.norm()))
    assert torch.isfinite(room.train.depth[..., 0]).all()
    sdf = room.extras["sdf"]
    for split in (room.train, room.test):
        eye, forward = split.cameras.c2w[:, :, 3], split.cameras.c2w[:, :, 2]
        assert (sdf(eye) >= ROOM_CAMERA_CLEARANCE - 1e-5).all()
        pitch = torch.rad2deg(torch.asin(forward[:, 2]))
        assert (pitch >= ROOM_PITCH_DEGREES[0] - 1e-3).all()
        assert (pitch <= ROOM_PITCH_DEGREES[1] + 1e-3).all()


def test_same_seed_identical_other_seed_different():
    a = make_procedural_scene("object", 8, 3, 2, seed=3)
    b = make_procedural_scene("object", 8, 3, 2, seed=3)
    c = make_procedural_scene("object", 8, 3, 2, seed=4)
    for name in ("rgb", "alpha"):
        assert torch.equal(getattr(a.train, name), getattr(b.train, name))
        assert torch.equal(getattr(a.test, name), getattr(b.test, name))
    assert torch.equal(a.train.cameras.c2w, b.train.cameras.c2w)
    assert torch.equal(a.test.depth, b.test.depth)
    assert not torch.allclose(a.train.cameras.c2w, c.train.cameras.c2w)
    assert not torch.allclose(a.test.cameras.c2w, c.test.cameras.c2w)


@pytest.mark.parametrize("kind", ["object", "room"])
def test_test_cameras_differ_from_train_and_prefixes_are_stable(kind):
    small = make_procedural_scene(kind, 4, 3, 2, seed=1)
    large = make_procedural_scene(kind, 4, 8, 6, seed=1)
    train_eyes, test_eyes = large.train.cameras.c2w[:, :, 3], large.test.cameras.c2w[:, :, 3]
    assert torch.cdist(train_eyes, test_eyes).min() > 1e-2
    assert torch.equal(small.train.cameras.c2w, large.train.cameras.c2w[:3])
    assert torch.equal(small.test.cameras.c2w, large.test.cameras.c2w[:2])


def _one_camera(eye, target, size: int, fov_deg: float) -> Cameras:
    c2w = look_at(torch.tensor([eye]), torch.tensor([target]), torch.tensor([0.0, 0.0, 1.0]))
    focal = torch.full((1,), 0.5 * size / math.tan(math.radians(fov_deg) / 2))
    centre = torch.full((1,), size / 2)
    return Cameras(c2w, focal, focal, centre, centre, size, size)


def test_object_depth_matches_ray_sphere_intersection():
    spec = object_scene()
    centre = torch.tensor(OBJECT_SPHERE_CENTER)
    eye = centre + 4.0 * torch.nn.functional.normalize(torch.tensor([0.2, -0.5, 1.0]), dim=0)
    cameras = _one_camera(eye.tolist(), centre.tolist(), 16, 40.0)
    images = render_images(
        spec.sdf, cameras, spec.near, spec.far, TraceSettings(clip_aabb=spec.clip_aabb), supersample=1
    )
    origins, dirs = cameras.generate_rays(torch.tensor([0]), torch.tensor([8]), torch.tensor([8]))
    # closed form: |o + t d - c| = r  =>  t = b - sqrt(b^2 - (|o - c|^2 - r^2)), b = d . (c - o)
    oc = centre - origins[0]
    b = dirs[0] @ oc
    t = b - torch.sqrt(b * b - (oc @ oc - OBJECT_SPHERE_RADIUS**2))
    assert images.depth[0, 8, 8].item() == pytest.approx(t.item(), abs=1e-3)
    assert images.alpha[0, 8, 8, 0].item() == 1.0


def test_room_depth_matches_distance_to_floor():
    spec = room_scene()
    cameras = _one_camera([-0.75, -0.5, 0.2], [-0.7, -0.4, -1.25], 9, 30.0)
    images = render_images(
        spec.sdf, cameras, spec.near, spec.far, TraceSettings(opaque=True), spec.lighting, supersample=1
    )
    origins, dirs = cameras.image_rays(0)
    expected = (origins[:, 2] + ROOM_HALF[2]) / -dirs[:, 2]  # ray-plane distance to z = -1.25
    torch.testing.assert_close(images.depth[0].reshape(-1), expected, atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="sphere"), "object, room"),
        (dict(resolution=0), "resolution"),
        (dict(resolution=2.5), "resolution"),
        (dict(num_train=-1), "num_train"),
        (dict(num_test=0), "num_test"),
        (dict(num_train=True), "num_train"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    args = dict(kind="object", resolution=8, num_train=2, num_test=1, seed=0) | kwargs
    with pytest.raises(NerfplexError, match=message):
        make_procedural_scene(**args)


def test_rendering_restores_torch_thread_count():
    before = torch.get_num_threads()
    make_procedural_scene("object", 4, 1, 1, seed=0)
    assert torch.get_num_threads() == before
