"""NSVF-layout scenes (Tanks and Temples as DVGO / TensoRF read it) round-trip through the parser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layouts import tiny_scene, write_nsvf

from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.data.nsvf import load_nsvf


@pytest.fixture(scope="module")
def scene():
    return tiny_scene("object", n_train=3, n_test=2)


def _same_cameras(a, b):
    torch.testing.assert_close(a.c2w, b.c2w)
    for key in ("fx", "fy", "cx", "cy"):
        torch.testing.assert_close(getattr(a, key), getattr(b, key))


def test_round_trip_with_alpha_and_bbox(tmp_path, scene):
    root = write_nsvf(scene, tmp_path / "Truck")
    loaded = load_nsvf(root)
    assert loaded.train.names == ["0_0000", "0_0001", "0_0002"]
    assert loaded.test.names == ["1_0000", "1_0001"] and loaded.extras["test_prefix"] == "1_"
    _same_cameras(loaded.train.cameras, scene.train.cameras)
    _same_cameras(loaded.test.cameras, scene.test.cameras)
    torch.testing.assert_close(loaded.train.alpha, scene.train.alpha, atol=0.5 / 255 + 1e-6, rtol=0)
    opaque = scene.train.alpha[..., 0] > 0.99
    torch.testing.assert_close(loaded.train.rgb[opaque], scene.train.rgb[opaque], atol=1.5 / 255, rtol=0)
    torch.testing.assert_close(loaded.aabb, scene.aabb)
    assert loaded.extras["voxel_size"] == pytest.approx(0.1)
    origins = scene.train.cameras.c2w[:, :, 3].norm(dim=-1)
    assert loaded.near < float(origins.min()) - 1.0 and loaded.far > float(origins.max()) + 1.0


def test_test_prefix_two_preferred_and_val_selects_one(tmp_path, scene):
    root = write_nsvf(scene, tmp_path / "S", test_prefix="2_")
    for name in ("1_0000.png", "1_0001.png"):  # a validation copy of the test views
        (root / "rgb" / name).write_bytes((root / "rgb" / name.replace("1_", "2_")).read_bytes())
        (root / "pose" / name.replace(".png", ".txt")).write_text(
            (root / "pose" / name.replace("1_", "2_").replace(".png", ".txt")).read_text()
        )
    assert load_nsvf(root).test.names == ["2_0000", "2_0001"]
    assert load_nsvf(root, test_split="val").test.names == ["1_0000", "1_0001"]


def test_first_line_intrinsics_and_downscale(tmp_path, scene):
    root = write_nsvf(scene, tmp_path / "S", matrix_intrinsics=False)
    loaded = load_scene(DataConfig(kind="nsvf", path=root, downscale=2))
    assert loaded.train.rgb.shape[1:3] == (8, 8)
    torch.testing.assert_close(loaded.train.cameras.fx, scene.train.cameras.fx / 2)
    np.testing.assert_allclose(float(loaded.train.cameras.cx[0]), float(scene.train.cameras.cx[0]) / 2)
