"""What the live viewer costs training, and how fast it answers a camera move (docs/performance.md).

On the built-in demo (TensoRF on the procedural object, 64x64, batch 1024), from step ``--start`` to
``--start + --steps``, wall-clock steps/s of three runs advanced in turns (``--rounds``):
  * plain training (no viewer);
  * training with the viewer serving and no browser connected (target: <= 2% slower);
  * training with one browser connected and still at the default render share (target: >= 75% of the
    plain steps/s). The browser is simulated on the server side: a client that receives every frame
    (rendering, colour mapping, JPEG encoding and queueing happen as for a real one); the browser's own
    drawing is not on this machine's bill.
Then the latency from a camera move to the first low-resolution frame sent (target <= 0.5 s), while
training and in ``nerfplex view`` mode (no training). Run it alone: ``flock -x /tmp/nerfplex-cpu.lock``.

    .venv/bin/python benchmarks/bench_viewer.py [--steps 40] [--start 20] [--moves 8]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import machine  # noqa: F401  (the CLI's CPU settings, before any torch work)
import numpy as np
import torch

from nerfplex.config import ExperimentConfig
from nerfplex.data.loading import load_scene
from nerfplex.engine.trainer import Trainer, TrainingInterrupted
from nerfplex.viewer.config import ViewerConfig
from nerfplex.viewer.frames import camera_pose
from nerfplex.viewer.server import ViewedRun, Viewer, _BrowserView
from nerfplex.viewer.training import attach_viewer

RESULTS = Path(__file__).parent / "results" / "viewer.json"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # headless_chromium (--browser)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Client:
    """A browser as the server sees it: frames go through the server's real path (encoding, message
    queue), sent to every connected page (none here)."""

    client_id = 0

    def __init__(self, viewer: Viewer):
        self.scene = viewer.server.scene


def _config(tmp: Path) -> ExperimentConfig:
    config = ExperimentConfig()
    config.output_dir = str(tmp)
    config.trainer.eval_every = 0
    config.trainer.checkpoint_every = 10**6
    config.trainer.progress_bar = False
    return config


def _browser(viewer: Viewer, scene, index: int = 0) -> _BrowserView:
    wxyz, position, fov_y, _ = camera_pose(scene.test.cameras, index)
    view = _BrowserView(_Client(viewer), camera=(wxyz, position, fov_y, 1.6), moved_at=time.monotonic())
    viewer.views[0] = view
    viewer._wake.set()
    return view


def _steps_per_second(scene, start: int, steps: int, rounds: int, tmp: Path) -> list[dict]:
    """Three runs from the same state, advanced in turns of ``steps // rounds`` steps (plain, viewer
    without a browser, viewer with a still browser), so that a change in the machine's load hits all
    three alike. The browser's view is taken away (and its frame in flight cancelled) while the other
    two train, so its renders never run beside them."""
    runs = {}
    for mode in ("plain", "viewer", "browser"):
        config = _config(tmp)
        trainer = Trainer(config, tmp / mode, scene=scene)
        trainer.train(until_step=start)
        viewer = view = None
        if mode != "plain":
            viewer = attach_viewer(trainer, ViewerConfig(port=_port(), keep_open=False))
            if mode == "browser":
                view = _browser(viewer, scene)
                viewer.views.pop(0)
        runs[mode] = {"trainer": trainer, "viewer": viewer, "view": view, "seconds": 0.0, "steps": 0}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for run in runs.values():
            trainer, viewer, view = run["trainer"], run["viewer"], run["view"]
            if view is not None:
                viewer.views[0] = view
                viewer._wake.set()
            begin = time.perf_counter()
            trainer.train(until_step=trainer.step + per_round)
            run["seconds"] += time.perf_counter() - begin
            run["steps"] += per_round
            if view is not None:
                viewer.views.pop(0)
                view.version += 1  # cancels a refined frame in flight
                view.shown_version = view.version  # and asks for no new quick frame
                time.sleep(0.5)
    results = []
    for mode, run in runs.items():
        result = {
            "mode": mode,
            "steps": run["steps"],
            "seconds": run["seconds"],
            "steps_per_second": run["steps"] / run["seconds"],
        }
        if run["viewer"] is not None:
            result["frames_sent"] = run["viewer"].frames_sent
            result["render_seconds"] = run["viewer"].time_share.render_seconds
            run["viewer"].stop()
        results.append(result)
    return results


def _move(view: _BrowserView, scene, angle: float) -> None:
    """Orbit the camera by ``angle`` about the scene's vertical axis through the box centre."""
    wxyz, position, fov_y, aspect = camera_pose(scene.test.cameras, 0)
    centre = scene.aabb.mean(dim=0).double().numpy()
    c, s = math.cos(angle), math.sin(angle)
    turn = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    from nerfplex.viewer.frames import quaternion_to_rotation, rotation_to_quaternion

    rotation = turn @ quaternion_to_rotation(wxyz)
    view.camera = (rotation_to_quaternion(rotation), centre + turn @ (position - centre), fov_y, aspect)
    view.moved_at = time.monotonic()
    view.version += 1


