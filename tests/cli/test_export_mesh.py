import json

import torch

from nerfplex.cli.export_mesh import ExportMeshArgs, export_mesh
from nerfplex.cli.main import main
from nerfplex.config import config_from_dict, save_config
from nerfplex.engine.trainer import Trainer
from nerfplex.geometry.mesh_io import read_mesh


def _run_with_a_flat_surface(tmp_path):
    """A TensoRF run whose density rises along z only: its surface is one horizontal plane."""
    config = config_from_dict(
        {
            "output_dir": str(tmp_path),
            "data": {"resolution": 16, "num_train_views": 4, "num_test_views": 1},
            "model": {
                "tensorf": {
                    "n_voxel_init": 12**3 + 4,
                    "n_voxel_final": 16**3 + 4,
                    "density_ranks": [1, 1, 1],
                    "color_ranks": [2, 2, 2],
                    "color_feature_dim": 4,
                    "mlp_width": 8,
                }
            },
            "trainer": {"progress_bar": False},
        }
    )
    run_dir = tmp_path / "run"
    trainer = Trainer(config, run_dir)
    field = trainer.model.field
    with torch.no_grad():
        for plane, line in zip(field.density_planes, field.density_lines):
            plane.zero_(), line.zero_()
        field.density_planes[0].fill_(1.0)  # plane over (x, y) times a line along z
        ramp = torch.linspace(-20.0, 20.0, field.density_lines[0].shape[2])
        field.density_lines[0].copy_(ramp.view(1, 1, -1, 1))
    trainer.save()
    save_config(config, run_dir / "config.yaml")
    return run_dir, trainer


def test_export_writes_a_mesh_on_the_models_level_set_and_a_report(tmp_path):
    run_dir, trainer = _run_with_a_flat_surface(tmp_path)
    report = export_mesh(ExportMeshArgs(load_config=run_dir / "config.yaml", resolution=24, num_points=2000))
    mesh = read_mesh(run_dir / "mesh_step0.ply")
    z = mesh.vertices[:, 2]
    assert len(z) > 0 and z.std() < 1e-3  # one plane
    surface = trainer.model.surface(trainer.scene.aabb)
    spacing = float((surface.aabb[1] - surface.aabb[0]).max()) / 23
    with torch.no_grad():  # alpha crosses the authors' level 0.005 within one grid step of the plane
        below, above = surface.values(torch.tensor([[0.0, 0.0, z.mean() - spacing], [0.0, 0.0, z.mean() + spacing]]))
    assert below < 0.005 < above
    saved = json.loads((run_dir / "mesh_step0_report.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["num_faces"] == len(mesh.faces) and saved["watertight"] is False
    # the built-in scene's analytic surface is the ground truth: a plane is far from it
    assert saved["metrics"]["fscore"] < 0.5 and saved["chamfer_l1_over_diagonal"] > 0
    assert mesh.vertex_colors is not None and mesh.vertex_colors.shape == mesh.vertices.shape


def test_export_mesh_cli_errors_are_clear(tmp_path, capsys):
    assert main(["export-mesh", "--load-config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    run_dir, _ = _run_with_a_flat_surface(tmp_path)
    assert (
        main(["export-mesh", "--load-config", str(run_dir), "--level", "2.0", "--resolution", "16"]) == 2
    )  # alpha never reaches 2
    assert "never crosses level 2" in capsys.readouterr().err
    assert not list(run_dir.glob("mesh*"))  # nothing half-written
