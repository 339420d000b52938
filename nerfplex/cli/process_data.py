"""``nerfplex process-data --images PHOTOS --out SCENE`` (or ``--video FILE``): camera poses for your own
captures with pycolmap on the CPU, written as a scene folder that ``nerfplex train --data.path SCENE`` reads."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Optional

import tyro

from nerfplex.errors import NerfplexError

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


@dataclass
class ProcessDataArgs:
    """Recover camera poses from photos (``--images``) or a video (``--video``) with pycolmap (SIFT features,
    matching, incremental mapping; CPU only, no display) and write a scene folder: ``images/`` (+
    ``images_2/4/8``), ``sparse/0/`` (COLMAP binary model) and ``transforms.json`` (OpenCV intrinsics and
    distortion). Then: ``nerfplex train --data.path OUT``."""

    out: Path
    """Scene folder to create (must not exist, or be empty; --overwrite replaces one process-data wrote)."""
    images: Optional[Path] = None
    """Folder of photos (JPEG / PNG / TIFF, one size; sub-folders are included)."""
    video: Optional[Path] = None
    """A video file (mp4, mov, ...): frames are extracted first (see --num-frames)."""
    num_frames: int = 150
    """Video: how many frames to keep: the video is cut into this many equal runs and the sharpest frame
    (highest variance of the Laplacian) of each run is kept."""
    matcher: Literal["auto", "exhaustive", "sequential"] = "auto"
    """Which image pairs are matched: ``exhaustive`` (every pair; best for photos, O(n^2)), ``sequential``
    (each image with its next --sequential-overlap ones; for video frames); ``auto``: sequential for a video
    or more than 200 photos, else exhaustive."""
    sequential_overlap: int = 10
    """Sequential matching: how many following images each image is matched with."""
    camera_model: Literal["SIMPLE_RADIAL", "OPENCV", "PINHOLE", "SIMPLE_PINHOLE", "RADIAL"] = "SIMPLE_RADIAL"
    """COLMAP camera model to estimate: SIMPLE_RADIAL (one focal length, one radial term: phones),
    OPENCV (fx fy cx cy k1 k2 p1 p2: wide lenses), PINHOLE (no distortion: renders, undistorted images)."""
    shared_camera: bool = True
    """All images come from one camera with fixed zoom (one set of intrinsics); --no-shared-camera
    estimates intrinsics per image."""
    max_image_size: int = 1600
    """Images are shrunk to at most this many pixels on the long side for feature extraction only (the
    poses and intrinsics are for the full images)."""
    downscales: tuple[int, ...] = (2, 4, 8)
    """Smaller copies written as images_N/ (for --data.downscale N); empty for none."""
    min_registered_fraction: float = 0.5
    """Fail (writing nothing) when fewer than this fraction of the images get a pose."""
    seed: int = 0
    """Random seed of pycolmap's RANSAC and mapper."""
    overwrite: bool = False
    """Replace --out when it is a scene process-data wrote earlier."""
    progress: bool = True
    """Progress bars per stage."""