def _latency(viewer: Viewer, view: _BrowserView, scene, moves: int, pause: float) -> list[float]:
    """Seconds from each of ``moves`` camera moves to the quick frame sent for it (inf: none came
    within 10 s)."""
    latencies = []
    for i in range(moves):
        time.sleep(pause)
        done = len(view.timings)
        _move(view, scene, 0.3 * (i + 1))
        viewer._wake.set()
        deadline = time.monotonic() + 10
        while len(view.timings) == done and time.monotonic() < deadline:
            time.sleep(0.002)
        if len(view.timings) > done:
            moved, sent = view.timings[-1]
            latencies.append(sent - moved)
        else:
            latencies.append(math.inf)  # no frame within 10 s: a defect, counted as such
    return latencies


def _start_training(trainer: Trainer) -> threading.Thread:
    """``trainer`` training on in a thread of its own, until :func:`_stop_training`."""

    def train():
        try:
            trainer.train()
        except TrainingInterrupted:  # stopped by _stop_training
            pass

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    return thread


def _stop_training(trainer: Trainer, thread: threading.Thread) -> None:
    trainer._stop_requested = True
    thread.join(timeout=60)


def _training_latency(scene, start: int, moves: int, tmp: Path) -> list[float]:
    config = _config(tmp)
    trainer = Trainer(config, tmp / "latency", scene=scene)
    trainer.train(until_step=start)
    viewer = attach_viewer(trainer, ViewerConfig(port=_port(), keep_open=False))
    view = _browser(viewer, scene)
    thread = _start_training(trainer)
    try:
        return _latency(viewer, view, scene, moves, pause=1.5)
    finally:
        _stop_training(trainer, thread)
        viewer.stop()


def _view_latency(scene, start: int, moves: int, tmp: Path) -> list[float]:
    config = _config(tmp)
    trainer = Trainer(config, tmp / "view", scene=scene)
    trainer.train(until_step=start)
    trainer.model.eval()
    viewer = Viewer(
        ViewedRun(trainer.model, scene, config, tmp / "view", trainer.step), ViewerConfig(port=_port(), keep_open=False)
    )
    view = _browser(viewer, scene)
    try:
        return _latency(viewer, view, scene, moves, pause=1.0)
    finally:
        viewer.stop()


