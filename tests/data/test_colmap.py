"""COLMAP scenes -> SceneData: poses, intrinsics, distortion, split, normalisation and bounds, each checked
against an independent computation from what the test wrote; bad inputs refused with clear errors."""

from __future__ import annotations

import shutil
import warnings

import imageio.v3 as iio
import numpy as np
import pytest
from colmap_fixtures import make_colmap_scene, project

from nerfplex.data.colmap import load_colmap
from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.errors import NerfplexError


def _all_views(scene):
    names = scene.train.names + scene.test.names
    cams = [scene.train.cameras, scene.test.cameras]
    c2w = np.concatenate([c.c2w.double().numpy() for c in cams])
    intr = {k: np.concatenate([getattr(c, k).double().numpy() for c in cams]) for k in ("fx", "fy", "cx", "cy")}
    dist = [c.distortion.double().numpy() if c.distortion is not None else np.zeros((len(c), 5)) for c in cams]
    return names, c2w, intr, np.concatenate(dist)


@pytest.mark.parametrize("model", ["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV"])
@pytest.mark.parametrize("binary", [True, False])
def test_cameras_reproject_the_model_observations(tmp_path, model, binary):
    """Every observation of the model is where the loaded camera projects its (normalised) 3D point."""
    written = make_colmap_scene(tmp_path, model=model, binary=binary)
    scene = load_colmap(tmp_path)
    transform = scene.extras["world_from_colmap"]
    names, c2w, intr, dist = _all_views(scene)
    for im in written.images:
        i = names.index(im.name[:-4])
        cam = written.cameras[0]
        # independent projection: loaded pose + loaded pinhole/distortion in the test's own OPENCV formula
        rot, centre = c2w[i, :, :3], c2w[i, :, 3]
        w2c = np.concatenate([rot.T, -rot.T @ centre[:, None]], axis=1)
        params = [intr["fx"][i], intr["fy"][i], intr["cx"][i], intr["cy"][i], *dist[i]]
        cam_as_loaded = type(cam)(1, "FULL_OPENCV", cam.width, cam.height, params + [0, 0, 0])
        ids = [p[2] for p in im.points2d if p[2] >= 0]
        xyz = np.stack([written.points[pid] for pid in ids])
        xyz_n = xyz @ transform[:3, :3].T + transform[:3, 3]
        expected = np.array([p[:2] for p in im.points2d if p[2] >= 0])
        np.testing.assert_allclose(project(cam_as_loaded, w2c, xyz_n), expected, atol=2e-4)
        np.testing.assert_allclose(project(cam, im.w2c, xyz), expected, atol=1e-9)


def test_normalisation_properties(tmp_path):
    make_colmap_scene(tmp_path, n_images=12)
    scene = load_colmap(tmp_path)
    _, c2w, _, _ = _all_views(scene)
    centres = c2w[:, :, 3]
    np.testing.assert_allclose(centres.mean(0), 0.0, atol=1e-6)
    assert np.linalg.norm(centres, axis=1).max() == pytest.approx(1.0, abs=1e-6)
    up = -c2w[:, :, 1].mean(0)
    np.testing.assert_allclose(up / np.linalg.norm(up), [0, 0, 1], atol=1e-6)
    transform = scene.extras["world_from_colmap"]
    s = np.cbrt(np.linalg.det(transform[:3, :3]))
    np.testing.assert_allclose(transform[:3, :3] @ transform[:3, :3].T / s**2, np.eye(3), atol=1e-9)


def test_bounds_from_points(tmp_path):
    written = make_colmap_scene(tmp_path, model="PINHOLE")
    scene = load_colmap(tmp_path)
    transform = scene.extras["world_from_colmap"]
    scale = np.cbrt(np.linalg.det(transform[:3, :3]))
    depths = []
    for im in written.images:
        for _, _, pid in im.points2d:
            if pid >= 0:
                depths.append((im.w2c[:, :3] @ written.points[pid] + im.w2c[:, 3])[2] * scale)
    fx, fy, cx, cy = written.cameras[0].params
    corner = np.sqrt(1 + (max(cx, 24 - cx) / fx) ** 2 + (max(cy, 16 - cy) / fy) ** 2)
    assert scene.near == pytest.approx(0.9 * np.percentile(depths, 0.1), rel=1e-5)
    assert scene.far == pytest.approx(np.percentile(depths, 99.9) * corner, rel=1e-5)
    pts = np.stack(list(written.points.values())) @ transform[:3, :3].T + transform[:3, 3]
    np.testing.assert_allclose(scene.aabb.numpy(), np.percentile(pts, [1, 99], axis=0), atol=1e-5)


def test_split_every_eighth_in_name_order(tmp_path):
    written = make_colmap_scene(tmp_path, n_images=17)
    names = sorted(im.name[:-4] for im in written.images)
    scene = load_scene(DataConfig(kind="colmap", path=tmp_path))
    assert scene.test.names == names[::8] and len(scene.train) == 17 - 3
    scene = load_scene(DataConfig(kind="colmap", path=tmp_path, test_every=4))
    assert scene.test.names == names[::4]


