"""LPIPS (Zhang et al., 2018) through the ``lpips`` package, with weights read from local files only.

The ``lpips`` package ships its calibrated linear layers; its AlexNet / VGG16 trunks are torchvision's
ImageNet weights, which torchvision would download on first use. Here the network is built with a
random trunk (``pnet_rand=True``: torchvision is asked for no weights) and the trunk's state dict is read
from ``WEIGHTS/hub/checkpoints/<file>`` (torchvision's own cache layout under ``TORCH_HOME``), so nothing
is downloaded. A missing file raises :class:`MetricUnavailable` naming the file and its URL.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from nerfplex.metrics.torchvision_compat import import_torchvision
from nerfplex.metrics.weights import MetricUnavailable, default_weights_dir

BACKBONE_FILES = {
    "alex": ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
}
"""torchvision's ImageNet weight file (``AlexNet_Weights.IMAGENET1K_V1``, ``VGG16_Weights.IMAGENET1K_V1``)
for each LPIPS trunk, and where to get it."""


MIN_SIZE = {"alex": 31, "vgg": 16}
"""The smallest image side each trunk accepts (AlexNet's stride-4 convolution and pooling, VGG's four
poolings before its last layer); smaller images have no LPIPS (None)."""


def backbone_path(net: str, weights_dir: Optional[Path] = None) -> Path:
    """``WEIGHTS/hub/checkpoints/<file>``, or ``WEIGHTS/<file>`` when only that exists."""
    weights_dir = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    name = BACKBONE_FILES[net][0]
    cached = weights_dir / "hub" / "checkpoints" / name
    flat = weights_dir / name
    return flat if flat.is_file() and not cached.is_file() else cached


def _trunk_state(model_net: torch.nn.Module, state: dict, path: Path) -> dict:
    """Map torchvision's ``features.<i>.<param>`` keys onto the lpips trunk's ``slice<k>.<i>.<param>``."""
    mapped = {}
    for key, param in model_net.state_dict().items():
        _, index_and_param = key.split(".", 1)  # "slice2.3.weight" -> "3.weight"
        source = f"features.{index_and_param}"
        if source not in state:
            raise MetricUnavailable(
                f"{path} is not a torchvision state dict of this network: it has no "
                f"{source!r}. Replace it with the file from the URL in "
                f"docs/evaluation.md."
            )
        if tuple(state[source].shape) != tuple(param.shape):
            raise MetricUnavailable(
                f"{path}: {source} has shape {tuple(state[source].shape)}, expected "
                f"{tuple(param.shape)}; the file belongs to another network."
            )
        mapped[key] = state[source]
    return mapped


def load_lpips(net: str, weights_dir: Optional[Path] = None, device: str = "cpu") -> torch.nn.Module:
    """``lpips.LPIPS(net=net)`` (v0.1, calibrated linear layers) with the trunk weights of the local file.

    Raises :class:`MetricUnavailable` when the file, torchvision or lpips is missing.
    """
    if net not in BACKBONE_FILES:
        raise ValueError(f"LPIPS trunk must be one of {sorted(BACKBONE_FILES)}, got {net!r}")
    path = backbone_path(net, weights_dir)
    name, url = BACKBONE_FILES[net]
    if not path.is_file():
        raise MetricUnavailable(
            f"LPIPS-{net} needs the torchvision ImageNet weights {name}, not found at {path}. Download "
            f"{url} to that path (or pass --weights-dir / set TORCH_HOME to a folder whose "
            f"hub/checkpoints/ holds it); nerfplex never downloads weights by itself."
        )
    try:
        import_torchvision()
        import lpips
    except ImportError as err:
        raise MetricUnavailable(
            f"LPIPS needs the lpips and torchvision packages ({err}); install them with pip install -e '.[perceptual]'."
        ) from err
    with warnings.catch_warnings():  # torchvision's notice about the legacy `pretrained` argument
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise MetricUnavailable(
            f"{path} could not be read as a torch state dict ({err}); download it again from {url}."
        ) from err
    if not isinstance(state, dict):
        raise MetricUnavailable(
            f"{path} holds a {type(state).__name__}, not a state dict; download it again from {url}."
        )
    model.net.load_state_dict(_trunk_state(model.net, state, path), strict=True)
    return model.eval().requires_grad_(False).to(device)


class LPIPSMetric:
    """``metric(pred [H, W, 3], target [H, W, 3])`` in [0, 1] -> LPIPS distance (float, lower is better);
    None for images smaller than :data:`MIN_SIZE`."""

    def __init__(self, net: str, weights_dir: Optional[Path] = None, device: str = "cpu") -> None:
        self.net = net
        self.device = device
        self.model = load_lpips(net, weights_dir, device)

    @torch.no_grad()
    def __call__(self, pred: Tensor, target: Tensor) -> Optional[float]:
        if min(pred.shape[:2]) < MIN_SIZE[self.net]:
            return None

        def prepare(image: Tensor) -> Tensor:
            return (image.clamp(0, 1).permute(2, 0, 1)[None].float() * 2.0 - 1.0).to(self.device)

        return float(self.model(prepare(pred), prepare(target)).reshape(()))
