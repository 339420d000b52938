"""data.kind auto: each layout is recognised from its files; an unrecognised folder gets a message that
says what it holds, which layouts exist, and the process-data command for plain photos."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from colmap_fixtures import make_colmap_scene

from nerfplex.data.detect import LAYOUTS, detect_layout, matching_layouts
from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.errors import NerfplexError


def _touch(root, *names):
    for name in names:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")


@pytest.mark.parametrize(
    "files, kind",
    [
        (["sparse/0/cameras.bin", "images/"], "colmap"),
        (["sparse/cameras.txt", "images/"], "colmap"),
        (["transforms_train.json", "transforms_test.json"], "blender"),
        (["transforms.json", "images/"], "blender"),
        (["meta_data.json"], "monosdf"),
        (["cameras_sphere.npz", "image/", "mask/"], "dtu"),
        (["cameras.npz", "image/"], "dtu"),
        (["rgb/", "pose/", "intrinsics.txt", "bbox.txt"], "nsvf"),
        (["poses_bounds.npy", "images/"], "llff"),
    ],
)
def test_each_layout_is_detected(tmp_path, files, kind):
    _touch(tmp_path, *files)
    assert detect_layout(tmp_path) == kind


def test_process_data_output_prefers_the_colmap_reader(tmp_path):
    _touch(tmp_path, "sparse/0/cameras.bin", "transforms.json", "poses_bounds.npy", "images/")
    assert matching_layouts(tmp_path) == ["colmap", "blender", "llff"]
    assert detect_layout(tmp_path) == "colmap"
    assert detect_layout(tmp_path / "transforms.json") == "blender"


def test_plain_photos_get_the_process_data_command(tmp_path):
    for i in range(3):
        iio.imwrite(tmp_path / f"IMG_{i}.jpg", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(NerfplexError) as info:
        detect_layout(tmp_path)
    message = str(info.value)
    assert "IMG_0.jpg" in message and "3 plain images" in message
    assert f"nerfplex process-data --images {tmp_path} --out" in message
    assert all(kind in message for kind in LAYOUTS)


def test_photos_in_images_subfolder_and_videos(tmp_path):
    (tmp_path / "images").mkdir()
    iio.imwrite(tmp_path / "images" / "a.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(NerfplexError, match=f"process-data --images {tmp_path / 'images'}"):
        detect_layout(tmp_path)
    other = tmp_path / "clip"
    other.mkdir()
    (other / "walk.mp4").write_bytes(b"")
    with pytest.raises(NerfplexError, match="process-data --video .*walk.mp4"):
        detect_layout(other)
    with pytest.raises(NerfplexError, match="process-data --video"):
        detect_layout(other / "walk.mp4")


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(NerfplexError, match="(?s)it is empty.*colmap.*llff"):
        detect_layout(tmp_path)
    with pytest.raises(NerfplexError, match="does not exist"):
        detect_layout(tmp_path / "nope")


def test_auto_is_the_default_and_without_a_path_the_builtin_scene():
    assert DataConfig().kind == "auto"
    scene = load_scene(DataConfig(resolution=8, num_train_views=2, num_test_views=1))
    assert scene.train.cameras.width == 8


def test_path_without_kind_loads_the_folder(tmp_path):
    make_colmap_scene(tmp_path, n_images=9)
    scene = load_scene(DataConfig(path=tmp_path))
    assert scene.extras["layout"] == "colmap" and len(scene.train) + len(scene.test) == 9
    with pytest.raises(NerfplexError, match="--data.ndc is set but .* colmap scene"):
        load_scene(DataConfig(path=tmp_path, ndc=True))


@pytest.mark.parametrize("layout", ["colmap", "llff_ndc"])
def test_trains_a_detected_layout(tmp_path, tiny_config, one_thread, layout):
    """`nerfplex train --data.path SCENE` with no data.kind: two steps and an evaluation run."""
    from dataclasses import replace

    from nerfplex.engine.trainer import Trainer

    scene_dir = tmp_path / "scene"
    if layout == "colmap":
        make_colmap_scene(scene_dir, n_images=9)
        data = replace(tiny_config.data, path=scene_dir)
    else:
        from colmap_fixtures import write_llff
        from test_llff import FOCAL, H, W, _forward_facing

        scene_dir.mkdir()
        _, llff, bounds = _forward_facing()
        write_llff(scene_dir, llff, bounds, (H, W, FOCAL), (W, H))
        data = replace(tiny_config.data, path=scene_dir, ndc=True)
    config = replace(tiny_config, data=data, trainer=replace(tiny_config.trainer, max_steps=2, eval_every=2))
    trainer = Trainer(config, tmp_path / "run")
    metrics = trainer.train()
    assert np.isfinite(metrics["psnr"]) and trainer.scene.extras["layout"] == layout.split("_")[0]
