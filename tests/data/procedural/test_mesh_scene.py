"""make_mesh_scene / make-scene --mesh: normalisation, exact depth against an analytic sphere, masks,
the written dataset and its gt_mesh.ply, and errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("open3d")
import open3d as o3d  # noqa: E402

from nerfplex.cli.main import main  # noqa: E402
from nerfplex.data.blender import load_blender  # noqa: E402
from nerfplex.data.procedural import make_procedural_scene  # noqa: E402
from nerfplex.data.procedural.mesh_scene import MESH_RADIUS, MeshRaycaster, load_normalized_mesh, make_mesh_scene  # noqa: E402
from nerfplex.data.procedural.scenes import OBJECT_CAMERA_RADIUS  # noqa: E402
from nerfplex.errors import NerfplexError  # noqa: E402
from nerfplex.geometry.mesh_io import read_mesh, write_mesh  # noqa: E402

SPHERE_CENTER, SPHERE_RADIUS, SPHERE_RESOLUTION = np.array([3.0, -2.0, 5.0]), 2.5, 24
SAG = MESH_RADIUS * (1.0 - math.cos(math.pi / SPHERE_RESOLUTION))
"""How far (after normalisation) the tessellated sphere's faces lie inside the true sphere, at most:
the vertices are on it, the faces are chords at most pi / resolution wide in angle."""
RES = 9
"""Odd, so that the central pixel's ray passes through the image centre, i.e. the origin."""


def _sphere_file(tmp_path, name="ball.ply"):
    mesh = o3d.geometry.TriangleMesh.create_sphere(radius=SPHERE_RADIUS, resolution=SPHERE_RESOLUTION)
    vertices = np.asarray(mesh.vertices) + SPHERE_CENTER
    return write_mesh(tmp_path / name, vertices, np.asarray(mesh.triangles))


@pytest.fixture(scope="module")
def sphere_path(tmp_path_factory):
    return _sphere_file(tmp_path_factory.mktemp("mesh"))


@pytest.fixture(scope="module")
def scene(sphere_path):
    return make_mesh_scene(sphere_path, RES, 3, 2, seed=0)


def test_normalisation_centres_and_scales_and_records_the_similarity(sphere_path, scene):
    vertices, faces = scene.extras["gt_mesh"]
    source = read_mesh(sphere_path)
    assert vertices.dtype == np.float32 and faces.dtype == np.int64
    np.testing.assert_array_equal(faces, source.faces)
    np.testing.assert_allclose(np.linalg.norm(vertices, axis=-1), MESH_RADIUS, atol=1e-5)
    np.testing.assert_allclose(0.5 * (vertices.min(0) + vertices.max(0)), 0.0, atol=1e-5)
    matrix = np.asarray(scene.extras["mesh_transform"]["matrix"])
    mapped = source.vertices @ matrix[:3, :3].T + matrix[:3, 3]
    np.testing.assert_allclose(mapped, vertices, atol=1e-5)
    assert scene.extras["mesh_transform"]["scale"] == pytest.approx(MESH_RADIUS / SPHERE_RADIUS, rel=1e-5)
    assert scene.name == "mesh-ball"
    assert (scene.aabb[0] <= torch.from_numpy(vertices.min(0))).all()
    assert (torch.from_numpy(vertices.max(0)) <= scene.aabb[1]).all()


def test_up_axis_turns_the_files_up_direction_to_world_z(tmp_path):
    box = o3d.geometry.TriangleMesh.create_box(1.0, 4.0, 1.0)  # tall along y
    path = write_mesh(tmp_path / "box.obj", np.asarray(box.vertices), np.asarray(box.triangles))
    extent = {axis: np.ptp(load_normalized_mesh(path, axis)[0], axis=0) for axis in ("y", "z")}
    assert extent["y"][2] == pytest.approx(4.0 * extent["y"][0], rel=1e-5)  # y-up: tall along z
    assert extent["z"][1] == pytest.approx(4.0 * extent["z"][0], rel=1e-5)  # z: file axes kept


def test_central_rays_hit_at_the_analytic_distance_and_corners_miss(scene):
    assert torch.equal(scene.train.cameras.c2w, make_procedural_scene("object", RES, 3, 2).train.cameras.c2w)
    for split in (scene.train, scene.test):
        c = RES // 2
        eye_distance = split.cameras.c2w[:, :, 3].norm(dim=-1)
        assert torch.allclose(eye_distance, torch.tensor(OBJECT_CAMERA_RADIUS))
        depth = split.depth[:, c, c, 0]
        expected = eye_distance - MESH_RADIUS
        assert (depth >= expected - 1e-4).all() and (depth <= expected + SAG + 1e-4).all()
        assert (split.alpha[:, c, c, 0] == 1.0).all()
        for y, x in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
            assert (split.alpha[:, y, x, 0] == 0.0).all()
            assert torch.isinf(split.depth[:, y, x, 0]).all()
            assert (split.rgb[:, y, x] == 0.0).all()
        # Depth is finite exactly where the pixel-centre ray hits; alpha covers those pixels.
        hit = torch.isfinite(split.depth)
        assert (split.alpha[hit] > 0).all() and (split.alpha[~hit] < 1).all()
        assert split.rgb.min() >= 0.0 and split.rgb.max() <= 1.0
        assert (split.rgb <= split.alpha + 1e-6).all()  # premultiplied, albedo and light <= 1


