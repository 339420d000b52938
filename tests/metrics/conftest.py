"""Fixtures of the image-metric tests: random weight files in the real formats, and a guard that fails
any attempt to download during a test."""

from __future__ import annotations

import urllib.request

import pytest
import torch

from nerfplex.metrics.torchvision_compat import import_torchvision


def require(package: str):
    """Import ``package`` (lpips, dreamsim) the way nerfplex does, torchvision first; skip without it."""
    try:
        import_torchvision()
    except ImportError as err:
        pytest.skip(f"torchvision unavailable: {err}")
    return pytest.importorskip(package)


@pytest.fixture
def no_downloads(monkeypatch):
    """Any torch.hub / urllib download fails the test (nothing may be fetched at run time)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"attempted download: {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # as at start-up: torch.hub follows TORCH_HOME


@pytest.fixture(scope="session")
def lpips_package():
    return require("lpips")


@pytest.fixture(scope="session")
def dreamsim_package():
    return require("dreamsim")


@pytest.fixture(scope="session")
def lpips_weights(tmp_path_factory):
    """A weights folder with random AlexNet and VGG16 trunks in torchvision's format."""
    require("lpips")
    from random_weights import write_random_lpips_backbone

    folder = tmp_path_factory.mktemp("lpips_weights")
    for net in ("alex", "vgg"):
        write_random_lpips_backbone(net, folder, seed=1)
    return folder


@pytest.fixture(scope="session")
def dreamsim_weights(tmp_path_factory):
    """A weights folder with random DreamSim files for the ensemble and open_clip_vitb32."""
    require("dreamsim")
    from random_weights import write_random_dreamsim

    folder = tmp_path_factory.mktemp("dreamsim_weights")
    for kind in ("open_clip_vitb32", "ensemble"):
        write_random_dreamsim(kind, folder, seed=2)
    return folder


@pytest.fixture
def image_pair():
    """``make(size, amount)``: a smooth colourful image ``[size, size, 3]`` and a copy with Gaussian noise
    of standard deviation ``amount`` (clamped to [0, 1]); the same image and noise for every amount."""

    def make(size: int, amount: float) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        coarse = torch.rand(1, 3, 6, 6, generator=g)
        image = (
            torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0]
            .permute(1, 2, 0)
            .clamp(0, 1)
        )
        noise = torch.randn(image.shape, generator=g)
        return image, (image + amount * noise).clamp(0, 1)

    return make
