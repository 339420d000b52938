"""The viewer's page (viser): live renders from the browser's camera, outputs, cameras, training state,
pause / resume, checkpoints and camera paths.

One render thread serves every connected browser: right after a camera move it renders a quick frame
(``moving_resolution``, smaller when the model could not render that in ``quick_frame_seconds``);
once the camera rests, frames of twice the resolution each, up to the refined one (``max_resolution``;
a slow model shows something sharper long before that one is done); and, while training goes on, the
refined frame again every ``refresh_seconds``. :mod:`nerfplex.viewer.frame_rendering` renders them,
in slices of the render credit (:mod:`nerfplex.viewer.time_share`) and without side effects on training.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.data.scene import SceneData
from nerfplex.errors import NerfplexError
from nerfplex.eval.camera_paths import scene_frame
from nerfplex.models.base import Model
from nerfplex.render.background import background_colors
from nerfplex.viewer.config import ViewerConfig
from nerfplex.viewer.frame_rendering import FrameRenderer
from nerfplex.viewer.frames import (
    OUTPUTS,
    browser_camera,
    camera_pose,
    image_size,
    s3im_picture,
)
from nerfplex.viewer.keyframes import Keyframe, render_command, save_keyframe_path
from nerfplex.viewer.time_share import TimeShare

if TYPE_CHECKING:
    from nerfplex.config import ExperimentConfig

MAX_FRUSTUMS = 150
"""Frustums drawn per split at most (evenly spaced cameras beyond that)."""


@dataclass
class ViewedRun:
    """What the viewer shows: a run's model (shared with training, if any), scene, config and folder."""

    model: Model
    scene: SceneData
    config: ExperimentConfig
    run_dir: Path
    step: int = 0


@dataclass
class _BrowserView:
    """One connected browser: its latest camera and what it has been shown."""

    client: object
    version: int = 0  # bumped by every camera move or output change
    camera: Optional[tuple[np.ndarray, np.ndarray, float, float]] = None  # wxyz, position, fov_y, aspect
    moved_at: float = 0.0
    shown_version: int = -1
    shown_side: int = 0  # longer side of the last picture shown for shown_version
    refined: bool = False  # the picture at the page's full resolution is shown
    refined_at: float = 0.0
    refined_step: int = -1
    timings: list[tuple[float, float]] = field(default_factory=list)  # (move time, quick frame sent)


