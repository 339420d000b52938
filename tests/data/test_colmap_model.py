"""COLMAP model files: our reader against pycolmap (COLMAP's own reader) and against what the test wrote."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from colmap_fixtures import make_colmap_scene, quaternion_wxyz

from nerfplex.data.colmap_model import qvec_to_rotation, read_model
from nerfplex.errors import NerfplexError

pycolmap = pytest.importorskip("pycolmap")


@pytest.mark.parametrize("binary", [True, False])
def test_model_matches_what_was_written_and_pycolmap(tmp_path, binary):
    scene = make_colmap_scene(tmp_path, binary=binary, write_images=False)
    model = read_model(tmp_path / "sparse" / "0")
    assert sorted(model.images) == [im.image_id for im in scene.images]
    for im in scene.images:
        got = model.images[im.image_id]
        assert got.name == im.name and got.camera_id == im.camera_id
        np.testing.assert_allclose(got.world_to_camera(), im.w2c, atol=1e-12)
        np.testing.assert_array_equal(got.point3d_ids, [p[2] for p in im.points2d])
    cam = model.cameras[1]
    assert (cam.model, cam.width, cam.height) == ("OPENCV", 24, 16)
    np.testing.assert_allclose(cam.params, scene.cameras[0].params)
    order = np.argsort(model.point_ids)
    np.testing.assert_allclose(model.points[order], np.stack([scene.points[k] for k in sorted(scene.points)]))
    # COLMAP's own reader sees the same model in these files
    rec = pycolmap.Reconstruction(str(tmp_path / "sparse" / "0"))
    assert rec.num_reg_images() == len(scene.images) and rec.num_points3D() == len(scene.points)
    for image_id, image in rec.images.items():
        np.testing.assert_allclose(image.cam_from_world().matrix(), model.images[image_id].world_to_camera(), atol=1e-9)


def test_reads_a_model_pycolmap_wrote(tmp_path):
    options = pycolmap.SyntheticDatasetOptions()
    options.num_rigs, options.num_cameras_per_rig, options.num_frames_per_rig, options.num_points3D = 1, 1, 6, 40
    rec = pycolmap.synthesize_dataset(options)
    for kind in ("bin", "txt"):
        folder = tmp_path / kind
        folder.mkdir()
        (rec.write_binary if kind == "bin" else rec.write_text)(str(folder))
        model = read_model(folder)
        assert len(model.images) == 6 and len(model.points) == 40
        for image_id, image in rec.images.items():
            np.testing.assert_allclose(
                model.images[image_id].world_to_camera(), image.cam_from_world().matrix(), atol=1e-9
            )
            assert model.images[image_id].name == image.name
        for camera_id, camera in rec.cameras.items():
            assert model.cameras[camera_id].model == camera.model.name
            np.testing.assert_allclose(model.cameras[camera_id].params, camera.params)
        for pid, point in rec.points3D.items():
            np.testing.assert_allclose(model.points[model.point_ids == pid][0], point.xyz)


def test_quaternion_convention():
    rng = np.random.default_rng(1)
    from scipy.spatial.transform import Rotation

    for rot in Rotation.random(5, random_state=2).as_matrix():
        np.testing.assert_allclose(qvec_to_rotation(quaternion_wxyz(rot) * rng.uniform(0.5, 2)), rot, atol=1e-12)


@pytest.mark.parametrize("name, cut", [("cameras.bin", 20), ("images.bin", 100), ("points3D.bin", 50)])
def test_truncated_binary_files_are_named(tmp_path, name, cut):
    make_colmap_scene(tmp_path, write_images=False)
    path = tmp_path / "sparse" / "0" / name
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(NerfplexError, match=f"{name}.*truncated"):
        read_model(tmp_path / "sparse" / "0")


def test_trailing_bytes_and_unknown_model_id(tmp_path):
    make_colmap_scene(tmp_path, write_images=False)
    path = tmp_path / "sparse" / "0" / "cameras.bin"
    data = path.read_bytes()
    path.write_bytes(data + b"\x00\x01")
    with pytest.raises(NerfplexError, match="bytes after its last record"):
        read_model(tmp_path / "sparse" / "0")
    path.write_bytes(data[:8] + struct.pack("<ii", 1, 99) + data[16:])
    with pytest.raises(NerfplexError, match="unknown model id 99"):
        read_model(tmp_path / "sparse" / "0")


def test_camera_id_without_camera(tmp_path):
    scene = make_colmap_scene(tmp_path, write_images=False, binary=False)
    path = tmp_path / "sparse" / "0" / "cameras.txt"
    path.write_text(path.read_text().replace("\n1 OPENCV", "\n7 OPENCV"))
    with pytest.raises(NerfplexError, match=f"{scene.images[0].name}.*camera 1.*does not define"):
        read_model(tmp_path / "sparse" / "0")


def test_text_errors(tmp_path):
    make_colmap_scene(tmp_path, write_images=False, binary=False)
    path = tmp_path / "sparse" / "0" / "cameras.txt"
    path.write_text("1 OPENCV 24 16 1 2 3\n")
    with pytest.raises(NerfplexError, match="has 3 parameters; that model has 8"):
        read_model(tmp_path / "sparse" / "0")
    path.write_text("1 KANNALA 24 16 1 2 3\n")
    with pytest.raises(NerfplexError, match="unknown model 'KANNALA'"):
        read_model(tmp_path / "sparse" / "0")


def test_no_model_files(tmp_path):
    (tmp_path / "sparse" / "0").mkdir(parents=True)
    with pytest.raises(NerfplexError, match="no COLMAP model.*process-data"):
        read_model(tmp_path / "sparse" / "0")
