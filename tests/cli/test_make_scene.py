import json

from nerfplex.cli.main import main
from nerfplex.data.blender import load_blender
from nerfplex.data.procedural import make_procedural_scene
from nerfplex.geometry.mesh_io import read_mesh


def test_make_scene_writes_a_loadable_dataset_with_gt_mesh(tmp_path, capsys):
    out = tmp_path / "object"
    args = [
        "make-scene",
        "--out",
        str(out),
        "--resolution",
        "16",
        "--num-train-views",
        "3",
        "--num-test-views",
        "2",
        "--mesh-resolution",
        "32",
    ]
    assert main(args) == 0
    scene = load_blender(out)
    reference = make_procedural_scene("object", 16, 3, 2, 0)
    assert len(scene.train) == 3 and len(scene.test) == 2
    assert (scene.train.alpha - reference.train.alpha).abs().max() <= 1 / 255
    assert abs(scene.near - reference.near) < 1e-6 and abs(scene.far - reference.far) < 1e-6
    assert scene.gt_mesh_path == out / "gt_mesh.ply"
    mesh = read_mesh(scene.gt_mesh_path)
    assert len(mesh.vertices) > 100 and len(mesh.faces) > 100
    assert json.loads((out / "transforms_train.json").read_text())["nerfplex"]["name"] == "procedural-object"

    # Refuses to overwrite, and leaves no staging folders behind.
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["object"]
    assert main(args + ["--overwrite"]) == 0


def test_make_scene_room_without_mesh(tmp_path):
    out = tmp_path / "room"
    assert (
        main(
            [
                "make-scene",
                "--out",
                str(out),
                "--scene",
                "room",
                "--resolution",
                "8",
                "--num-train-views",
                "2",
                "--num-test-views",
                "1",
                "--mesh-resolution",
                "0",
            ]
        )
        == 0
    )
    assert not (out / "gt_mesh.ply").exists()
    assert load_blender(out).train.alpha is None