def test_images_n_folder_and_area_downscale(tmp_path):
    make_colmap_scene(tmp_path, model="PINHOLE", size=(24, 16))
    full = load_colmap(tmp_path)
    box = load_colmap(tmp_path, downscale=2)  # no images_2/: area-averaged from images/
    assert (box.train.cameras.width, box.train.cameras.height) == (12, 8)
    np.testing.assert_allclose(box.train.cameras.fx.numpy(), full.train.cameras.fx.numpy() / 2, rtol=1e-6)
    (tmp_path / "images_2").mkdir()
    for path in (tmp_path / "images").iterdir():  # a pre-shrunk copy, W // 2 x H // 2: exactly 1 / 2
        iio.imwrite(tmp_path / "images_2" / path.name, iio.imread(path)[::2, ::2] * 0)
    small = load_colmap(tmp_path, downscale=2)
    assert (small.train.cameras.width, small.train.cameras.height) == (12, 8)
    assert float(small.train.rgb.max()) == 0.0  # read from images_2/
    np.testing.assert_allclose(small.train.cameras.cx.numpy(), full.train.cameras.cx.numpy() * 12 / 24, rtol=1e-6)
    (tmp_path / "images_4").mkdir()
    for path in (tmp_path / "images").iterdir():  # resized as a whole and rounded up: 7 x 5, not 6 x 4
        iio.imwrite(tmp_path / "images_4" / path.name, np.zeros((5, 7, 3), np.uint8))
    rounded = load_colmap(tmp_path, downscale=4)
    np.testing.assert_allclose(rounded.train.cameras.cx.numpy(), full.train.cameras.cx.numpy() * 7 / 24, rtol=1e-6)
    np.testing.assert_allclose(rounded.train.cameras.fy.numpy(), full.train.cameras.fy.numpy() * 5 / 16, rtol=1e-6)


def test_two_cameras_same_size(tmp_path):
    written = make_colmap_scene(tmp_path, two_cameras=True, model="PINHOLE")
    scene = load_colmap(tmp_path)
    names, _, intr, _ = _all_views(scene)
    for im in written.images:
        expected = written.cameras[im.camera_id - 1].params[0]
        assert intr["fx"][names.index(im.name[:-4])] == pytest.approx(expected)


def test_missing_images_dropped_with_one_warning(tmp_path):
    written = make_colmap_scene(tmp_path, n_images=10)
    for im in written.images[:3]:
        (tmp_path / "images" / im.name).unlink()
    with pytest.warns(UserWarning, match="3 of the 10 images") as record:
        scene = load_colmap(tmp_path)
    assert len(record) == 1 and len(scene.train) + len(scene.test) == 7


def test_no_points3d_file_warns_and_bounds_hold_cameras(tmp_path):
    make_colmap_scene(tmp_path, with_points=False)
    with pytest.warns(UserWarning, match="no points3D file"):
        scene = load_colmap(tmp_path)
    np.testing.assert_allclose(scene.aabb.numpy(), [[-1, -1, -1], [1, 1, 1]])
    assert 0 < scene.near < scene.far


@pytest.mark.parametrize(
    "model, needle", [("OPENCV_FISHEYE", "OPENCV_FISHEYE.*image_undistorter"), ("FULL_OPENCV", "k4 k5 k6.*undistort")]
)
def test_unsupported_lens_models_refused(tmp_path, model, needle):
    params = None
    if model == "FULL_OPENCV":
        params = [20.0, 21.0, 12.0, 8.0, 0.01, 0.0, 0.0, 0.0, 0.0, 0.02, 0.0, 0.0]
    make_colmap_scene(tmp_path, model=model, params=params)
    with pytest.raises(NerfplexError, match=needle):
        load_colmap(tmp_path)


def test_no_registered_image(tmp_path):
    make_colmap_scene(tmp_path)
    (tmp_path / "sparse" / "0" / "images.bin").write_bytes(b"\x00" * 8)
    with pytest.raises(NerfplexError, match="no registered image.*process-data"):
        load_colmap(tmp_path)


def test_empty_images_folder(tmp_path):
    make_colmap_scene(tmp_path)
    shutil.rmtree(tmp_path / "images")
    (tmp_path / "images").mkdir()
    with pytest.raises(NerfplexError, match="images is empty"):
        load_colmap(tmp_path)
    (tmp_path / "images" / "other.png").write_bytes(b"")
    with pytest.raises(NerfplexError, match="none of the 10 images"):
        load_colmap(tmp_path)


def test_mixed_image_sizes(tmp_path):
    written = make_colmap_scene(tmp_path, two_cameras=True)
    from colmap_fixtures import write_model

    written.cameras[1].width = 30
    write_model(tmp_path / "sparse" / "0", written.cameras, written.images, written.points)
    with pytest.raises(NerfplexError, match="different sizes.*24x16: 5 images, 30x16: 5 images"):
        load_colmap(tmp_path)
    write_model(tmp_path / "sparse" / "0", written.cameras[:1], written.images[::2], written.points)
    name = written.images[2].name
    iio.imwrite(tmp_path / "images" / name, np.zeros((16, 30, 3), np.uint8))
    with pytest.raises(NerfplexError, match="is 30x16 but"):
        load_colmap(tmp_path)


def test_file_size_differs_from_camera(tmp_path):
    written = make_colmap_scene(tmp_path)
    for im in written.images:
        iio.imwrite(tmp_path / "images" / im.name, np.zeros((8, 12, 3), np.uint8))
    with pytest.raises(NerfplexError, match="is 12x8 but its COLMAP camera is 24x16"):
        load_colmap(tmp_path)


def test_no_sparse_model(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(NerfplexError, match="no COLMAP sparse model.*process-data"):
        load_colmap(tmp_path)


def test_trains_through_load_scene_without_kind(tmp_path):
    make_colmap_scene(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene = load_scene(DataConfig(path=tmp_path))
    assert scene.extras["layout"] == "colmap"
