"""The viewer on a training run: same weights as without it, pause / resume, checkpoints on request."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import torch

from nerfplex.engine.hooks import TrainerHook
from nerfplex.engine.trainer import Trainer
from nerfplex.viewer.config import ViewerConfig
from nerfplex.viewer.frames import camera_pose
from nerfplex.viewer.server import _BrowserView
from nerfplex.viewer.training import attach_viewer


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _FakeScene:
    def __init__(self):
        self.pictures = []

    def set_background_image(self, image, format="jpeg", jpeg_quality=None):
        self.pictures.append(image)


class _FakeClient:
    """Stands in for a browser: receives pictures."""

    client_id = 0

    def __init__(self):
        self.scene = _FakeScene()


class _MovingCamera(TrainerHook):
    """Moves the fake browser's camera after every step, so a quick frame is due at each step end, and
    waits (up to a second) until the render thread has queued its slice: on an idle machine the tiny
    steps would otherwise all end before the render thread wakes, and nothing would interleave."""

    def __init__(self, view, time_share):
        self.view = view
        self.time_share = time_share

    def on_step_end(self, trainer, values):
        self.view.version += 1
        self.view.moved_at = time.monotonic()
        deadline = time.monotonic() + 1.0
        while not self.time_share._queue and time.monotonic() < deadline:
            time.sleep(0.005)


def _viewer(trainer, **options):
    config = ViewerConfig(
        port=_port(), moving_resolution=8, max_resolution=16, still_seconds=0.0, keep_open=False, **options
    )
    viewer = attach_viewer(trainer, config)
    view = _BrowserView(_FakeClient(), camera=(*camera_pose(trainer.scene.test.cameras, 0)[:3], 1.0))
    viewer.views[0] = view
    return viewer, view


@pytest.mark.slow
def test_training_with_renders_in_between_reaches_the_same_weights(tiny_config, tiny_scene, tmp_path):
    tiny_config.trainer.max_steps = 12
    plain = Trainer(tiny_config, tmp_path / "plain", scene=tiny_scene)
    plain.train()
    plain_rng = torch.random.get_rng_state()

    watched = Trainer(tiny_config, tmp_path / "watched", scene=tiny_scene)
    viewer, view = _viewer(watched, render_share=0.9)
    watched.hooks.insert(0, _MovingCamera(view, viewer.time_share))
    try:
        watched.train()
    finally:
        viewer.stop()
    assert viewer.frames_sent >= 3 and viewer.time_share.render_seconds > 0  # renders did interleave
    for name, value in plain.model.state_dict().items():
        assert torch.equal(value, watched.model.state_dict()[name]), name
    assert torch.equal(torch.random.get_rng_state(), plain_rng)
    assert watched.model.training  # renders put the model back in training mode


def test_pause_holds_training_and_a_checkpoint_can_be_saved_meanwhile(tiny_config, tiny_scene, tmp_path):
    tiny_config.trainer.max_steps = 40
    tiny_config.trainer.checkpoint_every = 1000
    trainer = Trainer(tiny_config, tmp_path / "run", scene=tiny_scene)
    viewer, _ = _viewer(trainer)
    viewer.set_paused(True)
    thread = threading.Thread(target=trainer.train)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while "paused" not in viewer.status.content and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "paused" in viewer.status.content
        step = trainer.step
        viewer.save_requested.set()
        viewer.changed.set()
        time.sleep(0.5)
        assert trainer.step == step == 1
        assert (tmp_path / "run" / "checkpoints").is_dir() and "checkpoint saved" in viewer.message.content
        viewer.set_paused(False)
        thread.join(timeout=60)
        assert trainer.step == 40 and "finished" in viewer.status.content
    finally:
        viewer.set_paused(False)
        thread.join(timeout=60)
        viewer.stop()
