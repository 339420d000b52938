"""Image-quality metrics of rendered views, each with its convention written out.

Every metric takes a prediction and a target ``[H, W, 3]`` in [0, 1] (the target already composited on
the evaluation background) and returns a float. PSNR and SSIM are the project's own
(:mod:`nerfplex.eval.metrics`, :mod:`nerfplex.losses.ssim`); LPIPS and DreamSim wrap the ``lpips`` and
``dreamsim`` packages with weights read from a local folder only (:mod:`nerfplex.eval.lpips_metric`,
:mod:`nerfplex.eval.dreamsim_metric`). A metric that cannot run here (package or weight file missing)
raises :class:`MetricUnavailable` when it is built; evaluation then reports it as skipped, with the
reason, and never as a number.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from torch import Tensor

from nerfplex.eval.metrics import psnr
from nerfplex.losses.ssim import image_ssim

METRIC_NAMES = ("psnr", "ssim", "lpips_alex", "lpips_vgg", "dreamsim")
"""Every metric ``nerfplex eval`` knows, in the order of its tables."""

SSIM_WINDOW = 11

CONVENTIONS = {
    "psnr": "per image -10*log10(MSE), MSE over all pixels and the 3 channels, prediction clamped to "
            "[0, 1], target composited on the evaluation background; the reported mean is the mean of "
            "the per-image PSNRs (not the PSNR of the mean MSE)",
    "ssim": "NeRF / mip-NeRF evaluation convention (nerfplex.losses.ssim.image_ssim): 11x11 Gaussian "
            "window, sigma 1.5, only windows entirely inside the image ('valid' filtering, no padding), "
            "K1 0.01, K2 0.03, data range 1, biased (population) variances without clamping, mean over "
            "positions and the 3 channels per image; equals skimage structural_similarity(gaussian_weights="
            "True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1); images smaller "
            "than the window have none (null); mean of per-image values",
    "lpips_alex": "lpips 0.1.4, LPIPS v0.1 with the AlexNet trunk (torchvision ImageNet weights "
                  "alexnet-owt-7be5be79.pth) and the linear layers shipped in the lpips package; inputs "
                  "[1, 3, H, W] at full resolution scaled to [-1, 1] (2x - 1); spatial average; lower is "
                  "better; images smaller than 31 px have none (null); mean of per-image values",
    "lpips_vgg": "lpips 0.1.4, LPIPS v0.1 with the VGG16 trunk (torchvision ImageNet weights "
                 "vgg16-397923af.pth) and the linear layers shipped in the lpips package; inputs "
                 "[1, 3, H, W] at full resolution scaled to [-1, 1] (2x - 1); spatial average; lower is "
                 "better; images smaller than 16 px have none (null); mean of per-image values",
    "dreamsim": "dreamsim 0.2.1, model {kind}: images in [0, 1] resized to {size}x{size} (bicubic, "
                "antialiased), distance 1 - cosine similarity of the normalised embeddings "
                "(normalize_embeds=True), clamped at 0; lower is better; mean of per-image values",
}


class MetricUnavailable(Exception):
    """A metric cannot be computed on this machine; the message says what is missing and how to get it."""


def default_weights_dir() -> Path:
    """Where pretrained weights are looked for by default: ``$TORCH_HOME``, else
    ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch`` (torch.hub's own rule)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache, "torch").expanduser()


@dataclass
class ImageMetric:
    """One metric: ``fn(pred [H, W, 3], target [H, W, 3]) -> float | None`` and its convention."""

    name: str
    convention: str
    fn: Callable[[Tensor, Tensor], Optional[float]]

    def __call__(self, pred: Tensor, target: Tensor) -> Optional[float]:
        return self.fn(pred, target)


def _ssim_or_none(pred: Tensor, target: Tensor) -> Optional[float]:
    if min(pred.shape[:2]) < SSIM_WINDOW:
        return None
    return float(image_ssim(pred, target))


def build_metrics(names: list[str] | tuple[str, ...], weights_dir: Optional[Path] = None,
                  dreamsim_kind: str = "ensemble", device: str = "cpu",
                  dreamsim_size: int = 224) -> tuple[list[ImageMetric], dict[str, str]]:
    """The metrics ``names`` that can run here, and ``{name: reason}`` for those that cannot.

    ``weights_dir`` (default :func:`default_weights_dir`) holds the LPIPS backbones under
    ``hub/checkpoints/`` (torchvision's cache layout) and the DreamSim checkpoints under ``dreamsim/``.
    """
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRIC_NAMES)}")
    weights_dir = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    metrics, skipped = [], {}
    for name in names:
        try:
            if name == "psnr":
                metrics.append(ImageMetric(name, CONVENTIONS[name], lambda p, t: float(psnr(p, t))))
            elif name == "ssim":
                metrics.append(ImageMetric(name, CONVENTIONS[name], _ssim_or_none))
            elif name.startswith("lpips_"):
                from nerfplex.eval.lpips_metric import LPIPSMetric

                metrics.append(ImageMetric(name, CONVENTIONS[name],
                                           LPIPSMetric(name.split("_", 1)[1], weights_dir, device)))
            elif name == "dreamsim":
                from nerfplex.eval.dreamsim_metric import DreamSimMetric

                metric = DreamSimMetric(dreamsim_kind, weights_dir, device, image_size=dreamsim_size)
                convention = CONVENTIONS[name].format(kind=dreamsim_kind, size=dreamsim_size)
                metrics.append(ImageMetric(name, convention, metric))
        except MetricUnavailable as reason:
            skipped[name] = str(reason)
    return metrics, skipped
