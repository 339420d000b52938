"""LPIPS: our loader (random trunk + local state dict) against the lpips package's own network loaded
through torchvision's cache with the same generated weights; properties; missing and foreign files."""

from __future__ import annotations

import pytest
import torch

from nerfplex.metrics.lpips_metric import BACKBONE_FILES, LPIPSMetric, backbone_path, load_lpips
from nerfplex.metrics.weights import MetricUnavailable


@pytest.mark.filterwarnings("ignore:Arguments other than a weight enum", "ignore:The parameter .pretrained.")
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_matches_the_lpips_package_with_the_same_weights(
    net, lpips_package, lpips_weights, monkeypatch, no_downloads, image_pair
):
    ours = LPIPSMetric(net, lpips_weights)
    # The package's own path: torchvision loads the trunk from TORCH_HOME/hub/checkpoints (no download,
    # the file is there), the package loads its linear layers.
    monkeypatch.setenv("TORCH_HOME", str(lpips_weights))
    reference = lpips_package.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=False, verbose=False).eval()
    target, pred = image_pair(48, 0.1)
    with torch.no_grad():
        expected = reference(pred.permute(2, 0, 1)[None] * 2 - 1, target.permute(2, 0, 1)[None] * 2 - 1)
    assert ours(pred, target) == pytest.approx(float(expected), rel=1e-5, abs=1e-7)
    assert ours(target, target) == pytest.approx(0.0, abs=1e-7)
    distances = [ours(image_pair(48, amount)[1], target) for amount in (0.02, 0.1, 0.3)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_missing_trunk_names_the_file_and_url(tmp_path, no_downloads):
    with pytest.raises(MetricUnavailable) as err:
        load_lpips("vgg", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth") in message
    assert BACKBONE_FILES["vgg"][1] in message


def test_a_file_of_another_network_is_refused(tmp_path, lpips_weights):
    wrong = tmp_path / "hub" / "checkpoints" / BACKBONE_FILES["alex"][0]
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(backbone_path("vgg", lpips_weights).read_bytes())  # vgg weights under alex's name
    with pytest.raises(MetricUnavailable, match="shape|no 'features"):
        load_lpips("alex", tmp_path)
    wrong.write_text("not a checkpoint")
    with pytest.raises(MetricUnavailable, match="could not be read"):
        load_lpips("alex", tmp_path)


def test_file_names_are_torchvisions():
    from nerfplex.metrics.torchvision_compat import import_torchvision

    models = import_torchvision().models
    assert models.AlexNet_Weights.IMAGENET1K_V1.url == BACKBONE_FILES["alex"][1]
    assert models.VGG16_Weights.IMAGENET1K_V1.url == BACKBONE_FILES["vgg"][1]
    assert all(url.endswith(name) for name, url in BACKBONE_FILES.values())


def test_images_smaller_than_the_trunk_accepts_have_no_value(lpips_weights):
    metric = LPIPSMetric("alex", lpips_weights)
    small = torch.rand(30, 40, 3)
    assert metric(small, small) is None
    assert metric(torch.rand(31, 31, 3), torch.rand(31, 31, 3)) > 0