class Viewer:
    """A viser server showing ``run``; ``training`` adds the controls a live run has."""

    def __init__(self, run: ViewedRun, config: ViewerConfig, training: bool = False):
        try:
            import viser  # imported here: only the viewer needs it
        except ImportError:
            raise NerfplexError(
                "the viewer needs the viser package: pip install -e '.[viewer]' (scripts/setup.sh installs it)."
            ) from None

        self.run, self.config, self.training = run, config, training
        self.time_share = TimeShare(config.render_share)
        self.paused = threading.Event()
        self.save_requested = threading.Event()
        self.changed = threading.Event()  # any control changed (wakes a paused trainer)
        self.finished = False
        self.last_batch: Optional[dict[str, Tensor]] = None
        self.output: str = "rgb"
        self.keyframes: list[Keyframe] = []
        self.views: dict[int, _BrowserView] = {}
        self.frames_sent = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        cfg = run.config
        aabb = run.scene.aabb if cfg.data.ray_bounds == "aabb" else None
        self.frames = FrameRenderer(
            run.model,
            self.time_share,
            # With a box, rays are clipped to it: no near plane, so the camera can go close.
            near=0.0 if aabb is not None else run.scene.near,
            far=1e5 if aabb is not None else run.scene.far,
            background=background_colors(cfg.trainer.eval_background, 1, "cpu")[0],
            chunk_rays=cfg.trainer.render_chunk,
            max_samples=cfg.trainer.render_max_samples,
            aabb=aabb,
            slice_seconds=config.slice_seconds,
        )

        self.server = viser.ViserServer(host=config.host, port=config.port, verbose=False)
        self.server.gui.configure_theme(show_share_button=False)  # never a public share link
        self._frame = scene_frame(run.scene.train.cameras, run.scene.aabb)
        self.server.scene.set_up_direction(tuple(float(v) for v in self._frame.up))
        self._build_scene()
        self._build_gui()
        self.server.on_client_connect(self._on_connect)
        self.server.on_client_disconnect(lambda client: self.views.pop(client.client_id, None))
        self._thread = threading.Thread(target=self._render_loop, name="nerfplex-viewer-render", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        return self.server.get_port()

    @property
    def url(self) -> str:
        host = self.config.host if self.config.host not in ("0.0.0.0", "::") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def announce(self, say: Callable[[str], None] = print) -> None:
        """Print the URL, the SSH-tunnel hint and, off loopback, the warning."""
        say(f"viewer: open {self.url} in a browser")
        if self.config.is_loopback:
            say(
                f"viewer: from another machine, tunnel first: ssh -L {self.port}:127.0.0.1:{self.port} "
                f"USER@THIS_MACHINE, then open http://127.0.0.1:{self.port}"
            )
        else:
            say(
                f"viewer: WARNING: listening on {self.config.host}: anyone who can reach port {self.port} can "
                f"watch and steer this run (pause it, write checkpoints and files). Prefer the default "
                f"--viewer.host 127.0.0.1 with an SSH tunnel."
            )

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.paused.clear()
        self.changed.set()
        self._thread.join(timeout=10)
        self.server.stop()

    # ------------------------------------------------------------------ scene
    def _build_scene(self) -> None:
        scene = self.run.scene
        size = float((scene.aabb[1] - scene.aabb[0]).norm())
        self._frustums = []
        for split, color in ((scene.train, (40, 90, 220)), (scene.test, (230, 120, 20))):
            cameras = split.cameras
            picks = np.linspace(0, len(cameras) - 1, min(len(cameras), MAX_FRUSTUMS)).round().astype(int)
            for index in sorted(set(picks.tolist())):
                wxyz, position, fov_y, aspect = camera_pose(cameras, index)
                name = f"/cameras/{'train' if split is scene.train else 'test'}/{split.names[index]}"
                handle = self.server.scene.add_camera_frustum(
                    name,
                    fov=fov_y,
                    aspect=aspect,
                    scale=0.04 * self._frame.radius,
                    color=color,
                    thickness=0.002 * self._frame.radius,
                    wxyz=wxyz,
                    position=position,
                )
                handle.on_click(self._fly_to(cameras, index))
                self._frustums.append(handle)
        lo, hi = scene.aabb[0].tolist(), scene.aabb[1].tolist()
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
        segments = np.stack([corners[[a, b]] for a, b in edges]).astype(np.float32)
        self._box = self.server.scene.add_line_segments(
            "/scene_box", segments, colors=(160, 160, 160), thickness=0.003 * size
        )

    def set_helpers_visible(self, visible: bool) -> None:
        """Show or hide the camera frustums and the scene box."""
        for handle in self._frustums + [self._box]:
            handle.visible = visible

    def _fly_to(self, cameras: Cameras, index: int):
        def fly(event) -> None:
            self.move_camera(event.client, *camera_pose(cameras, index)[:3])

        return fly

    @staticmethod
    def move_camera(client, wxyz: np.ndarray, position: np.ndarray, fov_y: float) -> None:
        """Put a browser's camera at a pose (rotation ``wxyz``, ``position``, vertical fov in radians)."""
        with client.atomic():
            client.camera.wxyz = wxyz
            client.camera.position = position
            client.camera.fov = fov_y

    # ------------------------------------------------------------------ controls
    def _build_gui(self) -> None:
        gui = self.server.gui
        self.status = gui.add_markdown(self._status_text({}))
        if self.training:
            self.pause_button = gui.add_button("Pause training", hint="Pause / resume the training loop")
            self.pause_button.on_click(lambda _: self.set_paused(not self.paused.is_set()))
            self.save_button = gui.add_button("Save checkpoint", hint="Write a checkpoint of the current step")
            self.save_button.on_click(lambda _: (self.save_requested.set(), self.changed.set()))
            self.message = gui.add_markdown("")
        else:
            self.message = gui.add_markdown("")
        with gui.add_folder("Render"):
            options = OUTPUTS if self.training else tuple(o for o in OUTPUTS if o != "s3im")
            self.output_dropdown = gui.add_dropdown(
                "Output", options, initial_value="rgb", hint="s3im: the virtual images of the last batch"
            )
            self.output_dropdown.on_update(lambda _: self._set_output(self.output_dropdown.value))
            self.share_slider = gui.add_slider(
                "Render share",
                min=0.05,
                max=0.95,
                step=0.05,
                initial_value=self.config.render_share,
                hint="Largest share of the time renders may take from training",
            )
            self.share_slider.on_update(lambda _: setattr(self.time_share, "share", float(self.share_slider.value)))
            self.resolution = gui.add_number(
                "Resolution",
                self.config.max_resolution,
                min=16,
                max=4096,
                step=16,
                hint="Longer side of the refined frame, pixels",
            )
            self.resolution.on_update(lambda _: self._invalidate())
            helpers = gui.add_checkbox("Cameras and box", True)
            helpers.on_update(lambda _: self.set_helpers_visible(helpers.value))
        with gui.add_folder("Camera path", expand_by_default=False):
            self.keyframe_count = gui.add_markdown("0 keyframes")
            gui.add_button("Add keyframe", hint="The current camera").on_click(self._add_keyframe)
            gui.add_button("Remove last keyframe").on_click(lambda _: self._edit_keyframes(self.keyframes[:-1]))
            gui.add_button("Clear keyframes").on_click(lambda _: self._edit_keyframes([]))
            self.path_frames = gui.add_number("Frames", 120, min=2, max=100000, step=1)
            self.path_fps = gui.add_number("FPS", 30.0, min=1.0, max=240.0, step=1.0)
            self.path_loop = gui.add_checkbox("Loop", False)
            self.path_name = gui.add_text("File name", "camera_path")
            gui.add_button("Save camera path").on_click(self._save_path)
            self.path_message = gui.add_markdown("")

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.paused.set()
        else:
            self.paused.clear()
        if self.training:
            self.pause_button.label = "Resume training" if paused else "Pause training"
        self.changed.set()

    def _set_output(self, name: str) -> None:
        self.output = name
        self._invalidate()

    def _invalidate(self) -> None:
        """Render every view again (an output or resolution change)."""
        for view in list(self.views.values()):
            view.version += 1
        self._wake.set()

    def _add_keyframe(self, event) -> None:
        camera = event.client.camera
        self.keyframes.append(Keyframe(np.array(camera.wxyz), np.array(camera.position), float(camera.fov)))
        self._edit_keyframes(self.keyframes)

    def _edit_keyframes(self, keyframes: list[Keyframe]) -> None:
        self.keyframes = list(keyframes)
        for handle in getattr(self, "_keyframe_handles", []):
            handle.remove()
        self._keyframe_handles = [
            self.server.scene.add_camera_frustum(
                f"/keyframes/{i}",
                fov=k.fov_y,
                aspect=4 / 3,
                scale=0.06 * self._frame.radius,
                color=(220, 30, 60),
                thickness=0.003 * self._frame.radius,
                wxyz=k.wxyz,
                position=k.position,
            )
            for i, k in enumerate(self.keyframes)
        ]
        self.keyframe_count.content = f"{len(self.keyframes)} keyframes"

    def _save_path(self, _event) -> None:
        train = self.run.scene.train.cameras
        try:
            path = save_keyframe_path(
                self.keyframes,
                self.run.run_dir / "camera_paths",
                self.path_name.value,
                int(self.path_frames.value),
                float(self.path_fps.value),
                train.width,
                train.height,
                closed=bool(self.path_loop.value),
            )
        except NerfplexError as err:
            self.path_message.content = f"**Not saved:** {err}"
            return
        self.path_message.content = (
            f"Saved `{path}`. Render it with:\n\n```\n{render_command(self.run.run_dir, path)}\n```"
        )

    # ------------------------------------------------------------------ training state
    def _status_text(self, state: dict) -> str:
        if not self.training:
            return (
                f"**{self.run.config.experiment_name}** · {self.run.config.model.method} · "
                f"checkpoint step {self.run.step}\n\n`{self.run.run_dir}`"
            )
        lines = [
            f"**Training** {state.get('state', 'starting')} · step {state.get('step', self.run.step)}"
            f" / {self.run.config.trainer.max_steps}"
        ]
        losses = state.get("losses", {})
        if losses:
            lines.append("\n".join(f"- {name}: {value:.5f}" for name, value in losses.items()))
        if state.get("psnr") is not None:
            lines.append(f"held-out PSNR {state['psnr']:.2f} dB (step {state['psnr_step']})")
        if state.get("rays_per_second"):
            lines.append(f"{state['rays_per_second']:,.0f} rays/s training")
        return "\n\n".join(lines)

    def show_training_state(self, state: dict) -> None:
        """``state``: ``step``, ``state`` (running / paused / finished), ``losses`` {name: float},
        ``psnr`` / ``psnr_step`` (latest held-out evaluation), ``rays_per_second``."""
        self.run.step = state.get("step", self.run.step)
        self.status.content = self._status_text(state)

    def show_message(self, text: str) -> None:
        self.message.content = text

    # ------------------------------------------------------------------ browsers
    def _on_connect(self, client) -> None:
        view = _BrowserView(client)
        self.views[client.client_id] = view

        def moved(camera) -> None:
            view.camera = (np.array(camera.wxyz), np.array(camera.position), float(camera.fov), float(camera.aspect))
            view.version += 1
            view.moved_at = time.monotonic()
            self._wake.set()

        client.camera.on_update(moved)
        train = self.run.scene.train.cameras
        wxyz, position, fov_y, _ = camera_pose(train, 0)
        client.camera.look_at = self._frame.center.numpy().astype(np.float64)
        self.move_camera(client, wxyz, position, fov_y)

    def _render_loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            for view in list(self.views.values()):
                try:
                    busy = self._serve(view) or busy
                except Exception as err:  # a render failure must not kill the page; show it
                    self.show_message(f"**Render failed:** {type(err).__name__}: {err}")
                    view.shown_version = view.version
                    view.refined = True
            if not busy:
                self._wake.wait(timeout=0.1)
                self._wake.clear()

    def _serve(self, view: _BrowserView) -> bool:
        """Do the next render this browser needs; False when it needs none now."""
        if view.camera is None:
            return False
        now = time.monotonic()
        version = view.version
        if view.shown_version != version:
            moved_at = view.moved_at
            side = self._send_frame(view, version, self.config.moving_resolution, priority=True)
            if side:
                view.timings = (view.timings + [(moved_at, time.monotonic())])[-50:]
                view.shown_version, view.shown_side, view.refined = version, side, False
            return True
        if not view.refined:
            if now - view.moved_at < self.config.still_seconds:
                return False
            target = int(self.resolution.value)
            side = self._send_frame(view, version, min(target, 2 * view.shown_side), priority=False)
            if side:
                view.shown_side = side
                if side >= target:
                    view.refined, view.refined_at, view.refined_step = True, time.monotonic(), self.run.step
            return True
        live = self.training and not self.finished and not self.paused.is_set()
        if live and self.run.step != view.refined_step and now - view.refined_at >= self.config.refresh_seconds:
            view.refined = False
            return True
        return False

    def _send_frame(self, view: _BrowserView, version: int, long_side: int, priority: bool) -> Optional[int]:
        """Render the view's camera (the quick frame when ``priority``, at most ``long_side``; else at
        ``long_side``) and send it. Returns the longer side of the picture sent (the S3IM picture, whole at
        any size: the refined resolution), None when the camera moved meanwhile. All torch work
        (rendering and making the picture) runs inside slices, i.e. in the training thread while training
        runs: a second thread's OpenMP team would slow training down."""
        wxyz, position, fov_y, aspect = view.camera
        if self.output == "s3im":
            batch = self.last_batch
            if batch is None:  # no step yet: nothing to show
                return int(self.resolution.value)
            config = self.run.config.loss.s3im
            picture = self.time_share.run_slice(lambda: s3im_picture(batch["rgb"], batch["target"], config), priority)
            side = int(self.resolution.value)  # the S3IM picture is whole at any size
        else:
            if priority:
                width, height = self.frames.quick_frame_size(aspect, long_side, self.config.quick_frame_seconds)
                cancelled = self._stop.is_set  # a quick frame is for a camera that just moved: never stale
            else:
                width, height = image_size(aspect, long_side)

                def cancelled() -> bool:
                    return view.version != version or self._stop.is_set()

            camera = browser_camera(wxyz, position, fov_y, width, height)
            picture = self.frames.picture(camera, self.output, priority, cancelled)
            if picture is None:
                return None
            side = max(width, height)
        view.client.scene.set_background_image(picture, format="jpeg", jpeg_quality=90)
        self.frames_sent += 1
        return side
