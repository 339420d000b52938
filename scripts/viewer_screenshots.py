"""Screenshots of the live viewer for the docs (docs/images/viewer_*.png).

Trains the built-in demo with the viewer attached up to ``--steps``, pauses it from the page, and
photographs the page in Debian's headless Chromium (Playwright, all on 127.0.0.1) with each output:
rgb (cameras and box shown), depth, normals and the S3IM virtual images of the last batch.

    .venv/bin/python scripts/viewer_screenshots.py [--steps 250] [--out docs/images]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from headless_chromium import launch

from nerfplex.config import ExperimentConfig
from nerfplex.data.loading import load_scene
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.viewer.config import ViewerConfig
from nerfplex.viewer.frames import camera_pose
from nerfplex.viewer.training import attach_viewer


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the viewer did not get there in time")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    config = ExperimentConfig()
    config.trainer.progress_bar = False
    with tempfile.TemporaryDirectory() as folder:
        config.output_dir = folder
        trainer = Trainer(config, Path(folder) / "demo", scene=load_scene(config.data))
        trainer.train(until_step=args.steps)
        viewer = attach_viewer(trainer, ViewerConfig(port=_port(), keep_open=False, max_resolution=512))
        thread = threading.Thread(target=lambda: _train(trainer), daemon=True)
        thread.start()
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1200, "height": 750})
            page.goto(viewer.url)
            _wait(lambda: viewer.views and viewer.frames_sent > 0)
            time.sleep(3)
            page.get_by_role("button", name="Pause training").click()
            _wait(lambda: viewer.paused.is_set())
            view = next(iter(viewer.views.values()))
            wxyz, position, fov_y, _ = camera_pose(trainer.scene.test.cameras, 3)
            centre = trainer.scene.aabb.mean(dim=0).numpy()
            viewer.move_camera(view.client, wxyz, centre + 1.9 * (position - centre), fov_y)
            args.out.mkdir(parents=True, exist_ok=True)
            for button in page.locator(".mantine-Notification-root button").all():  # the software-WebGL notice
                button.click()
            for output in ("rgb", "depth", "normals", "s3im"):
                if output != "rgb":
                    viewer.set_helpers_visible(False)  # the pictures alone
                    page.get_by_role("combobox", name="Output").click()
                    page.get_by_role("option", name=output).click()
                    _wait(lambda output=output: viewer.output == output)
                time.sleep(0.5)
                _wait(lambda: view.refined and view.shown_version == view.version)
                time.sleep(1.5)
                page.screenshot(path=str(args.out / f"viewer_{output}.png"))
                print(f"wrote {args.out / f'viewer_{output}.png'}", flush=True)
            browser.close()
        trainer._stop_requested = True
        viewer.set_paused(False)
        thread.join(timeout=60)
        viewer.stop()


def _train(trainer: Trainer) -> None:
    try:
        trainer.train()
    except TrainingInterrupted:
        pass


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