def test_every_hit_lies_on_the_tessellated_sphere(scene):
    """The polyhedron lies between the spheres of radius R - SAG and R: rays through the inner one
    hit, rays missing the outer one miss, and hit points lie in the shell."""
    cams = scene.train.cameras
    for i in range(len(cams)):
        origins, directions = cams.image_rays(i)
        depth = scene.train.depth[i].reshape(-1)
        hit = torch.isfinite(depth)
        b = (origins * directions).sum(-1)
        closest = ((origins * origins).sum(-1) - b * b).clamp_min(0).sqrt()  # ray-origin distance
        assert hit[closest < MESH_RADIUS - SAG - 1e-4].all()
        assert not hit[closest > MESH_RADIUS + 1e-4].any()
        radius = (origins[hit] + depth[hit, None] * directions[hit]).norm(dim=-1)
        assert (radius >= MESH_RADIUS - SAG - 1e-4).all() and (radius <= MESH_RADIUS + 1e-4).all()
        assert (depth[hit] <= b[hit].neg()).all()  # the near side, before the closest approach


def test_surface_is_textured_and_shaded(tmp_path):
    scene = make_mesh_scene(_sphere_file(tmp_path), 24, 2, 1, seed=1)
    colors = scene.train.rgb[scene.train.alpha[..., 0] == 1.0]
    assert colors.shape[0] > 100
    assert colors.std(dim=0).min() > 0.05  # checker texture and lighting vary across the surface


def test_raycaster_reports_distance_and_normal():
    box = o3d.geometry.TriangleMesh.create_box(2.0, 2.0, 2.0)
    raycaster = MeshRaycaster(np.asarray(box.vertices) - 1.0, np.asarray(box.triangles))
    t, normals = raycaster.cast(
        torch.tensor([[0.2, 0.3, 5.0], [5.0, 5.0, 5.0]]), torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]])
    )
    assert t[0].item() == pytest.approx(4.0, abs=1e-5) and math.isinf(t[1].item())
    assert normals[0].abs().tolist() == pytest.approx([0.0, 0.0, 1.0], abs=1e-6)


def test_make_scene_mesh_writes_a_loadable_dataset_with_the_normalised_mesh(tmp_path, sphere_path, scene):
    out = tmp_path / "ball"
    assert (
        main(
            [
                "make-scene",
                "--mesh",
                str(sphere_path),
                "--out",
                str(out),
                "--resolution",
                str(RES),
                "--num-train-views",
                "3",
                "--num-test-views",
                "2",
            ]
        )
        == 0
    )
    loaded = load_blender(out)
    assert len(loaded.train) == 3 and len(loaded.test) == 2
    assert (loaded.train.alpha - scene.train.alpha).abs().max() <= 1 / 255
    assert torch.allclose(loaded.train.cameras.c2w, scene.train.cameras.c2w, atol=1e-5)
    assert loaded.near == pytest.approx(scene.near) and loaded.far == pytest.approx(scene.far)
    assert json.loads((out / "transforms_train.json").read_text())["nerfplex"]["name"] == "mesh-ball"
    assert loaded.gt_mesh_path == out / "gt_mesh.ply"
    gt = read_mesh(loaded.gt_mesh_path)
    vertices, faces = scene.extras["gt_mesh"]
    np.testing.assert_allclose(gt.vertices, vertices, atol=1e-6)
    np.testing.assert_array_equal(gt.faces, faces)
    transform = json.loads((out / "gt_mesh_transform.json").read_text())
    np.testing.assert_allclose(transform["matrix"], scene.extras["mesh_transform"]["matrix"])
    # The written mesh is in the written cameras' frame: casting it again reproduces the depth.
    raycaster = MeshRaycaster(gt.vertices, gt.faces)
    origins, directions = loaded.test.cameras.image_rays(1)
    t, _ = raycaster.cast(origins, directions)
    expected = scene.test.depth[1].reshape(-1)
    assert torch.equal(torch.isfinite(t), torch.isfinite(expected))
    assert torch.allclose(t[torch.isfinite(t)], expected[torch.isfinite(expected)], atol=1e-4)


def test_make_scene_mesh_errors(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["make-scene", "--mesh", str(tmp_path / "missing.obj"), "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    points = write_mesh(
        tmp_path / "points.ply", np.random.default_rng(0).random((10, 3)), np.zeros((0, 3), dtype=np.int64)
    )
    assert main(["make-scene", "--mesh", str(points), "--out", out]) == 2
    assert "no triangles" in capsys.readouterr().err
    assert main(["make-scene", "--mesh", str(points), "--scene", "room", "--out", out]) == 2
    assert "--scene room" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.ply"]
    with pytest.raises(NerfplexError, match="degenerate"):
        flat = write_mesh(tmp_path / "flat.obj", np.ones((3, 3)), [[0, 1, 2]])
        load_normalized_mesh(flat)
    with pytest.raises(NerfplexError, match="up_axis"):
        load_normalized_mesh(points, up_axis="w")
