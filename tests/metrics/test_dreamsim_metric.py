"""DreamSim: loading from local files only (generated in the release layout), against the dreamsim
package's own loader; properties; missing files; the offline patches are undone."""

from __future__ import annotations

import os

import pytest
import torch

from nerfplex.metrics.dreamsim_metric import (
    ARCHIVE_URLS,
    DINO_BACKBONE_URL,
    REQUIRED_FILES,
    DreamSimMetric,
    dreamsim_dir,
    load_dreamsim,
    missing_files,
)
from nerfplex.metrics.weights import MetricUnavailable

# the dreamsim package's own loading (the reference) re-wraps its model in peft; DINO's head uses weight_norm
pytestmark = pytest.mark.filterwarnings("ignore:.*peft_config", "ignore:.*weight_norm")


def test_matches_the_dreamsim_package_with_the_same_files(dreamsim_package, dreamsim_weights, no_downloads, image_pair):
    ours = DreamSimMetric("open_clip_vitb32", dreamsim_weights)
    reference, _ = dreamsim_package.dreamsim(
        pretrained=True, device="cpu", dreamsim_type="open_clip_vitb32", cache_dir=str(dreamsim_dir(dreamsim_weights))
    )
    target, pred = image_pair(224, 0.1)  # DreamSim's own size: no resizing on our side
    with torch.no_grad():
        expected = reference(pred.permute(2, 0, 1)[None], target.permute(2, 0, 1)[None])
    assert ours(pred, target) == pytest.approx(float(expected), rel=1e-4, abs=1e-7)


def test_ensemble_loads_offline_and_orders_distortions(dreamsim_weights, no_downloads, image_pair):
    hub_load, hub_dir = torch.hub.load, torch.hub._hub_dir
    offline = os.environ.get("HF_HUB_OFFLINE")
    metric = DreamSimMetric("ensemble", dreamsim_weights, image_size=64)  # small images keep it quick
    assert torch.hub.load is hub_load and torch.hub._hub_dir == hub_dir  # patches undone
    assert os.environ.get("HF_HUB_OFFLINE") == offline
    target, _ = image_pair(48, 0.0)
    assert metric(target, target) == pytest.approx(0.0, abs=1e-6)
    distances = [metric(image_pair(48, amount)[1], target) for amount in (0.02, 0.1, 0.3)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_missing_files_are_named_with_their_urls(tmp_path, no_downloads):
    with pytest.raises(MetricUnavailable) as err:
        load_dreamsim("ensemble", tmp_path)
    message = str(err.value)
    for name in REQUIRED_FILES["ensemble"]:
        assert name in message
    assert ARCHIVE_URLS["ensemble"] in message and DINO_BACKBONE_URL in message
    folder = dreamsim_dir(tmp_path)
    (folder / "open_clip_vitb32_single_lora").mkdir(parents=True)
    (folder / "open_clip_vitb32_single_lora" / "adapter_config.json").write_text("{}")
    assert "open_clip_vitb32_single_lora/adapter_model.safetensors (or .bin)" in missing_files(
        "open_clip_vitb32", folder
    )


def test_models_that_need_github_code_are_refused(tmp_path):
    with pytest.raises(MetricUnavailable, match="GitHub"):
        load_dreamsim("dinov2_vitb14", tmp_path)
    with pytest.raises(ValueError, match="unknown DreamSim model"):
        load_dreamsim("vgg", tmp_path)


def test_archive_urls_are_the_packages(dreamsim_package):
    from dreamsim.config import dreamsim_weights

    for kind, url in ARCHIVE_URLS.items():
        assert dreamsim_weights[kind] == url
