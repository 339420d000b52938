"""Evaluating test views: files, per-image values equal to the trainer's, CSV, TensorBoard."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from nerfplex.engine.evaluation import evaluate_split
from nerfplex.eval.image_evaluation import ImageEvalSettings, write_evaluation
from nerfplex.metrics.image_metrics import build_metrics
from nerfplex.models.registry import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_writes_metrics_images_and_matches_the_trainers_psnr(tiny_config, tiny_scene, tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_config.model, tiny_scene)
    white = torch.ones(3)
    metrics, skipped = build_metrics(["psnr", "ssim"])
    settings = ImageEvalSettings(background=white, chunk_size=16, aabb=tiny_scene.aabb, progress=False)
    report = write_evaluation(
        tmp_path / "eval", model, tiny_scene, [0, 1], metrics, {"lpips_vgg": "no file"}, settings, info={"step": 3}
    )
    expected, _ = evaluate_split(model, tiny_scene.test, 2.0, 6.0, white, 64, [0, 1], tiny_scene.aabb)
    psnrs = [row["psnr"] for row in report["per_image"]]
    assert psnrs == pytest.approx([r["psnr"] for r in expected], abs=1e-5)
    assert report["metrics"]["psnr"] == pytest.approx(sum(r["psnr"] for r in expected) / 2, abs=1e-5)
    assert report["metrics"]["ssim"] is None  # 8x8 images: smaller than SSIM's window
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["step"] == 3 and saved["skipped"] == {"lpips_vgg": "no file"}
    assert set(saved["conventions"]) == {"psnr", "ssim"}
    rows = list(csv.reader((tmp_path / "eval" / "metrics.csv").read_text().splitlines()))
    assert rows[0] == ["name", "psnr", "ssim"] and [r[0] for r in rows[1:]] == ["r_0", "r_1", "mean"]
    assert float(rows[-1][1]) == pytest.approx(report["metrics"]["psnr"], abs=1e-5) and rows[-1][2] == ""
    for kind in ("rgb", "depth", "error"):
        assert sorted(p.name for p in (tmp_path / "eval" / kind).iterdir()) == ["r_0.png", "r_1.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]  # no staging leftovers
    assert model.training
