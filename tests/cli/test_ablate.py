import csv

import pytest

from nerfplex.ablation import apply_overrides, summary_rows
from nerfplex.cli.main import main
from nerfplex.config import ExperimentConfig
from nerfplex.errors import NerfplexError

TINY = [
    "model.method=nerf",
    "data.resolution=16",
    "data.num_train_views=4",
    "data.num_test_views=2",
    "model.nerf.mlp.num_layers=2",
    "model.nerf.mlp.width=16",
    "model.nerf.mlp.skip_layers=[0]",
    "model.nerf.num_coarse_samples=8",
    "model.nerf.num_fine_samples=8",
    "trainer.max_steps=4",
    "trainer.batch_size=64",
    "trainer.eval_every=2",
    "trainer.progress_bar=false",
    "loss.s3im.patch_height=8",
]


def test_ablation_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "abl"
    assert main(["ablate", "--weights", "0", "1", "--seeds", "0", "--out", str(out), "--set", *TINY]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["weight"], r["seed"]) for r in rows] == [("0.0", "0"), ("1.0", "0")]
    summary = (out / "summary.md").read_text()
    assert "| 0 | 1 |" in summary and "| 1 | 1 |" in summary
    assert (out / "psnr_curves.png").stat().st_size > 1000
    assert (out / "runs" / "s3im-1_seed-0" / "metrics.json").is_file()
    assert "ablation folder" in capsys.readouterr().out


def test_overrides_parse_yaml_values_and_reject_bad_keys():
    config = apply_overrides(
        ExperimentConfig(), ["trainer.max-steps=7", "model.method=nerf", "model.nerf.mlp.skip_layers=[1]"]
    )
    assert config.trainer.max_steps == 7 and config.model.nerf.mlp.skip_layers == (1,)
    with pytest.raises(NerfplexError, match="trainer.max_stepz"):
        apply_overrides(ExperimentConfig(), ["trainer.max_stepz=7"])
    with pytest.raises(NerfplexError, match="KEY=VALUE"):
        apply_overrides(ExperimentConfig(), ["trainer.max_steps"])


def test_summary_statistics():
    results = [
        {"weight": 0.0, "psnr": 20.0, "ssim": 0.8, "train_seconds": 1.0},
        {"weight": 0.0, "psnr": 22.0, "ssim": 0.9, "train_seconds": 1.0},
        {"weight": 1.0, "psnr": 23.0, "ssim": None, "train_seconds": 2.0},
    ]
    rows = summary_rows(results)
    assert rows[0]["psnr_mean"] == 21.0 and rows[0]["psnr_std"] == 1.0
    assert rows[1]["delta_psnr_vs_mse_only"] == 2.0 and rows[1]["ssim_mean"] is None


TINY_NEUS = [
    "model.method=neus",
    "data.resolution=16",
    "data.num_train_views=4",
    "data.num_test_views=1",
    "model.neus.sdf_network={d_out: 9, d_hidden: 16, n_layers: 2, skip_in: [], multires: 2}",
    "model.neus.rendering_network={d_feature: 8, d_hidden: 16, n_layers: 1, multires_view: 1}",
    "model.neus.n_samples=8",
    "model.neus.n_importance=4",
    "model.neus.up_sample_steps=2",
    "model.neus.n_outside=0",
    "model.neus.warm_up_end=1",
    "model.neus.end_iter=3",
    "trainer.max_steps=3",
    "trainer.batch_size=64",
    "trainer.eval_every=0",
    "trainer.progress_bar=false",
    "loss.s3im.patch_height=8",
]


def test_neus_ablation_tabulates_chamfer_against_the_scenes_surface(tmp_path):
    out = tmp_path / "abl"
    assert (
        main(
            [
                "ablate",
                "--weights",
                "0",
                "1",
                "--out",
                str(out),
                "--geometry",
                "--mesh-resolution",
                "24",
                "--set",
                *TINY_NEUS,
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert all(float(r["chamfer_rel"]) > 0 and 0 <= float(r["fscore"]) <= 1 for r in rows)
    assert "Chamfer-L1 / diagonal" in (out / "summary.md").read_text()