def _list_images(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise NerfplexError(
            f"--images {folder} {'is not a folder' if folder.exists() else 'does not exist'}; "
            f"pass the folder that holds the photos."
        )
    names = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not names:
        present = sorted(p.name for p in folder.iterdir())[:8]
        raise NerfplexError(
            f"--images {folder} holds no photos (looked for {', '.join(_IMAGE_SUFFIXES)}); it holds "
            f"{present or 'nothing'}. Put the photos there or pass --video for a video."
        )
    return names


def _check_sizes(folder: Path, names: list[str]) -> tuple[int, int]:
    """All photos one size (read from the file headers); a clear error otherwise."""
    from PIL import Image, UnidentifiedImageError

    sizes: dict[tuple[int, int], list[str]] = {}
    for name in names:
        try:
            with Image.open(folder / name) as image:
                sizes.setdefault(image.size, []).append(name)
        except (UnidentifiedImageError, OSError) as exc:
            raise NerfplexError(f"photo {folder / name} cannot be read ({exc}); remove or replace it.") from exc
    if len(sizes) > 1:
        listing = "; ".join(
            f"{w}x{h}: {len(v)} ({', '.join(v[:3])}{', ...' if len(v) > 3 else ''})"
            for (w, h), v in sorted(sizes.items(), key=lambda kv: -len(kv[1]))
        )
        raise NerfplexError(
            f"the photos in {folder} have {len(sizes)} different sizes ({listing}); nerfplex trains "
            f"on one image size. Resize or crop them to one size (or remove the odd ones) and run "
            f"again."
        )
    return next(iter(sizes))


def process_data(args: ProcessDataArgs) -> dict:
    """Run the whole pipeline; return the summary (also written to ``OUT/process_data.json``)."""
    from nerfplex.captures.frames import VIDEO_SUFFIXES, extract_frames
    from nerfplex.captures.scene_writer import REPORT_NAME, write_scene
    from nerfplex.captures.sfm import SfmOptions, import_pycolmap, reconstruct
    from nerfplex.io import check_output_folder, staged_output, write_text_atomic

    if (args.images is None) == (args.video is None):
        raise NerfplexError("pass exactly one of --images FOLDER (photos) or --video FILE.")
    for key in ("num_frames", "sequential_overlap", "max_image_size"):
        if getattr(args, key) < 1:
            raise NerfplexError(f"--{key.replace('_', '-')} must be a positive integer, got {getattr(args, key)}.")
    if any(f < 2 for f in args.downscales):
        raise NerfplexError(f"--downscales must be integers >= 2, got {list(args.downscales)}.")
    if not 0 < args.min_registered_fraction <= 1:
        raise NerfplexError(f"--min-registered-fraction must be in (0, 1], got {args.min_registered_fraction}.")
    pycolmap = import_pycolmap()
    check_output_folder(args.out, args.overwrite, "--out")
    if args.video is not None and not args.video.is_file():
        raise NerfplexError(
            f"--video {args.video} {'is a folder' if args.video.is_dir() else 'does not exist'}; "
            f"pass a video file (or --images for a folder of photos)."
        )
    if args.video is not None and args.video.suffix.lower() not in VIDEO_SUFFIXES:
        raise NerfplexError(
            f"--video {args.video} does not look like a video ({', '.join(VIDEO_SUFFIXES)}); "
            f"for a folder of photos pass --images."
        )
    seconds: dict[str, float] = {}
    with staged_output(args.out, "process-data scene", args.overwrite, "--out") as stage:
        work = stage / ".work"
        work.mkdir()
        if args.video is not None:
            from tqdm import tqdm

            source = work / "frames"
            source.mkdir()
            start = time.perf_counter()
            with tqdm(desc="frames (decode)", unit="frame", disable=not args.progress, dynamic_ncols=True) as bar:

                def advance(done: int, total: int) -> None:
                    bar.total = max(total, done)
                    bar.update(done - bar.n)

                kept = extract_frames(args.video, source, args.num_frames, progress=advance)
            seconds["frames"] = time.perf_counter() - start
            names = [name for name, _ in kept]
        else:
            source = args.images
            names = _list_images(source)
            _check_sizes(source, names)
        matcher = args.matcher
        if matcher == "auto":
            matcher = "sequential" if args.video is not None or len(names) > 200 else "exhaustive"
        options = SfmOptions(
            matcher=matcher,
            camera_model=args.camera_model,
            shared_camera=args.shared_camera,
            max_image_size=args.max_image_size,
            sequential_overlap=args.sequential_overlap,
            seed=args.seed,
        )
        if len(names) < 2:
            raise NerfplexError(f"structure from motion needs at least 2 images; {len(names)} given.")
        result = reconstruct(source, names, work, options, show_progress=args.progress)
        seconds.update(result.seconds)
        registered = result.registered
        if len(registered) < args.min_registered_fraction * len(names):
            missing = result.unregistered
            shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
            other = "sequential" if matcher == "exhaustive" else "exhaustive"
            raise NerfplexError(
                f"only {len(registered)} of {len(names)} images got a camera pose (the largest of "
                f"{result.models_found} partial reconstructions); nothing was written. Not registered: {shown}. "
                f"Try: --matcher {other}; photos with more overlap (every part of the scene in several photos "
                f"taken a step apart, not big jumps); fewer blurry frames (a steadier camera, or a lower "
                f"--num-frames for a video); --camera-model OPENCV for a wide-angle lens."
            )
        rec = result.reconstruction
        report = {
            "source": str((args.video or args.images).resolve()),
            "kind": "video" if args.video else "images",
            "options": {
                k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
                for k, v in asdict(args).items()
            }
            | {"matcher": matcher},
            "pycolmap": pycolmap.__version__,
            "images_given": len(names),
            "images_registered": len(registered),
            "unregistered": result.unregistered,
            "points3D": rec.num_points3D(),
            "mean_reprojection_error_px": rec.compute_mean_reprojection_error(),
            "partial_models": result.models_found,
        }
        start = time.perf_counter()
        transforms = write_scene(
            stage,
            source,
            rec,
            registered,
            downscales=args.downscales,
            move_images=args.video is not None,
            show_progress=args.progress,
        )
        shutil.rmtree(work)
        seconds["writing"] = time.perf_counter() - start
        report.update(transforms["nerfplex"], seconds=seconds)
        write_text_atomic(stage / REPORT_NAME, json.dumps(report, indent=2) + "\n")
    return report


def _summary(report: dict, out: Path) -> str:
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report["seconds"].items())
    lines = [
        f"registered {report['images_registered']} / {report['images_given']} images, "
        f"{report['points3D']} 3D points, mean reprojection error {report['mean_reprojection_error_px']:.3f} px",
        f"time: {stages}",
    ]
    if report["unregistered"]:
        lines.append(
            f"not registered (left out of the scene): {', '.join(report['unregistered'][:10])}"
            + (" ..." if len(report["unregistered"]) > 10 else "")
        )
    lines.append(f"wrote {out}; train with: nerfplex train --data.path {out}")
    return "\n".join(lines)


def run(argv: list[str]) -> int:
    args = tyro.cli(ProcessDataArgs, args=argv, prog="nerfplex process-data")
    report = process_data(args)
    print(_summary(report, args.out))
    return 0
