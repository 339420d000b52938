"""The viewer in a real browser: Debian's headless Chromium driven by Playwright, all on 127.0.0.1.

A tiny training runs in a thread with the viewer attached; the page is opened, paused and resumed
with its own buttons, its output selector switched to depth, and what the page shows is compared with
frames rendered offline from the same camera. Skipped only where Debian's chromium is not installed
(scripts/setup.sh installs it; CI runs this test).
"""

from __future__ import annotations

import importlib.util
import io
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nerfplex.config import config_from_dict
from nerfplex.data.loading import load_scene
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.viewer.config import ViewerConfig
from nerfplex.viewer.frames import browser_camera, image_size, output_picture
from nerfplex.viewer.training import attach_viewer

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _load_chromium_helper():
    spec = importlib.util.spec_from_file_location("headless_chromium", SCRIPTS / "headless_chromium.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


chromium = _load_chromium_helper()
VIEWPORT = {"width": 800, "height": 500}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium.chromium_path() is None,
        reason="Debian's chromium is not installed (scripts/setup.sh installs it: apt-get install -y chromium)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _page_step(page) -> int:
    match = re.search(r"step (\d+) /", page.inner_text("body"))
    assert match, "the page shows no training step"
    return int(match.group(1))


def _screenshot(page) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(np.float32) / 255


def _region(image: np.ndarray) -> np.ndarray:
    """The part of the canvas no control covers (controls: top right; notices: top left; axes: bottom
    left), as a fraction box of any image size."""
    h, w = image.shape[:2]
    return image[int(0.35 * h) : int(0.85 * h), int(0.1 * w) : int(0.55 * w)]


def _shown_like(screenshot: np.ndarray, picture: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference between the page and ``picture`` (uint8, upscaled to the page), and
    between the page and a flat image of the picture's mean colour (what a blank page would score)."""
    from PIL import Image

    h, w = screenshot.shape[:2]
    expected = np.asarray(Image.fromarray(picture).resize((w, h), Image.BILINEAR)).astype(np.float32) / 255
    shown, wanted = _region(screenshot), _region(expected)
    flat = np.broadcast_to(wanted.reshape(-1, 3).mean(axis=0), wanted.shape)
    return float(np.abs(shown - wanted).mean()), float(np.abs(shown - flat).mean())


@pytest.fixture
def training(tmp_path):
    config = config_from_dict(
        {
            "output_dir": str(tmp_path / "outputs"),
            "data": {
                "kind": "procedural",
                "scene": "object",
                "resolution": 24,
                "num_train_views": 12,
                "num_test_views": 2,
            },
            "model": {
                "method": "nerf",
                "nerf": {
                    "mlp": {
                        "num_layers": 2,
                        "width": 32,
                        "skip_layers": [0],
                        "position_frequencies": 4,
                        "direction_frequencies": 2,
                    },
                    "num_coarse_samples": 16,
                    "num_fine_samples": 8,
                },
            },
            "trainer": {
                "max_steps": 100000,
                "batch_size": 256,
                "eval_every": 0,
                "log_every": 50,
                "checkpoint_every": 100000,
                "render_chunk": 4096,
                "progress_bar": False,
            },
        }
    )
    trainer = Trainer(config, tmp_path / "run", scene=load_scene(config.data))
    viewer = attach_viewer(
        trainer,
        ViewerConfig(
            port=_free_port(),
            render_share=0.5,
            moving_resolution=32,
            max_resolution=64,
            refresh_seconds=1.0,
            keep_open=False,
        ),
    )
    errors = []

    def train():
        try:
            trainer.train()
        except TrainingInterrupted:
            pass
        except Exception as err:  # pragma: no cover - reported by the test
            errors.append(err)

    thread = threading.Thread(target=train, daemon=True)
    for _ in range(15):  # a model with some structure before the page opens
        trainer.train_step()
    thread.start()
    yield trainer, viewer
    trainer._stop_requested = True
    viewer.set_paused(False)
    thread.join(timeout=30)
    viewer.stop()
    assert not errors, errors


def test_page_renders_the_scene_pauses_resumes_and_shows_depth(training):
    from playwright.sync_api import sync_playwright

    trainer, viewer = training
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(viewer.url)
            _wait(lambda: viewer.views and viewer.frames_sent > 0, what="the first frame")

            # Training runs and the page says so.
            first = _page_step(page)
            _wait(lambda: _page_step(page) > first, what="the step count to advance")

            # Pause with the page's button: the step count stops, in the trainer and on the page.
            page.get_by_role("button", name="Pause training").click()
            _wait(lambda: "paused" in page.inner_text("body"), what="the paused state")
            paused_at = trainer.step
            time.sleep(1.5)
            assert trainer.step == paused_at
            assert _page_step(page) == paused_at

            # Look from a held-out camera; the refined frame must be the scene as rendered offline.
            viewer.set_helpers_visible(False)
            view = next(iter(viewer.views.values()))
            test_cameras = trainer.scene.test.cameras
            from nerfplex.viewer.frames import camera_pose

            wxyz, position, fov_y, _ = camera_pose(test_cameras, 0)
            viewer.move_camera(view.client, wxyz, position, fov_y)
            _wait(
                lambda: view.camera is not None and np.allclose(view.camera[1], position, atol=1e-4),
                what="the browser camera to move",
            )

            def refined_shown():
                return view.refined and view.shown_version == view.version

            _wait(refined_shown, what="the refined frame")
            time.sleep(1.0)  # the browser draws it
            wxyz_b, position_b, fov_b, aspect = view.camera
            width, height = image_size(aspect, viewer.config.max_resolution)
            camera = browser_camera(wxyz_b, position_b, fov_b, width, height)
            image = viewer.time_share.run_slice(lambda: viewer.frames.render(camera))
            rgb_expected = output_picture("rgb", image.rgb, image.depth, image.opacity, image.normals, camera)
            shot = _screenshot(page)
            error, blank = _shown_like(shot, rgb_expected)
            assert _region(shot).std() > 0.03, "the page shows a flat picture"
            assert error < 0.06 and error < 0.5 * blank, (error, blank)

            # The output selector switches the picture to depth.
            page.get_by_role("combobox", name="Output").click()  # a Mantine select: open it, pick
            page.get_by_role("option", name="depth").click()
            _wait(lambda: viewer.output == "depth", what="the output to switch to depth")
            _wait(refined_shown, what="the refined depth frame")
            time.sleep(1.0)
            depth_expected = output_picture("depth", image.rgb, image.depth, image.opacity, image.normals, camera)
            shot = _screenshot(page)
            error_depth, blank_depth = _shown_like(shot, depth_expected)
            error_rgb, _ = _shown_like(shot, rgb_expected)
            assert error_depth < 0.06 and error_depth < 0.5 * blank_depth, (error_depth, blank_depth)
            assert error_depth < error_rgb

            # Resume: the step count moves again.
            page.get_by_role("button", name="Resume training").click()
            _wait(lambda: trainer.step > paused_at + 2, what="training to resume")
            _wait(lambda: _page_step(page) > paused_at, what="the page's step count to move")
            page.screenshot(path=str(trainer.run_dir / "viewer.png"))
        finally:
            browser.close()


def test_nerfplex_view_serves_a_finished_run_until_ctrl_c(tiny_config, tiny_scene, tmp_path):
    """The command end to end: ``nerfplex view RUN`` in its own process loads the newest checkpoint,
    prints the address, a page opened there receives pictures of the scene, and Ctrl-C stops it."""
    import os
    import signal
    import subprocess
    import sys

    from playwright.sync_api import sync_playwright

    from nerfplex.config import save_config

    run = tmp_path / "run"
    Trainer(tiny_config, run, scene=tiny_scene).train()
    save_config(tiny_config, run / "config.yaml")
    port = _free_port()
    command = [sys.executable, "-m", "nerfplex.cli.main", "view", str(run), "--viewer.port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any("press Ctrl-C" in line for line in lines):
            line = process.stdout.readline()
            assert line, "nerfplex view exited early:\n" + "".join(lines)
            lines.append(line)
        printed = "".join(lines)
        assert f"open http://127.0.0.1:{port}" in printed and "at step 8" in printed
        pictures = []
        with sync_playwright() as playwright:
            browser = chromium.launch(playwright)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.on(
                    "websocket",
                    lambda ws: ws.on("framereceived", lambda p: chromium.carries_picture(p) and pictures.append(p)),
                )
                page.goto(f"http://127.0.0.1:{port}")
                end = time.monotonic() + 30
                while len(pictures) < 2 and time.monotonic() < end:  # the quick frame, then a sharper one
                    page.wait_for_timeout(50)
                assert len(pictures) >= 2, "the page received no pictures"
                assert "checkpoint step 8" in page.inner_text("body")
            finally:
                browser.close()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
        assert process.returncode == 0 and "viewer stopped" in output
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
