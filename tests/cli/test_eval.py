"""``nerfplex eval`` on a trained run: every file, PSNR / SSIM against independent computations, LPIPS
against the lpips package's own network with the same generated weights, skipped metrics."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from nerfplex.cli.main import main
from nerfplex.eval.run_report import read_scalars
from nerfplex.eval.view_rendering import render_view
from nerfplex.run_loading import load_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def alex_weights(tmp_path_factory):
    from nerfplex.metrics.torchvision_compat import import_torchvision

    try:
        import_torchvision()
    except ImportError as err:
        pytest.skip(f"torchvision unavailable: {err}")
    pytest.importorskip("lpips")
    from random_weights import write_random_lpips_backbone

    folder = tmp_path_factory.mktemp("weights")
    write_random_lpips_backbone("alex", folder, seed=3)
    return folder


@pytest.mark.filterwarnings("ignore:Arguments other than a weight enum", "ignore:The parameter .pretrained.")
def test_eval_writes_everything_and_matches_independent_metrics(trained_run, alex_weights, capsys, monkeypatch):
    assert (
        main(
            [
                "eval",
                "--load-config",
                str(trained_run / "config.yaml"),
                "--weights-dir",
                str(alex_weights),
                "--metrics",
                "psnr",
                "ssim",
                "lpips_alex",
                "dreamsim",
                "--no-progress",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert "skipped dreamsim: DreamSim (ensemble) needs" in err and "dreamsim_ensemble_checkpoint.zip" in err
    folder = trained_run / "eval" / "step_20"
    assert str(folder) in out
    report = json.loads((folder / "metrics.json").read_text())
    assert report["step"] == 20 and report["num_views"] == 2 and report["method"] == "tensorf"
    assert set(report["metrics"]) == {"psnr", "ssim", "lpips_alex"} == set(report["conventions"])
    assert set(report["skipped"]) == {"dreamsim"}
    names = [row["name"] for row in report["per_image"]]
    for kind in ("rgb", "depth", "error"):
        assert sorted(p.name for p in (folder / kind).iterdir()) == sorted(f"{n}.png" for n in names)
    rows = list(csv.DictReader((folder / "metrics.csv").read_text().splitlines()))
    assert [r["name"] for r in rows] == [*names, "mean"]

    # independent computations on the same renders
    run = load_run(trained_run / "config.yaml")
    monkeypatch.setenv("TORCH_HOME", str(alex_weights))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    import lpips

    reference = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=False, verbose=False).eval()
    white = torch.ones(3)
    for index, row in enumerate(report["per_image"]):
        view = render_view(
            run.model, run.scene.test.cameras, index, run.scene.near, run.scene.far, white, 1024, run.scene.aabb
        )
        pred = view.rgb.clamp(0, 1).double().numpy()
        target = run.scene.test.composite(white, index).double().numpy()
        assert row["psnr"] == pytest.approx(10 * math.log10(1 / np.mean((pred - target) ** 2)), abs=1e-4)
        ssim = structural_similarity(
            pred, target, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1
        )
        assert row["ssim"] == pytest.approx(ssim, abs=1e-5)
        a, b = (torch.from_numpy(x).float().permute(2, 0, 1)[None] * 2 - 1 for x in (pred, target))
        with torch.no_grad():
            assert row["lpips_alex"] == pytest.approx(float(reference(a, b)), rel=1e-4, abs=1e-6)
    means = report["metrics"]
    assert means["psnr"] == pytest.approx(np.mean([r["psnr"] for r in report["per_image"]]), abs=1e-6)
    # the means are on the run's TensorBoard beside the training curves
    scalars = read_scalars(trained_run / "tensorboard")
    assert scalars["test/psnr"] == [(20, pytest.approx(means["psnr"], abs=1e-4))]
    assert "train/psnr" in scalars and "test/dreamsim" not in scalars


def test_eval_errors_are_clear(tmp_path, capsys):
    assert main(["eval", "--load-config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
