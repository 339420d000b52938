"""MonoSDF / sdfstudio ``meta_data.json`` scenes (Replica, tnt_advanced) round-trip through the parser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layouts import all_views, tiny_scene, write_monosdf

from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.data.monosdf import load_monosdf


@pytest.fixture(scope="module")
def views():
    return all_views(tiny_scene("room", n_train=8, n_test=3))  # 11 opaque views from inside a room


def test_split_every_tenth_frame_and_cameras_as_written(tmp_path, views):
    root = write_monosdf(views, tmp_path / "scan1", aabb=((-2, -2, -1.25), (2, 2, 1.25)), near=0.05, far=6.0)
    scene = load_monosdf(root)  # the S3IM authors' split: i % 10 == 0 held out
    assert scene.test.names == ["000000", "000010"]
    assert scene.train.names == [f"{i:06d}" for i in range(1, 10)]
    test = views.subset([0, 10])
    torch.testing.assert_close(scene.test.cameras.c2w, test.cameras.c2w)
    for key in ("fx", "fy", "cx", "cy"):
        torch.testing.assert_close(getattr(scene.test.cameras, key), getattr(test.cameras, key))
    torch.testing.assert_close(scene.test.rgb, test.rgb, atol=0.5 / 255 + 1e-6, rtol=0)
    assert scene.train.alpha is None and scene.train.depth is None and scene.train.priors == {}
    assert (scene.near, scene.far) == (0.05, 6.0)
    torch.testing.assert_close(scene.aabb, torch.tensor([[-2.0, -2.0, -1.25], [2.0, 2.0, 1.25]]))
    assert scene.extras["layout"] == "monosdf" and scene.name == "scan1"


def test_sensor_depth_becomes_ray_distance_and_mono_cues_stay_priors(tmp_path, views):
    root = write_monosdf(views, tmp_path / "s", sensor_depth=True, mono=True, mono_mask=True, world_to_gt=True)
    scene = load_monosdf(root, test_every=4, mono_priors=True)
    expected = views.subset([i for i in range(len(views)) if i % 4]).depth
    finite = torch.isfinite(expected)
    assert torch.equal(torch.isfinite(scene.train.depth), finite)
    torch.testing.assert_close(scene.train.depth[finite], expected[finite], rtol=1e-5, atol=1e-5)
    priors = scene.train.priors
    assert set(priors) == {"mono_depth", "mono_normal", "mono_mask"}
    assert priors["mono_depth"].shape == (len(scene.train), 16, 16, 1)
    # every stored normal is (0, 0, -1) in camera axes: towards the camera, i.e. minus the view axis
    view_axis = scene.train.cameras.c2w[:, :, 2]
    expected_normals = -view_axis[:, None, None, :].expand_as(priors["mono_normal"])
    torch.testing.assert_close(priors["mono_normal"], expected_normals, atol=1e-5, rtol=0)
    np.testing.assert_allclose(scene.extras["world_to_gt"], np.diag([2.0, 2.0, 2.0, 1.0]))


def test_downscale_halves_intrinsics_and_averages_depth(tmp_path, views):
    root = write_monosdf(views, tmp_path / "s", sensor_depth=True, mono=False)
    full = load_monosdf(root)
    half = load_monosdf(root, downscale=2)
    assert half.train.rgb.shape[1:3] == (8, 8) and half.train.depth.shape[1:3] == (8, 8)
    torch.testing.assert_close(half.train.cameras.fx, full.train.cameras.fx / 2)
    torch.testing.assert_close(half.train.rgb, full.train.rgb.reshape(-1, 8, 2, 8, 2, 3).mean((2, 4)))


def test_loaded_through_the_data_config(tmp_path, views):
    root = write_monosdf(views, tmp_path / "scan2", mono=False)
    scene = load_scene(DataConfig(kind="monosdf", path=root, box_scale=1.2))
    torch.testing.assert_close(scene.aabb, torch.tensor([[-1.2] * 3, [1.2] * 3]))
    assert len(scene.test) == 2  # default test_every for meta_data.json: 10
    both = load_scene(DataConfig(kind="monosdf", path=root / "meta_data.json", train_on_test_views=True))
    assert len(both.train) == len(views) and len(both.test) == 2
