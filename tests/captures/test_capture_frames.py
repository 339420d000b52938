"""Sharpness (variance of the Laplacian) against scipy's Laplacian, and frame selection from a video."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nerfplex.captures.frames import extract_frames, sharpness
from nerfplex.errors import NerfplexError


def test_sharpness_is_the_variance_of_the_laplacian():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    grey = image.astype(np.float64) @ [0.299, 0.587, 0.114]
    assert sharpness(image) == pytest.approx(ndimage.laplace(grey)[1:-1, 1:-1].var(), rel=1e-12)
    assert sharpness(image.astype(np.float32) / 255) == pytest.approx(sharpness(image), rel=1e-5)
    assert sharpness(ndimage.uniform_filter(image, size=(5, 5, 1))) < 0.2 * sharpness(image)


def test_keeps_the_sharpest_frame_of_each_run(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    rng = np.random.default_rng(1)
    base = ndimage.uniform_filter(rng.uniform(0, 255, (64, 80, 3)), size=(3, 3, 1))
    frames = []
    for i in range(20):  # runs of 4 frames (5 kept); the sharp frame of each run is at position i % 4 == 1
        shifted = np.roll(base, i, axis=1)
        frames.append(shifted if i % 4 == 1 else ndimage.uniform_filter(shifted, size=(7, 7, 1)))
    video = tmp_path / "v.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (80, 64), fps=10, quality=10, macro_block_size=16)
    writer.send(None)
    for frame in frames:
        writer.send(np.clip(frame, 0, 255).astype(np.uint8).tobytes())
    writer.close()
    seen = []
    kept = extract_frames(video, tmp_path, 5, progress=lambda done, total: seen.append((done, total)))
    assert [name for name, _ in kept] == [f"frame_{i:05d}.jpg" for i in range(1, 6)] and seen[-1] == (20, 20)
    import imageio.v3 as iio

    for k, (name, score) in enumerate(kept):  # each kept frame is the sharp one of its run (shift 4k + 1)
        image = iio.imread(tmp_path / name).astype(np.float64)
        errors = [np.abs(image - np.roll(base, 4 * k + j, axis=1)).mean() for j in range(4)]
        assert int(np.argmin(errors)) == 1 and score > 0


def test_undecodable_video(tmp_path):
    video = tmp_path / "x.mp4"
    video.write_bytes(b"\x00" * 1000)
    with pytest.raises(NerfplexError, match="could not decode video"):
        extract_frames(video, tmp_path, 5)
    with pytest.raises(NerfplexError, match="not found"):
        extract_frames(tmp_path / "missing.mp4", tmp_path, 5)
