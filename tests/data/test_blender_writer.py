"""Writing SceneData in the Blender layout and reading it back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.data import blender_writer
from nerfplex.data.blender import load_blender
from nerfplex.data.blender_writer import write_blender_scene
from nerfplex.data.images import read_image
from nerfplex.data.scene import SceneData, SceneSplit
from nerfplex.errors import NerfplexError


def _cameras(n: int, width=8, height=6, fx=7.0, fy=7.0, cx=None, cy=None, seed=0) -> Cameras:
    gen = torch.Generator().manual_seed(seed)
    eye = torch.randn(n, 3, generator=gen)
    eye = 3.0 * eye / eye.norm(dim=-1, keepdim=True)
    c2w = look_at(eye, torch.zeros(n, 3), torch.tensor([0.0, 0.0, 1.0]))
    full = lambda v: torch.full((n,), float(v))  # noqa: E731
    return Cameras(
        c2w,
        full(fx),
        full(fy),
        full(width / 2 if cx is None else cx),
        full(height / 2 if cy is None else cy),
        width,
        height,
    )


def _split(n: int, alpha: bool, seed: int, **camera_kwargs) -> SceneSplit:
    cams = _cameras(n, seed=seed, **camera_kwargs)
    gen = torch.Generator().manual_seed(seed)
    rgb = torch.rand(n, cams.height, cams.width, 3, generator=gen)
    a = None
    if alpha:
        a = torch.rand(n, cams.height, cams.width, 1, generator=gen)
        a[:, 0, 0] = 0.0
        a[:, 0, 1] = 1.0
        rgb = rgb * a  # premultiplied
    return SceneSplit(rgb=rgb, alpha=a, cameras=cams, names=[f"v{i}" for i in range(n)])


def _scene(alpha=True, **camera_kwargs) -> SceneData:
    return SceneData(
        train=_split(4, alpha, 0, **camera_kwargs),
        test=_split(2, alpha, 1, **camera_kwargs),
        near=0.5,
        far=5.5,
        aabb=torch.tensor([[-1.0, -1.0, -0.5], [1.0, 1.0, 0.5]]),
        name="synthetic",
    )


def _assert_same_split(back: SceneSplit, ref: SceneSplit):
    for key in ("c2w", "fx", "fy", "cx", "cy"):
        torch.testing.assert_close(getattr(back.cameras, key), getattr(ref.cameras, key), atol=1e-5, rtol=1e-6)
    assert (back.cameras.width, back.cameras.height) == (ref.cameras.width, ref.cameras.height)
    torch.testing.assert_close(back.rgb, ref.rgb, atol=1 / 255 + 1e-6, rtol=0)
    if ref.alpha is None:
        assert back.alpha is None
    else:
        torch.testing.assert_close(back.alpha, ref.alpha, atol=0.5 / 255 + 1e-6, rtol=0)
        white = torch.ones(3)
        torch.testing.assert_close(back.composite(white), ref.composite(white), atol=1 / 255 + 1e-6, rtol=0)


@pytest.mark.parametrize("alpha", [True, False])
def test_round_trip_cameras_and_images(tmp_path, alpha):
    scene = _scene(alpha=alpha)
    out = write_blender_scene(scene, tmp_path / "out")
    meta = json.loads((out / "transforms_train.json").read_text())
    assert "camera_angle_x" in meta and "fl_x" not in meta
    assert meta["frames"][0]["file_path"] == "./train/r_0"
    assert read_image(out / "train" / "r_0.png").shape[-1] == (4 if alpha else 3)
    back = load_blender(out)
    _assert_same_split(back.train, scene.train)
    _assert_same_split(back.test, scene.test)
    assert (back.near, back.far) == (scene.near, scene.far)
    torch.testing.assert_close(back.aabb, scene.aabb)


def test_written_pose_is_blender_axes(tmp_path):
    scene = _scene()
    out = write_blender_scene(scene, tmp_path / "out")
    matrix = np.asarray(json.loads((out / "transforms_train.json").read_text())["frames"][0]["transform_matrix"])
    c2w = scene.train.cameras.c2w[0].double().numpy()
    # OpenGL camera z (backward) = -OpenCV z (forward); y up = -y down; x unchanged.
    np.testing.assert_allclose(matrix[:3, 0], c2w[:, 0], atol=1e-7)
    np.testing.assert_allclose(matrix[:3, 1], -c2w[:, 1], atol=1e-7)
    np.testing.assert_allclose(matrix[:3, 2], -c2w[:, 2], atol=1e-7)
    np.testing.assert_allclose(matrix[3], [0, 0, 0, 1])


def test_straight_alpha_in_png(tmp_path):
    scene = _scene()
    out = write_blender_scene(scene, tmp_path / "out")
    png = read_image(out / "train" / "r_0.png")
    a = scene.train.alpha[0].numpy()
    straight = scene.train.rgb[0].numpy() / np.maximum(a, 1e-8)
    mask = a[..., 0] > 0.05
    np.testing.assert_allclose(png[..., :3][mask], straight[mask], atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(png[0, 0], [0, 0, 0, 0])


@pytest.mark.parametrize(
    "camera_kwargs, fov_key",
    [
        ({"fx": 7.0, "fy": 8.0}, "camera_angle_x"),
        ({"cx": 3.5, "cy": 2.0}, "camera_angle_x"),
        ({}, "fl_x"),
    ],
)
def test_explicit_intrinsics_when_needed(tmp_path, camera_kwargs, fov_key):
    scene = _scene(**camera_kwargs)
    out = write_blender_scene(scene, tmp_path / "out", fov_key=fov_key)
    meta = json.loads((out / "transforms_test.json").read_text())
    assert {"fl_x", "fl_y", "cx", "cy", "w", "h"} <= meta.keys() and "camera_angle_x" not in meta
    assert (meta["w"], meta["h"]) == (8, 6)
    back = load_blender(out)
    _assert_same_split(back.train, scene.train)


def test_per_frame_intrinsics(tmp_path):
    scene = _scene()
    scene.train.cameras.fx = torch.tensor([6.0, 7.0, 8.0, 9.0])
    scene.train.cameras.fy = scene.train.cameras.fx.clone()
    out = write_blender_scene(scene, tmp_path / "out")
    meta = json.loads((out / "transforms_train.json").read_text())
    assert "camera_angle_x" not in meta and "camera_angle_x" in meta["frames"][2]
    _assert_same_split(load_blender(out).train, scene.train)


def test_round_trip_of_a_parsed_dataset(builder, tmp_path):
    original = load_blender(builder.blender(n_train=3, n_test=2))
    out = write_blender_scene(original, tmp_path / "copy")
    back = load_blender(out)
    _assert_same_split(back.train, original.train)
    _assert_same_split(back.test, original.test)


def test_refuses_non_empty_folder_unless_overwrite(tmp_path):
    out = write_blender_scene(_scene(), tmp_path / "out")
    (out / "extra.txt").write_text("x")
    with pytest.raises(NerfplexError, match="--overwrite") as info:
        write_blender_scene(_scene(), out)
    assert "out" in str(info.value)
    assert (out / "extra.txt").exists()
    write_blender_scene(_scene(), out, overwrite=True)
    assert not (out / "extra.txt").exists() and (out / "transforms_train.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or backup left


def test_never_replaces_a_folder_nerfplex_did_not_write(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(NerfplexError, match="did not write"):
            write_blender_scene(_scene(), user, overwrite=overwrite)
    assert [p.name for p in user.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user"]


def test_empty_existing_folder_is_fine(tmp_path):
    (tmp_path / "out").mkdir()
    write_blender_scene(_scene(), tmp_path / "out")
    assert (tmp_path / "out" / "test" / "r_1.png").exists()


def test_failure_leaves_nothing_half_written(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = blender_writer.write_png

    def flaky(path, image):
        calls["n"] += 1
        if calls["n"] == 3:
            raise NerfplexError(f"could not write image {path}: disk full")
        return real(path, image)

    monkeypatch.setattr(blender_writer, "write_png", flaky)
    with pytest.raises(NerfplexError, match="disk full"):
        write_blender_scene(_scene(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(blender_writer, "write_png", real)
    previous = write_blender_scene(_scene(), tmp_path / "prev")
    (previous / "keep.txt").write_text("x")
    monkeypatch.setattr(blender_writer, "write_png", flaky)
    calls["n"] = 0
    with pytest.raises(NerfplexError):
        write_blender_scene(_scene(), previous, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["prev"] and (previous / "keep.txt").exists()


def test_bad_arguments(tmp_path):
    with pytest.raises(NerfplexError, match="fov_key"):
        write_blender_scene(_scene(), tmp_path / "out", fov_key="focal")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NerfplexError, match="not a folder"):
        write_blender_scene(_scene(), tmp_path / "file")
    scene = _scene()
    scene.test = SceneSplit(scene.test.rgb[:0], None, scene.test.cameras[torch.arange(0)], [])
    with pytest.raises(NerfplexError, match="test split"):
        write_blender_scene(scene, tmp_path / "out")