def _real_browser(scene, start: int, steps: int, moves: int, tmp: Path) -> dict:
    """Debian's headless Chromium on this machine (Playwright): steps/s of the same run advanced in
    turns with and without a page open and still, then the time from a mouse drag in the page to the
    first picture arriving over its websocket, while training."""
    from headless_chromium import carries_picture, launch
    from playwright.sync_api import sync_playwright

    runs = {}
    for mode in ("plain", "browser"):
        trainer = Trainer(_config(tmp), tmp / f"real-{mode}", scene=scene)
        trainer.train(until_step=start)
        runs[mode] = {"trainer": trainer, "seconds": 0.0, "steps": 0}
    viewer = attach_viewer(runs["browser"]["trainer"], ViewerConfig(port=_port(), keep_open=False))
    arrivals: list[float] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 500})

            def received(payload) -> None:
                if carries_picture(payload):
                    arrivals.append(time.monotonic())

            page.on("websocket", lambda ws: ws.on("framereceived", received))
            page.goto(viewer.url)
            while not arrivals:
                page.wait_for_timeout(50)
            viewer.set_helpers_visible(False)
            for button in page.locator(".mantine-Notification-root button").all():  # the software-WebGL notice
                button.click()
            page.wait_for_timeout(3000)  # the refined frame is drawn; the page is still from here on
            per_turn = max(1, steps // 4)
            frames, render_seconds = viewer.frames_sent, viewer.time_share.render_seconds
            ((client_id, view),) = viewer.views.items()
            for _ in range(4):
                for mode, run in runs.items():
                    if mode == "browser":
                        viewer.views[client_id] = view
                        viewer._wake.set()
                    begin = time.perf_counter()
                    run["trainer"].train(until_step=run["trainer"].step + per_turn)
                    run["seconds"] += time.perf_counter() - begin
                    run["steps"] += per_turn
                    if mode == "browser":  # no render may run beside the plain run (as in _steps_per_second)
                        viewer.views.pop(client_id)
                        view.version += 1
                        view.shown_version = view.version
                    page.wait_for_timeout(500)  # the page's events are handled, a frame in flight ends
            viewer.views[client_id] = view
            frames, render_seconds = viewer.frames_sent - frames, viewer.time_share.render_seconds - render_seconds
            trainer = runs["browser"]["trainer"]
            thread = _start_training(trainer)
            latencies = []
            try:
                for i in range(moves):
                    page.wait_for_timeout(1500)
                    seen = len(arrivals)
                    page.mouse.move(400, 250)
                    page.mouse.down()
                    moved = time.monotonic()
                    page.mouse.move(400 + 30 * (1 if i % 2 else -1), 250)  # one step: one camera update
                    page.mouse.up()
                    while len(arrivals) == seen and time.monotonic() < moved + 10:
                        page.wait_for_timeout(2)
                    latencies.append(arrivals[seen] - moved if len(arrivals) > seen else math.inf)
            finally:
                _stop_training(trainer, thread)
        finally:
            browser.close()
            viewer.stop()
    plain, still = (runs[m]["steps"] / runs[m]["seconds"] for m in ("plain", "browser"))
    return {
        "steps_per_second_plain": plain,
        "steps_per_second_page_open_still": still,
        "page_open_still_fraction_of_plain": still / plain,
        "page_open_still_frames_sent": frames,
        "page_open_still_render_seconds": render_seconds,
        "drag_to_first_picture_s": _finite(latencies),
        "drag_to_first_picture_median_s": _finite([statistics.median(latencies or [math.inf])])[0],
        "drag_to_first_picture_max_s": _finite([max(latencies or [math.inf])])[0],
        "drag_missed": sum(math.isinf(x) for x in latencies),
    }


def _finite(values: list[float]) -> list:
    """``values`` for JSON: a missed frame (inf) as null."""
    return [v if math.isfinite(v) else None for v in values]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--start", type=int, default=20)
    parser.add_argument("--moves", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6, help="turns the three runs take (steps / rounds each)")
    parser.add_argument(
        "--browser", action="store_true", help="also measure with Debian's headless Chromium on this machine"
    )
    args = parser.parse_args(argv)
    scene = load_scene(ExperimentConfig().data)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        runs = _steps_per_second(scene, args.start, args.steps, args.rounds, tmp)
        for run in runs:
            print(f"{run['mode']:8s} {run['steps_per_second']:.3f} steps/s", flush=True)
        train_latency = _training_latency(scene, args.start, args.moves, tmp)
        view_latency = _view_latency(scene, args.start, args.moves, tmp)
        real = _real_browser(scene, args.start, args.steps, args.moves, tmp) if args.browser else None
    plain = runs[0]["steps_per_second"]
    result = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.python_version()}",
        "scene": "demo (TensoRF, procedural object 64x64, batch 1024)",
        "steps": f"{args.start}..{args.start + args.steps} in {args.rounds} turns per run",
        "defaults": {
            "render_share": ViewerConfig().render_share,
            "moving_resolution": ViewerConfig().moving_resolution,
            "max_resolution": ViewerConfig().max_resolution,
        },
        "runs": runs,
        "viewer_no_browser_slowdown_percent": 100 * (1 - runs[1]["steps_per_second"] / plain),
        "browser_still_fraction_of_plain": runs[2]["steps_per_second"] / plain,
        "first_frame_missed_training": sum(math.isinf(x) for x in train_latency),
        "first_frame_missed_view": sum(math.isinf(x) for x in view_latency),
        "first_frame_latency_training_s": _finite(train_latency),
        "first_frame_latency_training_median_s": _finite([statistics.median(train_latency or [math.inf])])[0],
        "first_frame_latency_training_max_s": _finite([max(train_latency or [math.inf])])[0],
        "first_frame_latency_view_s": _finite(view_latency),
        "first_frame_latency_view_median_s": _finite([statistics.median(view_latency or [math.inf])])[0],
        "first_frame_latency_view_max_s": _finite([max(view_latency or [math.inf])])[0],
        "real_browser": real,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
