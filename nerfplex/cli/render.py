"""``nerfplex render --load-config RUN/config.yaml``: videos of a trained run along a camera path."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import tyro

from nerfplex.errors import NerfplexError
from nerfplex.io import check_output_folder

OutputName = Literal["rgb", "depth", "normals"]


@dataclass
class RenderArgs:
    """Render a trained run (newest checkpoint) along a camera path: an orbit or a spiral around the
    scene, a smooth path through training cameras, or a JSON file. Writes mp4 videos (or PNG sequences)
    of rgb, depth and normals into RUN/renders/<path>_step<N>/ with the path as camera_path.json and
    render.json (timing; whether normals come from the SDF gradient or from depth)."""

    load_config: Path
    """The run's config.yaml (or the run folder)."""
    checkpoint: Optional[Path] = None
    """A checkpoint file of the run; default: its newest."""
    path: Literal["orbit", "spiral", "interpolate", "json"] = "orbit"
    """Camera path: orbit / spiral around the scene, interpolate through training cameras, json file."""
    path_file: Optional[Path] = None
    """The camera path file for --path json (format: docs/evaluation.md; every render writes one)."""
    frames: int = 30
    """Number of frames (orbit, spiral, interpolate)."""
    fps: float = 15.0
    """Frames per second of the video."""
    outputs: tuple[OutputName, ...] = ("rgb", "depth", "normals")
    """What to render: rgb, depth, normals."""
    format: Literal["mp4", "png"] = "mp4"
    """mp4 (needs imageio-ffmpeg; otherwise falls back to png with a message) or a PNG sequence."""
    output: Optional[Path] = None
    """Folder to write; default RUN/renders/<path>_step<N> (replacing an earlier render of that name)."""
    overwrite: bool = False
    """Replace an existing, non-empty --output folder that nerfplex wrote (never a folder it did not)."""
    scale: float = 1.0
    """Image size relative to the training images (0.5: half width and height)."""
    radius_scale: float = 1.0
    """Orbit / spiral distance relative to the training cameras' mean distance."""
    elevation_deg: Optional[float] = None
    """Orbit elevation in degrees; default: the training cameras' mean."""
    rotations: float = 2.0
    """Turns of the spiral."""
    keyframes: Optional[tuple[int, ...]] = None
    """Training camera indices to interpolate through, in order; default: 8 spread in azimuth."""
    render_chunk: Optional[int] = None
    """Rays per forward pass; default: the run's trainer.render_chunk."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to render: auto picks CUDA when available."""
    progress: bool = True
    """Show a progress bar."""


def build_path(args: RenderArgs, run):
    from nerfplex.eval import camera_paths

    train, aabb = run.scene.train.cameras, run.scene.aabb
    if args.scale <= 0:
        raise NerfplexError(f"--scale must be positive, got {args.scale}.")
    if args.path == "json":
        if args.path_file is None:
            raise NerfplexError(
                "--path json needs --path-file FILE.json (e.g. the camera_path.json of an earlier render)."
            )
        return camera_paths.load_path_json(args.path_file, train, args.scale)
    if args.path == "orbit":
        return camera_paths.orbit_path(
            train, args.frames, aabb, scale=args.scale, radius_scale=args.radius_scale, elevation_deg=args.elevation_deg
        )
    if args.path == "spiral":
        return camera_paths.spiral_path(
            train, args.frames, aabb, scale=args.scale, radius_scale=args.radius_scale, rotations=args.rotations
        )
    keyframes = list(args.keyframes) if args.keyframes else None
    return camera_paths.interpolation_path(train, args.frames, keyframes, aabb=aabb, scale=args.scale)


def render(args: RenderArgs) -> dict:
    """Render the path; returns render.json's content (plus ``output``)."""
    from nerfplex.cli.eval import resolve_device
    from nerfplex.eval.video import RenderSettings, render_path
    from nerfplex.render.background import background_colors
    from nerfplex.run_loading import load_run

    if args.frames < 1:
        raise NerfplexError(f"--frames must be at least 1, got {args.frames}.")
    for name in ("fps", "scale", "radius_scale"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise NerfplexError(f"--{name.replace('_', '-')} must be a finite positive number, got {value}.")
    for name in ("elevation_deg", "rotations"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise NerfplexError(f"--{name.replace('_', '-')} must be a finite number, got {value}.")
    if args.render_chunk is not None and args.render_chunk < 1:
        raise NerfplexError(f"--render-chunk must be at least 1, got {args.render_chunk}.")
    if args.output is not None:
        check_output_folder(args.output, args.overwrite)  # before any work
    if not args.outputs:
        raise NerfplexError("--outputs needs at least one of rgb, depth, normals.")
    run = load_run(args.load_config, args.checkpoint)
    cameras = build_path(args, run)
    device = resolve_device(args.device)
    config = run.config
    settings = RenderSettings(
        near=run.scene.near,
        far=run.scene.far,
        background=background_colors(config.trainer.eval_background, 1, "cpu")[0],
        chunk_size=args.render_chunk or config.trainer.render_chunk,
        max_samples=config.trainer.render_max_samples,
        aabb=run.scene.aabb if config.data.ray_bounds == "aabb" else None,
        outputs=tuple(dict.fromkeys(args.outputs)),
        format=args.format,
        fps=args.fps,
        progress=args.progress,
        info={
            "run": str(run.run_dir),
            "checkpoint": str(run.checkpoint),
            "step": run.step,
            "path": args.path,
            "method": config.model.method,
            "device": str(device),
        },
    )
    output = args.output or run.run_dir / "renders" / f"{args.path}_step{run.step}"
    info = render_path(run.model.to(device), cameras, settings, output, overwrite=args.overwrite or args.output is None)
    info["output"] = str(output)
    return info


def run(argv: list[str]) -> int:
    args = tyro.cli(RenderArgs, args=argv, prog="nerfplex render")
    info = render(args)
    if "mp4_unavailable" in info:
        print(f"note: wrote PNG sequences instead of mp4: {info['mp4_unavailable']}", file=sys.stderr)
    if info.get("normals_source"):
        print(f"normals from: {info['normals_source'].replace('_', ' ')}")
    threads = f"{info['torch_threads']} thread" + ("s" if info["torch_threads"] != 1 else "")
    print(
        f"{info['frames']} frames at {info['width']}x{info['height']} in {info['render_seconds']:.1f} s "
        f"({info['seconds_per_frame']:.2f} s/frame, {threads}): {info['output']}"
    )
    return 0
