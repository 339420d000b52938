"""Malformed MonoSDF / NSVF / DTU datasets raise NerfplexError naming the offending file (and what to do).

Each case writes a valid tiny dataset in the real layout, breaks one thing, and checks that the
message names the broken file (plus the key, frame or count where that is what is wrong).
(instant-ngp / Blender cases live in test_blender_errors.py and test_lens_distortion.py.)
"""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from layouts import all_views, tiny_scene, write_dtu, write_monosdf, write_nsvf

from nerfplex.data.dtu import load_dtu
from nerfplex.data.monosdf import load_monosdf
from nerfplex.data.nsvf import load_nsvf
from nerfplex.errors import NerfplexError

META = "meta_data.json"


@pytest.fixture(scope="module")
def scene():
    return tiny_scene("object", size=8, n_train=3, n_test=2)


# ----------------------------------------------------------------------------- MonoSDF / sdfstudio
def _edit_meta(root, fn):
    meta = json.loads((root / META).read_text())
    fn(meta)
    (root / META).write_text(json.dumps(meta))


def _frame(index, **changes):
    return lambda root: _edit_meta(root, lambda m: m["frames"][index].update(changes))


def _matrix(index, fn):
    def edit(meta):
        meta["frames"][index]["camtoworld"] = fn(np.asarray(meta["frames"][index]["camtoworld"])).tolist()

    return lambda root: _edit_meta(root, edit)


def _unlink(relative):
    return lambda root: (root / relative).unlink()


def _write(relative, data: bytes):
    return lambda root: (root / relative).write_bytes(data)


def _save(relative, array):
    return lambda root: np.save(root / relative, array)


def _image(relative, shape):
    return lambda root: iio.imwrite(root / relative, np.zeros(shape, np.uint8))


