"""Malformed datasets raise NerfplexError naming the offending file, frame or key."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from nerfplex.data.blender import load_blender
from nerfplex.errors import NerfplexError

TRAIN = "transforms_train.json"


def _edit_frame(builder, index: int, **changes):
    builder.edit_json(TRAIN, lambda m: m["frames"][index].update(changes))
    return builder.root, {}


def _drop_frame_key(builder, key: str):
    builder.edit_json(TRAIN, lambda m: m["frames"][1].pop(key))
    return builder.root, {}


def _set_matrix(builder, fn):
    def edit(meta):
        m = np.asarray(meta["frames"][1]["transform_matrix"], dtype=float)
        meta["frames"][1]["transform_matrix"] = fn(m)

    builder.edit_json(TRAIN, edit)
    return builder.root, {}


def _missing_folder(builder):
    return builder.root.parent / "no_such_scene", {}


def _no_transforms(builder):
    builder.root.mkdir(parents=True)
    (builder.root / "cameras.json").write_text("{}")
    return builder.root, {}


def _syntax_error(builder):
    path = builder.root / TRAIN
    path.write_text(path.read_text().replace('"frames": [', '"frames": [,', 1))
    return builder.root, {}


def _top_level_list(builder):
    builder.write_json(TRAIN, [1, 2, 3])
    return builder.root, {}


def _no_frames_key(builder):
    builder.edit_json("transforms_test.json", lambda m: m.pop("frames"))
    return builder.root, {}


def _empty_frames(builder):
    builder.edit_json(TRAIN, lambda m: m.update(frames=[]))
    return builder.root, {}


def _no_intrinsics(builder):
    builder.edit_json(TRAIN, lambda m: m.pop("camera_angle_x"))
    return builder.root, {}


def _missing_image(builder):
    (builder.root / "train" / "r_1.png").unlink()
    return builder.root, {}


def _corrupt_image(builder):
    (builder.root / "train" / "r_1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return builder.root, {}


def _size_mismatch(builder):
    iio.imwrite(builder.root / "train" / "r_2.png", np.zeros((4, 4, 4), dtype=np.uint8))
    return builder.root, {}


def _wh_mismatch(builder):
    builder.edit_json(TRAIN, lambda m: m.update(w=16, h=16))
    return builder.root, {}


def _only_train_file(builder):
    (builder.root / "transforms_test.json").unlink()
    return builder.root, {}


def _ngp(builder, n=4, meta=None, **kwargs):
    return builder.ngp(n=n, meta=meta), kwargs


CASES = {
    # name: (setup, expected substrings in the message)
    "missing_folder": (_missing_folder, ["no_such_scene", "does not exist"]),
    "no_transforms_file": (_no_transforms, ["transforms_train.json", "transforms.json", "cameras.json"]),
    "json_syntax": (_syntax_error, [TRAIN, "line 3", "column"]),
    "top_level_not_object": (_top_level_list, [TRAIN, "object"]),
    "no_frames_key": (_no_frames_key, ["transforms_test.json", "frames"]),
    "empty_frames": (_empty_frames, [TRAIN, "frames", "empty"]),
    "frames_not_list": (lambda b: _edit_top(b, frames={"a": 1}), [TRAIN, "frames"]),
    "frame_not_object": (lambda b: _edit_top(b, frames=[3]), [TRAIN, "frame 0"]),
    "no_file_path": (lambda b: _drop_frame_key(b, "file_path"), [TRAIN, "frame 1", "file_path"]),
    "no_transform_matrix": (lambda b: _drop_frame_key(b, "transform_matrix"), [TRAIN, "frame 1", "transform_matrix"]),
    "file_path_not_string": (lambda b: _edit_frame(b, 1, file_path=7), [TRAIN, "file_path"]),
    "matrix_3x4": (lambda b: _set_matrix(b, lambda m: m[:3].tolist()), ["transform_matrix", "r_1", "3x4", "4x4"]),
    "matrix_ragged": (lambda b: _set_matrix(b, lambda m: [[1, 2], [3]]), ["transform_matrix", "r_1"]),
    "matrix_text": (lambda b: _set_matrix(b, lambda m: "identity"), ["transform_matrix", "r_1"]),
    "matrix_nan": (
        lambda b: _set_matrix(b, lambda m: np.where(np.eye(4) == 1, np.nan, m).tolist()),
        ["transform_matrix", "r_1", "NaN"],
    ),
    "matrix_scaled": (
        lambda b: _set_matrix(b, lambda m: (m * np.array([2, 2, 2, 1])).tolist()),
        ["transform_matrix", "r_1", "orthonormal"],
    ),
    "matrix_mirrored": (
        lambda b: _set_matrix(b, lambda m: (m * np.array([-1, 1, 1, 1])).tolist()),
        ["transform_matrix", "r_1", "reflection"],
    ),
    "matrix_last_row": (
        lambda b: _set_matrix(b, lambda m: np.vstack([m[:3], [1, 0, 0, 1]]).tolist()),
        ["transform_matrix", "r_1", "last row"],
    ),
    "no_intrinsics": (_no_intrinsics, [TRAIN, "camera_angle_x", "fl_x"]),
    "negative_fl_x": (lambda b: _edit_frame(b, 0, fl_x=-3.0), ["fl_x", "r_0"]),
    "angle_in_degrees": (lambda b: _edit_top(b, camera_angle_x=40.0), ["camera_angle_x", "radians"]),
    "cx_not_number": (lambda b: _edit_top(b, cx="middle"), ["cx", TRAIN]),
    "missing_image": (_missing_image, ["r_1", "not found"]),
    "corrupt_image": (_corrupt_image, ["r_1.png"]),
    "size_mismatch": (_size_mismatch, ["r_2.png", "4x4", "r_0.png", "8x8"]),
    "w_h_mismatch": (_wh_mismatch, ["r_0.png", "8x8", "w=16"]),
    "downscale_zero": (lambda b: (b.root, {"downscale": 0}), ["downscale"]),
    "downscale_fraction": (lambda b: (b.root, {"downscale": 2.5}), ["downscale", "2.5"]),
    "downscale_string": (lambda b: (b.root, {"downscale": "2"}), ["downscale"]),
    "downscale_too_large": (lambda b: (b.root, {"downscale": 16}), ["downscale 16", "8x8"]),
    "bad_test_split": (lambda b: (b.root, {"test_split": "valid"}), ["test_split", "valid"]),
    "val_missing": (lambda b: (b.root, {"test_split": "val"}), ["transforms_val.json", "test_split='test'"]),
    "test_file_missing": (_only_train_file, ["transforms_test.json"]),
    "max_train_images_zero": (lambda b: (b.root, {"max_train_images": 0}), ["max_train_images"]),
    "near_not_number": (lambda b: (b.root, {"near": float("nan")}), ["near"]),
    "ngp_test_every": (lambda b: _ngp(b, test_every=1), ["test_every", "transforms.json"]),
    "ngp_one_frame": (lambda b: _ngp(b, n=1), ["transforms.json", "2"]),
    "ngp_bad_aabb_scale": (lambda b: _ngp(b, meta={"aabb_scale": -4}), ["aabb_scale", "transforms.json"]),
    "ngp_bad_w": (lambda b: _ngp(b, meta={"w": 7.5}), ["'w'", "transforms.json"]),
    "bad_stored_aabb": (lambda b: _edit_top(b, nerfplex={"aabb": [[1, 1, 1], [0, 0, 0]]}), ["aabb", TRAIN]),
}


def _edit_top(builder, **changes):
    builder.edit_json(TRAIN, lambda m: m.update(changes))
    return builder.root, {}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_raises_clear_error(builder, case):
    setup, expected = CASES[case]
    if not case.startswith(("missing_folder", "no_transforms", "ngp_")):
        builder.blender(n_train=3, n_test=2, size=(8, 8))
    root, kwargs = setup(builder)
    with pytest.raises(NerfplexError) as info:
        load_blender(root, **kwargs)
    message = str(info.value)
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"


def test_at_least_twelve_cases():
    assert len(CASES) >= 12


def test_error_for_non_json_file(builder):
    builder.blender()
    with pytest.raises(NerfplexError, match="r_0.png"):
        load_blender(builder.root / "train" / "r_0.png")
