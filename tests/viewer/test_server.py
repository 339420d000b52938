"""The viewer on a finished run (``nerfplex view``): frames for a browser's camera, every output."""

from __future__ import annotations

import socket
import time

import pytest

from nerfplex.engine.trainer import Trainer
from nerfplex.viewer.config import ViewerConfig
from nerfplex.viewer.frames import camera_pose
from nerfplex.viewer.server import ViewedRun, Viewer, _BrowserView


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Client:
    client_id = 0

    def __init__(self):
        self.pictures = []
        self.scene = self

    def set_background_image(self, image, format="jpeg", jpeg_quality=None):
        self.pictures.append(image)


@pytest.fixture
def viewer(tiny_config, tiny_scene, tmp_path):
    trainer = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene)
    trainer.model.eval()
    viewer = Viewer(
        ViewedRun(trainer.model, tiny_scene, tiny_config, tmp_path / "run", 0),
        ViewerConfig(port=_port(), moving_resolution=8, max_resolution=16, still_seconds=0.0),
    )
    yield viewer
    viewer.stop()


def _frames(viewer, view, count, timeout=20.0):
    end = time.monotonic() + timeout
    while len(view.client.pictures) < count and time.monotonic() < end:
        time.sleep(0.02)
    return view.client.pictures


def test_a_browser_gets_a_quick_frame_then_a_refined_one_for_every_output(viewer, tiny_scene):
    view = _BrowserView(
        _Client(), camera=(*camera_pose(tiny_scene.test.cameras, 0)[:3], 2.0), moved_at=time.monotonic()
    )
    viewer.views[0] = view
    viewer._wake.set()
    pictures = _frames(viewer, view, 2)
    assert [p.shape for p in pictures[:2]] == [(4, 8, 3), (8, 16, 3)]  # quick, then refined (aspect 2)
    assert "s3im" not in viewer.output_dropdown.options  # no training batch to show
    for output in ("depth", "opacity", "normals"):
        count = len(view.client.pictures)
        viewer._set_output(output)
        pictures = _frames(viewer, view, count + 2)
        assert len(pictures) >= count + 2 and pictures[-1].dtype.name == "uint8"
    assert viewer.message.content == ""  # no render failed


def test_a_still_camera_gets_frames_of_doubling_resolution_up_to_the_refined_one(viewer, tiny_scene):
    viewer.resolution.value = 64
    view = _BrowserView(
        _Client(), camera=(*camera_pose(tiny_scene.test.cameras, 0)[:3], 2.0), moved_at=time.monotonic()
    )
    viewer.views[0] = view
    viewer._wake.set()
    pictures = _frames(viewer, view, 4)
    assert [p.shape[:2] for p in pictures] == [(4, 8), (8, 16), (16, 32), (32, 64)]
    time.sleep(0.3)
    assert len(view.client.pictures) == 4 and view.refined  # nothing more once the refined frame is shown


def test_the_announcement_warns_off_loopback(viewer, capsys):
    viewer.announce()
    out = capsys.readouterr().out
    assert viewer.url.startswith("http://127.0.0.1:") and "ssh -L" in out and "WARNING" not in out
    viewer.config.host = "0.0.0.0"
    viewer.announce()
    assert "anyone who can reach port" in capsys.readouterr().out
