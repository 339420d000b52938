"""Rendering a camera path into videos (mp4) or image sequences: rgb, depth, normals.

Frames are rendered one at a time (in chunks of rays) and streamed to one writer per output, so memory
holds one frame. mp4 goes through imageio's ffmpeg plugin (the ``imageio-ffmpeg`` package, which ships
an ffmpeg binary: ``pip install -e '.[video]'``); without it the frames are written as PNG sequences
and the reason is reported. Everything is written into a staging folder renamed into place at the end.

Layout of a render folder (default ``RUN/renders/<path>_step<N>/``)::

    rgb.mp4 | rgb/00000.png ...      one per requested output (rgb, depth, normals)
    camera_path.json                 the path, re-usable with --path json --path-file
    render.json                      settings, timing, where the normals came from
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from torch import Tensor

from nerfplex.cameras import Cameras
from nerfplex.data.images import to_uint8, write_png
from nerfplex.eval.camera_paths import path_to_json
from nerfplex.eval.view_rendering import image_normals, normals_image, ray_progress, render_view
from nerfplex.eval.visualize import depth_image
from nerfplex.io import staged_output, write_text_atomic
from nerfplex.models.base import Model

Output = Literal["rgb", "depth", "normals"]
VideoFormat = Literal["mp4", "png"]


def ffmpeg_status() -> Optional[str]:
    """None when mp4 can be written here, else the reason it cannot."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        return "the imageio-ffmpeg package is not installed (pip install -e '.[video]')"
    except RuntimeError as err:
        return f"imageio-ffmpeg found no ffmpeg executable ({err})"
    return None


class Mp4Writer:
    """H.264 (yuv420p, so players everywhere open it) through imageio's ffmpeg plugin. Odd image sizes
    are padded by one edge pixel, as yuv420p needs even sizes."""

    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v2 as imageio

        self.path = path
        self.writer = imageio.get_writer(
            str(path),
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            quality=8,
            pixelformat="yuv420p",
            macro_block_size=1,
        )

    def append(self, frame: Tensor) -> None:
        data = to_uint8(frame.detach().cpu().numpy())
        pad = ((0, data.shape[0] % 2), (0, data.shape[1] % 2), (0, 0))
        self.writer.append_data(np.pad(data, pad, mode="edge") if any(p[1] for p in pad) else data)

    def close(self) -> None:
        self.writer.close()


class PngSequenceWriter:
    """``folder/00000.png, 00001.png, ...``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def append(self, frame: Tensor) -> None:
        write_png(self.path / f"{self.count:05d}.png", frame)
        self.count += 1

    def close(self) -> None:
        pass


@dataclass
class RenderSettings:
    """How the frames are rendered and stored."""

    near: float
    far: float
    background: Tensor
    """Uniform background ``[3]``."""
    chunk_size: int = 8192
    max_samples: int = 0
    """Bound on the candidate samples held at once (0: only ``chunk_size``)."""
    aabb: Optional[Tensor] = None
    outputs: tuple[str, ...] = ("rgb",)
    format: VideoFormat = "mp4"
    fps: float = 15.0
    progress: bool = True
    info: dict = field(default_factory=dict)
    """Extra entries for render.json (run, step, path kind, ...)."""


def depth_range(cameras: Cameras, near: float, far: float, aabb: Optional[Tensor]) -> tuple[float, float]:
    """The depth range of the colour map for a whole path: ``near`` / ``far`` tightened to the distances
    between the cameras and the scene box's bounding sphere, so the object spans the colour map."""
    if aabb is None:
        return near, far
    center, half_diagonal = aabb.mean(dim=0), float((aabb[1] - aabb[0]).norm()) / 2
    distance = (cameras.c2w[:, :, 3] - center).norm(dim=-1)
    low = max(near, float((distance - half_diagonal).min()))
    high = min(far, float((distance + half_diagonal).max()))
    return (low, high) if high > low else (near, far)


def render_path(
    model: Model, cameras: Cameras, settings: RenderSettings, out_dir: Path, overwrite: bool = False
) -> dict:
    """Render every camera of ``cameras`` into ``out_dir`` (atomically; an existing non-empty ``out_dir``
    is replaced only with ``overwrite`` and only when nerfplex wrote it); returns render.json's content.

    Depth frames share one colour scale (:func:`depth_range`); normals are camera-frame, from the SDF
    gradient when the model outputs ``normals`` (NeuS), else from depth by finite differences."""
    unknown = [o for o in settings.outputs if o not in ("rgb", "depth", "normals")]
    if unknown:
        raise ValueError(f"unknown outputs {unknown}; choose from rgb, depth, normals")
    fmt, fallback = settings.format, None
    if fmt == "mp4":
        fallback = ffmpeg_status()
        if fallback is not None:
            fmt = "png"
    was_training = model.training
    model.eval()
    normals_source = None
    depth_low, depth_high = depth_range(cameras, settings.near, settings.far, settings.aabb)
    with staged_output(Path(out_dir), "render", overwrite) as staging:
        writers = {
            name: (
                Mp4Writer(staging / f"{name}.mp4", settings.fps) if fmt == "mp4" else PngSequenceWriter(staging / name)
            )
            for name in settings.outputs
        }
        start = time.perf_counter()
        bar = ray_progress(len(cameras) * cameras.height * cameras.width, "render", settings.progress)
        try:
            for index in range(len(cameras)):
                image = render_view(
                    model,
                    cameras,
                    index,
                    settings.near,
                    settings.far,
                    settings.background,
                    settings.chunk_size,
                    settings.aabb,
                    max_samples=settings.max_samples,
                    progress=bar,
                )
                frames = {
                    "rgb": lambda image=image: image.rgb.clamp(0, 1),
                    "depth": lambda image=image: depth_image(image.depth, image.opacity, depth_low, depth_high),
                }
                for name, writer in writers.items():
                    if name == "normals":
                        normals, normals_source = image_normals(image.normals, image.depth, cameras, index)
                        writer.append(normals_image(normals, image.opacity))
                    else:
                        writer.append(frames[name]())
        finally:
            bar.close()
            for writer in writers.values():
                writer.close()
            model.train(was_training)
        seconds = time.perf_counter() - start
        info = {
            **settings.info,
            "frames": len(cameras),
            "width": cameras.width,
            "height": cameras.height,
            "fps": settings.fps,
            "format": fmt,
            "outputs": {name: writer.path.name for name, writer in writers.items()},
            "normals_source": normals_source,
            "depth_colormap_range": [depth_low, depth_high],
            "render_seconds": seconds,
            "seconds_per_frame": seconds / max(len(cameras), 1),
            "torch_threads": torch.get_num_threads(),
        }
        if fallback is not None:
            info["mp4_unavailable"] = fallback
        path_json = json.dumps(path_to_json(cameras, settings.fps), indent=1)
        write_text_atomic(staging / "camera_path.json", path_json)
        write_text_atomic(staging / "render.json", json.dumps(info, indent=2))
    return info
