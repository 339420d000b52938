"""Camera paths: geometry of orbit / spiral / interpolation, quaternion helpers, JSON round trips."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nerfplex.cameras import OPENGL_TO_OPENCV, Cameras, look_at
from nerfplex.errors import NerfplexError
from nerfplex.eval.camera_paths import (
    interpolation_path,
    keyframes_by_azimuth,
    load_path_json,
    matrix_to_quaternion,
    orbit_path,
    path_to_json,
    quaternion_to_matrix,
    scene_frame,
    slerp,
    spiral_path,
)

AABB = torch.tensor([[-1.0, -1.0, -0.5], [1.0, 1.0, 1.5]])  # centre (0, 0, 0.5)


def _ring(count: int = 12, radius: float = 4.0, height: float = 2.5) -> Cameras:
    """Cameras on a horizontal ring above the box centre, looking at it, z up."""
    angle = torch.arange(count) * (2 * math.pi / count) + 0.3
    eye = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle), torch.full_like(angle, height)], dim=-1)
    c2w = look_at(eye, torch.tensor([0.0, 0.0, 0.5]).expand_as(eye), torch.tensor([0.0, 0.0, 1.0]))
    focal = torch.full((count,), 50.0)
    return Cameras(c2w, focal, focal * 1.1, torch.full((count,), 20.0), torch.full((count,), 15.0), 40, 30)


def _assert_rotations(c2w: torch.Tensor) -> None:
    rotation = c2w[:, :, :3]
    assert torch.allclose(rotation.transpose(1, 2) @ rotation, torch.eye(3).expand_as(rotation), atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(len(c2w)), atol=1e-5)


def test_scene_frame_recovers_the_rings_geometry():
    frame = scene_frame(_ring(), AABB)
    assert torch.allclose(frame.center, torch.tensor([0.0, 0.0, 0.5]))
    assert torch.allclose(frame.up, torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)
    assert frame.radius == pytest.approx(math.hypot(4.0, 2.0), rel=1e-5)
    assert frame.elevation == pytest.approx(math.atan2(2.0, 4.0), rel=1e-5)
    no_box = scene_frame(_ring())  # nearest point to the optical axes
    assert torch.allclose(no_box.center, torch.tensor([0.0, 0.0, 0.5]), atol=1e-4)


def test_orbit_circles_the_centre_looking_at_it():
    train = _ring()
    path = orbit_path(train, 30, AABB)
    assert len(path) == 30 and (path.width, path.height) == (40, 30)
    assert torch.allclose(path.fx, train.fx[:1].expand(30))
    assert torch.allclose(path.fy, train.fy[:1].expand(30))
    _assert_rotations(path.c2w)
    centre = torch.tensor([0.0, 0.0, 0.5])
    offsets = path.c2w[:, :, 3] - centre
    assert torch.allclose(offsets.norm(dim=-1), torch.full((30,), math.hypot(4.0, 2.0)), atol=1e-4)
    assert torch.allclose(offsets[:, 2], torch.full((30,), 2.0), atol=1e-4)  # same elevation
    forward = path.c2w[:, :, 2]
    assert torch.allclose(forward, -offsets / offsets.norm(dim=-1, keepdim=True), atol=1e-5)
    first_azimuth = math.atan2(train.c2w[0, 1, 3], train.c2w[0, 0, 3])
    assert math.atan2(offsets[0, 1], offsets[0, 0]) == pytest.approx(first_azimuth, abs=1e-5)
    steps = torch.atan2(offsets[:, 1], offsets[:, 0]).diff() % (2 * math.pi)
    assert torch.allclose(steps, torch.full((29,), 2 * math.pi / 30), atol=1e-4)  # one even turn
    half = orbit_path(train, 4, AABB, scale=0.5, radius_scale=2.0, elevation_deg=0.0)
    assert (half.width, half.height) == (20, 15) and half.fx[0] == pytest.approx(25.0)
    assert torch.allclose(half.c2w[:, 2, 3], torch.full((4,), 0.5), atol=1e-5)


def test_spiral_swings_and_loops():
    path = spiral_path(_ring(), 40, AABB, rotations=2, elevation_amplitude_deg=10, radius_amplitude=0.1)
    _assert_rotations(path.c2w)
    offsets = path.c2w[:, :, 3] - torch.tensor([0.0, 0.0, 0.5])
    distances = offsets.norm(dim=-1)
    assert distances.max() / distances.min() > 1.15
    elevation = torch.rad2deg(torch.asin(offsets[:, 2] / distances))
    assert elevation.max() - elevation.min() == pytest.approx(20.0, abs=1.0)


def test_quaternions_round_trip_and_slerp_halfway():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(64, 4, generator=g)
    q = q / q.norm(dim=-1, keepdim=True)
    rotation = quaternion_to_matrix(q)
    back = matrix_to_quaternion(rotation)
    assert torch.allclose(quaternion_to_matrix(back), rotation, atol=1e-5)
    assert torch.allclose(back.abs(), q.abs(), atol=1e-5)
    about_z = lambda a: torch.tensor([[math.cos(a / 2), 0.0, 0.0, math.sin(a / 2)]])  # noqa: E731
    halfway = slerp(about_z(0.0), about_z(1.0), torch.tensor([0.5]))
    assert torch.allclose(halfway, about_z(0.5), atol=1e-6)
    assert torch.allclose(slerp(about_z(0.2), about_z(0.2), torch.tensor([0.3])), about_z(0.2), atol=1e-6)


def test_interpolation_passes_through_its_keyframes():
    train = _ring()
    keys = [0, 3, 7, 9]
    path = interpolation_path(train, 40, keys)  # closed: 10 frames per segment
    _assert_rotations(path.c2w)
    for number, key in enumerate(keys):
        assert torch.allclose(path.c2w[10 * number], train.c2w[key], atol=1e-5)
    open_path = interpolation_path(train, 31, keys, closed=False)
    assert torch.allclose(open_path.c2w[-1], train.c2w[9], atol=1e-5)
    steps = (path.c2w[1:, :, 3] - path.c2w[:-1, :, 3]).norm(dim=-1)
    assert steps.max() < 3 * steps.mean()  # smooth: no jumps
    picked = keyframes_by_azimuth(train, 4, AABB)
    assert len(set(picked)) == 4 and picked[0] == 0
    with pytest.raises(NerfplexError, match="keyframes"):
        interpolation_path(train, 10, [0, 40])


def test_json_round_trip_and_opengl_input(tmp_path):
    train = _ring()
    path = orbit_path(train, 5, AABB)
    file = tmp_path / "path.json"
    file.write_text(json.dumps(path_to_json(path, fps=12)))
    loaded = load_path_json(file, train)
    assert torch.allclose(loaded.c2w, path.c2w, atol=1e-6) and torch.allclose(loaded.fx, path.fx)
    assert (loaded.width, loaded.height) == (path.width, path.height)
    opengl = torch.cat([path.c2w[:, :, :3] @ OPENGL_TO_OPENCV, path.c2w[:, :, 3:]], dim=-1)
    bottom = torch.tensor([[[0.0, 0.0, 0.0, 1.0]]]).expand(5, 1, 4)
    file.write_text(
        json.dumps(
            {
                "convention": "opengl",
                "fov_x_deg": 90,
                "width": 64,
                "height": 32,
                "frames": [{"c2w": m.tolist()} for m in torch.cat([opengl, bottom], 1)],
            }
        )
    )
    loaded = load_path_json(file, train)
    assert torch.allclose(loaded.c2w, path.c2w, atol=1e-6)
    assert loaded.fx[0] == pytest.approx(32.0) and loaded.cx[0] == pytest.approx(32.0)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ('{"frames": []}', "non-empty 'frames'"),
        ('{"frames": [{"c2w": [[1, 0], [0, 1]]}]}', "3x4 or 4x4"),
        ('{"frames": [{"pose": 1}]}', "needs 'c2w'"),
        ('{"frames": [{"c2w": [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]}]}', "orthonormal"),
        ('{"convention": "blender", "frames": [{"c2w": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]}]}', "convention"),
    ],
)
def test_bad_json_paths_are_explained(tmp_path, content, message):
    file = tmp_path / "bad.json"
    file.write_text(content)
    with pytest.raises(NerfplexError, match=message):
        load_path_json(file, _ring())
    with pytest.raises(NerfplexError, match="does not exist"):
        load_path_json(tmp_path / "missing.json", _ring())
