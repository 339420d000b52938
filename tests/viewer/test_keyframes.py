"""Camera paths placed in the viewer, saved as files that ``nerfplex render --path json`` reads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.errors import NerfplexError
from nerfplex.eval.camera_paths import load_path_json
from nerfplex.viewer.frames import camera_pose
from nerfplex.viewer.keyframes import Keyframe, render_command, save_keyframe_path


def _keyframes(count: int) -> list[Keyframe]:
    angles = torch.linspace(0, math.pi, count)
    eye = torch.stack([3 * torch.cos(angles), 3 * torch.sin(angles), torch.ones(count)], dim=-1)
    c2w = look_at(eye, torch.zeros(count, 3), torch.tensor([0.0, 0.0, 1.0]))
    cameras = Cameras(
        c2w,
        torch.full((count,), 50.0),
        torch.full((count,), 50.0),
        torch.full((count,), 32.0),
        torch.full((count,), 24.0),
        64,
        48,
    )
    return [Keyframe(*camera_pose(cameras, i)[:3]) for i in range(count)]


def test_saved_path_loads_as_render_reads_it_and_starts_at_the_first_keyframe(tmp_path):
    keyframes = _keyframes(3)
    path = save_keyframe_path(keyframes, tmp_path / "camera_paths", "tour", 10, 24.0, 64, 48)
    train = Cameras(torch.eye(3, 4)[None], torch.ones(1), torch.ones(1), torch.ones(1), torch.ones(1), 8, 8)
    cameras = load_path_json(path, train)
    assert len(cameras) == 10 and (cameras.width, cameras.height) == (64, 48)
    assert torch.allclose(cameras.c2w[0, :, 3], torch.tensor(keyframes[0].position, dtype=torch.float32), atol=1e-5)
    assert torch.allclose(cameras.c2w[-1, :, 3], torch.tensor(keyframes[-1].position, dtype=torch.float32), atol=1e-5)
    assert float(cameras.fy[0]) == pytest.approx(24 / math.tan(keyframes[0].fov_y / 2), rel=1e-5)
    assert "--path json --path-file" in render_command(tmp_path, path)


def test_saving_never_overwrites(tmp_path):
    first = save_keyframe_path(_keyframes(2), tmp_path, "tour", 4, 10.0, 16, 16)
    second = save_keyframe_path(_keyframes(2), tmp_path, "tour.json", 4, 10.0, 16, 16)
    assert first.name == "tour.json" and second.name == "tour-1.json"


def test_mistakes_are_clear_errors(tmp_path):
    with pytest.raises(NerfplexError, match="at least 2 keyframes"):
        save_keyframe_path(_keyframes(1), tmp_path, "tour", 4, 10.0, 16, 16)
    with pytest.raises(NerfplexError, match="plain file name"):
        save_keyframe_path(_keyframes(2), tmp_path, "../tour", 4, 10.0, 16, 16)
    assert not list(tmp_path.iterdir())


def test_quaternions_round_trip():
    keyframe = _keyframes(2)[1]
    from nerfplex.viewer.frames import quaternion_to_rotation, rotation_to_quaternion

    rotation = quaternion_to_rotation(keyframe.wxyz)
    assert np.allclose(rotation_to_quaternion(rotation), keyframe.wxyz, atol=1e-9)
