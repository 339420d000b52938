"""PSNR / SSIM against independent computations; which metrics are skipped and why."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from nerfplex.metrics.image_metrics import CONVENTIONS, METRIC_NAMES, METRICS, build_metrics, score_image


def _by_name(metrics):
    return {metric.name: metric for metric in metrics}


def test_psnr_and_ssim_match_independent_computations(image_pair):
    metrics, skipped = build_metrics(["psnr", "ssim"])
    assert skipped == {}
    m = _by_name(metrics)
    target, pred = image_pair(40, 0.1)
    a, b = pred.double().numpy(), target.double().numpy()
    assert m["psnr"](pred, target) == pytest.approx(10 * math.log10(1.0 / np.mean((a - b) ** 2)), rel=1e-5)
    reference = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1
    )
    assert m["ssim"](pred, target) == pytest.approx(reference, abs=1e-5)
    assert m["ssim"](pred[:10, :10], target[:10, :10]) is None  # smaller than the 11x11 window


def test_the_table_builds_each_metric_under_its_own_name(tmp_path):
    assert METRIC_NAMES == ("psnr", "ssim", "lpips_alex", "lpips_vgg", "dreamsim")
    assert list(METRICS) == list(METRIC_NAMES)
    metrics, _ = build_metrics(list(METRIC_NAMES), tmp_path)
    assert all(metric.name in METRICS for metric in metrics)


def test_score_image_is_every_metric_on_one_pair(image_pair):
    metrics, _ = build_metrics(["psnr", "ssim"])
    target, pred = image_pair(40, 0.1)
    scores = score_image(metrics, pred, target)
    assert list(scores) == ["psnr", "ssim"]
    assert scores == {metric.name: metric(pred, target) for metric in metrics}
    assert score_image(metrics, pred[:10, :10], target[:10, :10])["ssim"] is None


def test_every_metric_states_its_convention():
    assert set(CONVENTIONS) == set(METRIC_NAMES)
    assert "valid" in CONVENTIONS["ssim"] and "11x11" in CONVENTIONS["ssim"] and "1.5" in CONVENTIONS["ssim"]
    assert "mean of the per-image PSNRs" in CONVENTIONS["psnr"]
    assert "[-1, 1]" in CONVENTIONS["lpips_alex"] and "[-1, 1]" in CONVENTIONS["lpips_vgg"]


def test_missing_weights_are_skipped_with_the_files_to_get(tmp_path, no_downloads):
    metrics, skipped = build_metrics(list(METRIC_NAMES), tmp_path)
    assert [m.name for m in metrics] == ["psnr", "ssim"]
    assert set(skipped) == {"lpips_alex", "lpips_vgg", "dreamsim"}
    assert "alexnet-owt-7be5be79.pth" in skipped["lpips_alex"]
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in skipped["lpips_vgg"]
    assert "dreamsim_ensemble_checkpoint.zip" in skipped["dreamsim"]
    assert str(tmp_path) in skipped["dreamsim"]


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="unknown metric"):
        build_metrics(["psnr", "fid"])
