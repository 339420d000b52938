"""Image reading, atomic PNG writing and box-filter downscaling."""

from __future__ import annotations

import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from nerfplex.data import images
from nerfplex.data.images import downscale, read_image, write_png
from nerfplex.errors import NerfplexError


def _write_png16(path, data: np.ndarray) -> None:
    """Minimal 16-bit PNG encoder (Pillow cannot write 16-bit colour PNGs)."""
    height, width, channels = data.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + data[y].astype(">u2").tobytes() for y in range(height))

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def test_read_rgba_png_exact(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", data)
    image = read_image(tmp_path / "a.png")
    assert image.dtype == np.float32 and image.shape == (5, 7, 4)
    np.testing.assert_allclose(image, data / 255.0, atol=1e-7)


def test_read_grayscale_and_gray_alpha(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    iio.imwrite(tmp_path / "g.png", gray)
    image = read_image(tmp_path / "g.png")
    assert image.shape == (3, 4, 3)
    np.testing.assert_allclose(image[..., 1], gray / 255.0, atol=1e-7)
    assert (image[..., 0] == image[..., 2]).all()

    Image.fromarray(np.stack([gray, 255 - gray], -1), mode="LA").save(tmp_path / "la.png")
    image = read_image(tmp_path / "la.png")
    assert image.shape == (3, 4, 4)
    np.testing.assert_allclose(image[..., 3], (255 - gray) / 255.0, atol=1e-7)
    np.testing.assert_allclose(image[..., 0], gray / 255.0, atol=1e-7)


def test_read_palette_and_jpeg(tmp_path):
    palette = Image.new("P", (4, 3))
    palette.putpalette([255, 0, 0, 0, 0, 255] * 128)
    palette.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.shape == (3, 4, 3)
    np.testing.assert_allclose(image[0, 0], [1.0, 0.0, 0.0])

    iio.imwrite(tmp_path / "j.jpg", np.full((6, 6, 3), 200, dtype=np.uint8))
    image = read_image(tmp_path / "j.jpg")
    assert image.shape == (6, 6, 3)
    np.testing.assert_allclose(image, 200 / 255.0, atol=3 / 255.0)


def test_read_16bit_png(tmp_path):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 65536, (4, 5, 1), dtype=np.uint16)
    _write_png16(tmp_path / "g16.png", gray)
    image = read_image(tmp_path / "g16.png")
    assert image.shape == (4, 5, 3)
    np.testing.assert_allclose(image[..., 0], gray[..., 0] / 65535.0, atol=1e-6)  # full precision

    rgba = rng.integers(0, 65536, (4, 5, 4), dtype=np.uint16)
    _write_png16(tmp_path / "c16.png", rgba)
    image = read_image(tmp_path / "c16.png")
    assert image.shape == (4, 5, 4) and image.min() >= 0.0 and image.max() <= 1.0
    np.testing.assert_allclose(image, rgba / 65535.0, atol=1.0 / 255.0)  # Pillow keeps 8 bits


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "does not exist"),
        (b"", "empty"),
        (b"this is not a png", "not a readable image"),
        ("truncated", "truncated"),
    ],
)
def test_read_bad_files(tmp_path, content, expected):
    path = tmp_path / "broken.png"
    if content == "truncated":
        iio.imwrite(path, np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
        path.write_bytes(path.read_bytes()[:300])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(NerfplexError, match=expected) as info:
        read_image(path)
    assert "broken.png" in str(info.value)


def test_read_folder_is_error(tmp_path):
    with pytest.raises(NerfplexError, match="folder"):
        read_image(tmp_path)


@pytest.mark.parametrize("channels", [3, 4])
def test_write_png_round_trip(tmp_path, channels):
    data = np.random.default_rng(2).random((5, 6, channels), dtype=np.float32)
    data[0, 0] = 1.3  # clipped
    path = write_png(tmp_path / "sub" / "out.png", data)
    back = read_image(path)
    assert back.shape == data.shape
    np.testing.assert_allclose(back, np.clip(data, 0, 1), atol=0.5 / 255 + 1e-6)
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]


def test_write_png_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    write_png(path, np.zeros((2, 2, 3)))
    original = path.read_bytes()

    def failing_write(target, data, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(images.iio, "imwrite", failing_write)
    with pytest.raises(NerfplexError, match="out.png"):
        write_png(path, np.ones((2, 2, 3)))
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_write_png_rejects_bad_shape(tmp_path):
    with pytest.raises(ValueError):
        write_png(tmp_path / "x.png", np.zeros((4, 4)))


def test_downscale_box_average():
    image = np.arange(4 * 6 * 2, dtype=np.float32).reshape(4, 6, 2)
    small = downscale(image, 2)
    assert small.shape == (2, 3, 2)
    np.testing.assert_allclose(small[1, 2], image[2:4, 4:6].reshape(-1, 2).mean(0))
    expected = image.reshape(2, 2, 3, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(small, expected, rtol=1e-6)
    assert downscale(image, 1) is image


def test_downscale_crops_remainder_bottom_right():
    image = np.random.default_rng(3).random((7, 10, 3), dtype=np.float32)
    small = downscale(image, 3)
    assert small.shape == (2, 3, 3)
    np.testing.assert_allclose(small, downscale(image[:6, :9], 3))
    np.testing.assert_allclose(small[0, 0], image[:3, :3].reshape(-1, 3).mean(0), rtol=1e-6)


@pytest.mark.parametrize("factor", [0, -2, 1.5, True])
def test_downscale_rejects_bad_factor(factor):
    with pytest.raises(NerfplexError, match="downscale"):
        downscale(np.zeros((4, 4, 3), np.float32), factor)


def test_downscale_larger_than_image():
    with pytest.raises(NerfplexError, match="larger than the image"):
        downscale(np.zeros((4, 4, 3), np.float32), 8)
