"""``nerfplex process-data`` end to end on a rendered textured room (known cameras), and its refusals:
nothing is written when it fails."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from textured_room import render_room, room_cameras, write_room_photos

from nerfplex.captures.pose_error import pose_errors
from nerfplex.cli.main import main
from nerfplex.cli.process_data import ProcessDataArgs, process_data
from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.errors import NerfplexError

pytest.importorskip("pycolmap")


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_photos_to_scene_recovers_the_cameras(tmp_path, capsys):
    true_c2w = write_room_photos(tmp_path / "photos", n=12)
    out = tmp_path / "scene"
    assert main(["process-data", "--images", str(tmp_path / "photos"), "--out", str(out), "--no-progress"]) == 0
    assert "registered 12 / 12 images" in capsys.readouterr().out
    for name in (
        "images",
        "images_2",
        "images_4",
        "images_8",
        "sparse/0/cameras.bin",
        "sparse/0/images.bin",
        "sparse/0/points3D.bin",
        "transforms.json",
        "process_data.json",
    ):
        assert (out / name).exists(), name
    assert len(list((out / "images_4").iterdir())) == 12
    report = json.loads((out / "process_data.json").read_text())
    assert report["images_registered"] == 12 and set(report["seconds"]) >= {"features", "matching", "mapping"}

    scene = load_scene(DataConfig(path=out))  # data.kind auto -> colmap
    assert scene.extras["layout"] == "colmap"
    names = scene.train.names + scene.test.names
    c2w = np.concatenate([scene.train.cameras.c2w.numpy(), scene.test.cameras.c2w.numpy()])
    truth = true_c2w[[int(n.split("_")[1]) for n in names]]
    errors = pose_errors(c2w, truth).summary()
    assert errors["rotation_deg_max"] < 0.5 and errors["position_pct_max"] < 1.0, errors
    assert float(scene.train.cameras.fx[0]) == pytest.approx(140.0, rel=0.01)

    ngp = load_scene(DataConfig(kind="blender", path=out))  # the transforms.json describes the same scene
    np.testing.assert_allclose(ngp.train.cameras.c2w.numpy(), scene.train.cameras.c2w.numpy(), atol=1e-5)
    np.testing.assert_allclose(ngp.train.cameras.fx.numpy(), scene.train.cameras.fx.numpy(), rtol=1e-6)
    assert (ngp.near, ngp.far) == pytest.approx((scene.near, scene.far), rel=1e-6)
    np.testing.assert_allclose(ngp.aabb.numpy(), scene.aabb.numpy(), rtol=1e-5)

    with pytest.raises(NerfplexError, match="already exists; pass --overwrite"):
        process_data(ProcessDataArgs(out=out, images=tmp_path / "photos", progress=False))


def test_video_to_scene(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    c2w, k = room_cameras(24, 160, 120, 140.0)
    frames = render_room(c2w, k, 160, 120)
    video = tmp_path / "walk.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (160, 120), fps=10, quality=9, macro_block_size=8)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame).tobytes())
    writer.close()
    out = tmp_path / "scene"
    report = process_data(ProcessDataArgs(out=out, video=video, num_frames=12, progress=False))
    assert report["images_given"] == 12 and report["images_registered"] >= 11
    assert report["options"]["matcher"] == "sequential"
    assert len(list((out / "images").iterdir())) == report["images_registered"]


def test_too_few_registered_lists_them_and_writes_nothing(tmp_path):
    write_room_photos(tmp_path / "photos", n=4)
    rng = np.random.default_rng(5)
    for i in range(6):  # white noise: no image matches anything
        iio.imwrite(tmp_path / "photos" / f"noise_{i}.png", rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    with pytest.raises(NerfplexError, match=r"only \d of 10 images.*noise_0\.png.*--matcher sequential"):
        process_data(ProcessDataArgs(out=tmp_path / "scene", images=tmp_path / "photos", progress=False))
    assert not (tmp_path / "scene").exists() and _leftovers(tmp_path) == []


def test_bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerfplexError, match="holds no photos"):
        process_data(ProcessDataArgs(out=tmp_path / "a", images=tmp_path / "empty", progress=False))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    iio.imwrite(mixed / "a.png", np.zeros((10, 12, 3), np.uint8))
    iio.imwrite(mixed / "b.png", np.zeros((10, 14, 3), np.uint8))
    with pytest.raises(NerfplexError, match="2 different sizes.*one image size"):
        process_data(ProcessDataArgs(out=tmp_path / "b", images=mixed, progress=False))
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"this is not a video" * 50)
    with pytest.raises(NerfplexError, match="could not decode video"):
        process_data(ProcessDataArgs(out=tmp_path / "c", video=video, progress=False))
    with pytest.raises(NerfplexError, match="exactly one of"):
        process_data(ProcessDataArgs(out=tmp_path / "d", progress=False))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(NerfplexError, match="did not write"):
        process_data(ProcessDataArgs(out=tmp_path / "mine", images=mixed, overwrite=True, progress=False))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    for name in "abcd":
        assert not (tmp_path / name).exists()
    assert _leftovers(tmp_path) == []
