"""Frames of a video and how sharp an image is.

Sharpness is the variance of the image's Laplacian (the 4-neighbour kernel ``[[0, 1, 0], [1, -4, 1],
[0, 1, 0]]`` on grey levels in [0, 255], OpenCV's ``Laplacian(..., ksize=1)``), the measure instant-ngp's
``colmap2nerf.py`` writes as each frame's ``sharpness``: a blurred image has weak second derivatives.

:func:`extract_frames` decodes a video once with imageio-ffmpeg (the ffmpeg binary ships with the wheel),
splits its frames into ``count`` equal runs of consecutive frames and keeps the sharpest frame of each run,
so the blurriest frames of every neighbourhood are dropped and the kept ones stay evenly spread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np

from nerfplex.errors import NerfplexError

__all__ = ["sharpness", "extract_frames", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of ``image`` (``[H, W]`` or ``[H, W, C]``, uint8 or float in [0, 1]).

    Colour is turned to grey with ITU-R BT.601 weights (as OpenCV's ``COLOR_RGB2GRAY``); the Laplacian is
    taken over the interior pixels."""
    img = np.asarray(image)
    grey = img.astype(np.float64)
    if img.dtype != np.uint8:
        grey = grey * 255.0
    if grey.ndim == 3:
        grey = (
            grey[..., :3] @ np.array([0.299, 0.587, 0.114])[: grey.shape[-1]] if grey.shape[-1] >= 3 else grey[..., 0]
        )
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4.0 * grey[1:-1, 1:-1]
    return float(lap.var())


def _open_video(video: Path):
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(video), pix_fmt="rgb24")
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else repr(exc)
        raise NerfplexError(
            f"could not decode video {video}: {detail}. "
            f"Check that it is a playable video file (ffmpeg could not read it), or extract frames "
            f"yourself and pass --images FOLDER."
        ) from exc
    return reader, meta


def count_frames(video: Path) -> int:
    """The number of frames in ``video`` (decodes it once)."""
    import imageio_ffmpeg

    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(video))
    except (RuntimeError, OSError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else repr(exc)
        raise NerfplexError(
            f"could not decode video {video}: {detail}. Check that it is a playable video file, or "
            f"extract frames yourself and pass --images FOLDER."
        ) from exc
    if frames < 1:
        raise NerfplexError(f"video {video} holds no frames ffmpeg can decode; pass another video or --images.")
    return int(frames)


def extract_frames(
    video: Path, out_dir: Path, count: int, *, progress: Optional[Callable[[int, int], None]] = None
) -> list[tuple[str, float]]:
    """Write the sharpest frame of each of ``count`` equal runs of the video into ``out_dir``.

    Args:
        video: the video file.
        out_dir: an existing folder; frames are written as ``frame_00001.jpg`` ... in time order.
        count: how many frames to keep (all of them when the video has fewer).
        progress: called with the number of frames decoded so far and the expected total.
    Returns:
        ``(file name, sharpness)`` of every kept frame, in time order.
    Raises:
        NerfplexError: the video cannot be decoded or holds no frame.
    """
    import imageio.v3 as iio

    video = Path(video)
    if not video.is_file():
        raise NerfplexError(f"video {video} not found; check --video.")
    reader, meta = _open_video(video)
    fps, duration = meta.get("fps") or 0, meta.get("duration") or 0
    # The container's duration x frame rate (one decoding pass); count by decoding only when it has none.
    total = int(round(fps * duration)) if fps > 0 and duration > 0 else count_frames(video)
    count = max(1, min(count, total))
    width, height = meta["size"]
    frame_bytes = width * height * 3
    best: dict[int, tuple[float, np.ndarray]] = {}
    written: list[tuple[str, float]] = []
    decoded = 0

    def flush(run: int) -> None:
        score, frame = best.pop(run)
        name = f"frame_{len(written) + 1:05d}.jpg"
        iio.imwrite(out_dir / name, frame, quality=95)
        written.append((name, score))

    try:
        for raw in reader:
            if len(raw) != frame_bytes:
                break
            frame = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            run = min(decoded * count // total, count - 1)
            score = sharpness(frame)
            if run not in best or score > best[run][0]:
                best[run] = (score, frame.copy())
            for done in [r for r in best if r < run]:
                flush(done)
            decoded += 1
            if progress is not None:
                progress(decoded, total)
    except (RuntimeError, OSError) as exc:
        raise NerfplexError(
            f"decoding video {video} failed after {decoded} frames: {exc}. The file is damaged; "
            f"re-export it or pass --images with frames extracted another way."
        ) from exc
    finally:
        reader.close()
    for run in sorted(best):
        flush(run)
    if not written:
        raise NerfplexError(f"video {video} holds no frame that could be decoded; pass another video or --images.")
    return written