MONOSDF = {
    # name: (break the folder, loader kwargs, substrings of the message)
    "no_meta_file": (_unlink(META), {}, [META, "not found", "scan1"]),
    "meta_syntax": (_write(META, b'{"height": 8,, }'), {}, [META, "line 1", "column"]),
    "height_text": (lambda r: _edit_meta(r, lambda m: m.update(height="tall")), {}, ["'height'", META]),
    "no_scene_box": (lambda r: _edit_meta(r, lambda m: m.pop("scene_box")), {}, ["scene_box", META]),
    "aabb_inverted": (
        lambda r: _edit_meta(r, lambda m: m["scene_box"].update(aabb=[[1, 1, 1], [0, 0, 0]])),
        {},
        ["scene_box.aabb", META, "min < max"],
    ),
    "no_frames": (lambda r: _edit_meta(r, lambda m: m.update(frames=[])), {}, ["frames", META]),
    "frame_without_pose": (
        lambda r: _edit_meta(r, lambda m: m["frames"][1].pop("camtoworld")),
        {},
        ["frame 1", "camtoworld", META],
    ),
    "pose_nan": (
        _matrix(2, lambda m: np.where(np.eye(4) == 1, np.nan, m)),
        {},
        ["camtoworld", "000002_rgb.png", META, "NaN"],
    ),
    "pose_scaled": (
        _matrix(1, lambda m: m * np.array([3.0, 3.0, 3.0, 1.0])),
        {},
        ["camtoworld", "000001_rgb.png", "not rigid"],
    ),
    "intrinsics_2x2": (_frame(3, intrinsics=[[1, 0], [0, 1]]), {}, ["intrinsics", "000003_rgb.png", "4x4"]),
    "negative_focal": (
        _frame(0, intrinsics=[[-5, 0, 4, 0], [0, 5, 4, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
        {},
        ["intrinsics", "000000_rgb.png", "fx=-5"],
    ),
    "missing_image": (_unlink("000004_rgb.png"), {}, ["000004_rgb.png", "not found"]),
    "corrupt_image": (_write("000002_rgb.png", b"\x89PNG\r\n\x1a\nbroken"), {}, ["000002_rgb.png"]),
    "size_not_meta": (lambda r: _edit_meta(r, lambda m: m.update(width=10)), {}, ["000001_rgb.png", "width=10"]),
    "mono_depth_count": (
        _unlink("000003_depth.npy"),
        {"mono_priors": True},
        ["000003_depth.npy", "4 of the 5", "every frame or none"],
    ),
    "mono_depth_shape": (
        _save("000001_depth.npy", np.zeros((4, 4))),
        {"mono_priors": True},
        ["000001_depth.npy", "[8, 8]"],
    ),
    "mono_normal_corrupt": (
        _write("000000_normal.npy", b"not an npy file"),
        {"mono_priors": True},
        ["000000_normal.npy", "corrupt"],
    ),
    "sensor_depth_some_frames": (
        _frame(2, sensor_depth_path="000002_depth.npy"),
        {},
        ["sensor_depth_path", "frame 0", "every frame or none"],
    ),
    "test_every_one": (lambda r: None, {"test_every": 1}, ["test_every", META]),
}


@pytest.mark.parametrize("case", list(MONOSDF))
def test_monosdf_malformed(tmp_path, scene, case):
    breaker, kwargs, expected = MONOSDF[case]
    root = write_monosdf(all_views(scene), tmp_path / "scan1")
    breaker(root)
    _expect(lambda: load_monosdf(root, **kwargs), expected)


# ----------------------------------------------------------------------------- NSVF
def _text(relative, text):
    return lambda root: (root / relative).write_text(text)


def _rename(old, new):
    return lambda root: (root / old).rename(root / new)


NSVF = {
    "no_pose_folder": (
        lambda r: [p.unlink() for p in (r / "pose").iterdir()] and (r / "pose").rmdir(),
        ["pose", "not found"],
    ),
    "pose_missing": (_unlink("pose/0_0001.txt"), ["0_0001.png", "pose/0_0001.txt", "5 images", "4 pose files"]),
    "image_missing": (_unlink("rgb/1_0000.png"), ["pose/1_0000.txt", "no image"]),
    "pose_text": (_text("pose/0_0002.txt", "identity\n"), ["0_0002.txt", "line 1"]),
    "pose_3x4": (_text("pose/0_0000.txt", "1 0 0 0\n0 1 0 0\n0 0 1 0\n"), ["0_0000.txt", "3x4"]),
    "pose_scaled": (_text("pose/1_0001.txt", "2 0 0 0\n0 2 0 0\n0 0 2 0\n0 0 0 1\n"), ["1_0001.txt", "not rigid"]),
    "pose_nan": (_text("pose/0_0001.txt", "nan 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n"), ["0_0001.txt", "NaN"]),
    "pose_reflection": (
        _text("pose/0_0001.txt", "-1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n"),
        ["0_0001.txt", "reflection"],
    ),
    "no_intrinsics": (_unlink("intrinsics.txt"), ["intrinsics.txt", "not found"]),
    "intrinsics_garbage": (_text("intrinsics.txt", "focal: 875\n"), ["intrinsics.txt", "line 1"]),
    "intrinsics_other_resolution": (
        _text("intrinsics.txt", "50 0 40 0\n0 50 30 0\n0 0 1 0\n0 0 0 1\n"),
        ["intrinsics.txt", "principal point", "8x8"],
    ),
    "bbox_inverted": (_text("bbox.txt", "1 1 1 -1 -1 -1 0.1\n"), ["bbox.txt", "min"]),
    "bbox_short": (_text("bbox.txt", "0 0 0 1\n"), ["bbox.txt", "4 numbers"]),
    "no_training_views": (
        lambda r: [
            (_rename(f"{d}/0_000{i}.{e}", f"{d}/3_000{i}.{e}")(r))
            for i in range(3)
            for d, e in (("rgb", "png"), ("pose", "txt"))
        ],
        ["0_*", "rgb"],
    ),
    "image_sizes_differ": (_image("rgb/0_0002.png", (4, 4, 3)), ["0_0002.png", "4x4", "0_0000.png", "8x8"]),
}


@pytest.mark.parametrize("case", list(NSVF))
def test_nsvf_malformed(tmp_path, scene, case):
    breaker, expected = NSVF[case]
    root = write_nsvf(scene, tmp_path / "Truck")
    breaker(root)
    _expect(lambda: load_nsvf(root), expected)


# ----------------------------------------------------------------------------- DTU
def _edit_npz(fn):
    def edit(root):
        path = root / "cameras_sphere.npz"
        with np.load(path) as data:
            arrays = dict(data)
        fn(arrays)
        np.savez(path, **arrays)

    return edit


DTU = {
    "no_cameras": (_unlink("cameras_sphere.npz"), ["cameras_sphere.npz", "cameras.npz"]),
    "cameras_corrupt": (_write("cameras_sphere.npz", b"PK\x03\x04 not a zip"), ["cameras_sphere.npz", "corrupt"]),
    "world_mat_missing": (
        _edit_npz(lambda a: a.pop("world_mat_3")),
        ["cameras_sphere.npz", "world_mat_3", "003.png", "4 cameras for 5 images"],
    ),
    "world_mat_nan": (
        _edit_npz(lambda a: a["world_mat_1"].__setitem__((0, 0), np.nan)),
        ["world_mat_1", "cameras_sphere.npz", "NaN"],
    ),
    "world_mat_singular": (
        _edit_npz(lambda a: a.update(world_mat_2=np.zeros((4, 4)))),
        ["world_mat_2", "cameras_sphere.npz", "singular"],
    ),
    "scale_mat_shape": (_edit_npz(lambda a: a.update(scale_mat_0=np.eye(3))), ["scale_mat_0", "cameras_sphere.npz"]),
    "mask_missing": (_unlink("mask/002.png"), ["5 images", "4 masks", "mask"]),
    "no_mask_folder": (
        lambda r: [p.unlink() for p in (r / "mask").iterdir()] and (r / "mask").rmdir(),
        ["mask", "data.masks"],
    ),
    "mask_size": (_image("mask/001.png", (4, 8)), ["mask", "001.png", "8x4", "image"]),
    "corrupt_photo": (_write("image/004.png", b"nonsense"), ["004.png"]),
    "no_images": (lambda r: [p.unlink() for p in (r / "image").iterdir()], ["image", "no image files"]),
}


@pytest.mark.parametrize("case", list(DTU))
def test_dtu_malformed(tmp_path, scene, case):
    breaker, expected = DTU[case]
    root = write_dtu(all_views(scene), tmp_path / "dtu_scan24")
    breaker(root)
    _expect(lambda: load_dtu(root), expected)


def test_missing_folders_name_the_path(tmp_path):
    for load in (load_monosdf, load_nsvf, load_dtu):
        with pytest.raises(NerfplexError, match="no_such_scene"):
            load(tmp_path / "no_such_scene")


def test_at_least_twenty_malformed_cases():
    assert len(MONOSDF) + len(NSVF) + len(DTU) >= 20


def _expect(load, expected):
    with pytest.raises(NerfplexError) as info:
        load()
    message = str(info.value)
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
