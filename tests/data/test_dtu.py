"""DTU in the IDR / NeuS layout, and the projection-matrix decomposition behind it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layouts import DTU_SCALE_MAT, all_views, tiny_scene, write_dtu
from scipy.spatial.transform import Rotation

from nerfplex.data.dtu import load_dtu
from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.data.projection import decompose_projection


@pytest.mark.parametrize("scale", [1.0, 3.7, -0.02])
def test_decomposition_recovers_intrinsics_rotation_and_centre(scale):
    rng = np.random.default_rng(0)
    K = np.array([[1100.0, 0.0, 790.0], [0.0, 1090.0, 610.0], [0.0, 0.0, 1.0]])
    R = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()  # world -> camera
    centre = rng.normal(size=3) * 5
    P = scale * K @ np.hstack([R, -R @ centre[:, None]])
    K_out, c2w = decompose_projection(P, "P")
    np.testing.assert_allclose(K_out, K, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(c2w[:3, :3], R.T, atol=1e-10)
    np.testing.assert_allclose(c2w[:3, 3], centre, atol=1e-9)


@pytest.fixture(scope="module")
def views():
    return all_views(tiny_scene("object", n_train=6, n_test=3))  # 9 views


def test_round_trip_in_the_unit_sphere_frame(tmp_path, views):
    root = write_dtu(views, tmp_path / "dtu_scan24")
    scene = load_dtu(root)  # views 0 and 8 held out
    assert scene.test.names == ["000", "008"] and len(scene.train) == 7
    expected = views.subset([0, 8])
    torch.testing.assert_close(scene.test.cameras.c2w, expected.cameras.c2w, atol=1e-5, rtol=0)
    for key in ("fx", "fy", "cx", "cy"):
        torch.testing.assert_close(getattr(scene.test.cameras, key), getattr(expected.cameras, key))
    torch.testing.assert_close(scene.test.alpha, expected.alpha, atol=0.5 / 255 + 1e-6, rtol=0)
    inside = expected.alpha[..., 0] > 0.99  # premultiplied colour where the mask is full
    torch.testing.assert_close(scene.test.rgb[inside], expected.rgb[inside], atol=1.5 / 255, rtol=0)
    assert scene.extras["dtu_scan"] == 24
    np.testing.assert_allclose(scene.extras["scale_mat"], DTU_SCALE_MAT)
    torch.testing.assert_close(scene.aabb, torch.tensor([[-1.0] * 3, [1.0] * 3]))
    assert scene.sphere_radius == 1.0  # cameras_sphere.npz puts the object in the unit sphere
    dist = views.cameras.c2w[:, :, 3].norm(dim=-1)
    assert scene.near == pytest.approx(float(dist.min()) - 1.0, rel=1e-5)
    assert scene.far == pytest.approx(float(dist.max()) + 1.0, rel=1e-5)


def test_without_masks_the_photos_stay_whole_and_idr_file_name(tmp_path, views):
    root = write_dtu(views, tmp_path / "scan65", camera_file="cameras.npz")
    scene = load_scene(DataConfig(kind="dtu", path=root, masks=False, train_on_test_views=True))
    assert scene.train.alpha is None and len(scene.train) == len(views)
    background = views.alpha[0, 0, 0, 0] < 0.01
    assert background  # a corner pixel shows the background colour written behind the object
    torch.testing.assert_close(scene.test.rgb[0, 0, 0], torch.tensor([0.4, 0.5, 0.6]), atol=1 / 255, rtol=0)
