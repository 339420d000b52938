"""Image-quality metrics of rendered views, each with its convention written out.

Every metric takes a prediction and a target ``[H, W, 3]`` in [0, 1] (the target already composited on
the evaluation background) and returns a float. PSNR and SSIM are the project's own
(:mod:`nerfplex.metrics.psnr`, :mod:`nerfplex.losses.ssim`); LPIPS and DreamSim wrap the ``lpips`` and
``dreamsim`` packages with weights read from a local folder only (:mod:`nerfplex.metrics.lpips_metric`,
:mod:`nerfplex.metrics.dreamsim_metric`). :data:`METRICS` maps each name to its builder; a metric that
cannot run here (package or weight file missing) raises :class:`MetricUnavailable` when it is built, and
evaluation then reports it as skipped, with the reason, and never as a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from torch import Tensor

from nerfplex.losses.ssim import image_ssim
from nerfplex.metrics.dreamsim_metric import DreamSimMetric
from nerfplex.metrics.lpips_metric import LPIPSMetric
from nerfplex.metrics.psnr import psnr
from nerfplex.metrics.weights import MetricUnavailable, default_weights_dir

SSIM_WINDOW = 11
"""Side of the evaluation SSIM's Gaussian window: smaller images have no SSIM."""

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


@dataclass
class ImageMetric:
    """One metric: ``fn(pred [H, W, 3], target [H, W, 3]) -> float | None`` and its convention."""

    name: str
    convention: str
    fn: Callable[[Tensor, Tensor], Optional[float]]

    def __call__(self, pred: Tensor, target: Tensor) -> Optional[float]:
        return self.fn(pred, target)


@dataclass(frozen=True)
class MetricOptions:
    """What the learned metrics need to be built; PSNR and SSIM ignore it."""

    weights_dir: Path
    """Folder of pretrained weights (:func:`nerfplex.metrics.weights.default_weights_dir` by default)."""
    device: str = "cpu"
    """Where the learned metrics' networks run."""
    dreamsim_kind: str = "ensemble"
    """Which DreamSim model (:data:`nerfplex.metrics.dreamsim_metric.REQUIRED_FILES`)."""
    dreamsim_size: int = 224
    """Side DreamSim resizes images to."""


def psnr_value(pred: Tensor, target: Tensor) -> float:
    """PSNR in dB of one image pair (the ``psnr`` convention)."""
    return float(psnr(pred, target))


def ssim_value(pred: Tensor, target: Tensor) -> Optional[float]:
    """SSIM of one image pair (the ``ssim`` convention); None when the image is smaller than the window."""
    if min(pred.shape[:2]) < SSIM_WINDOW:
        return None
    return float(image_ssim(pred, target))


def _lpips(net: str) -> Callable[[MetricOptions], ImageMetric]:
    def build(options: MetricOptions) -> ImageMetric:
        name = f"lpips_{net}"
        return ImageMetric(name, CONVENTIONS[name], LPIPSMetric(net, options.weights_dir, options.device))

    return build


def _dreamsim(options: MetricOptions) -> ImageMetric:
    metric = DreamSimMetric(
        options.dreamsim_kind, options.weights_dir, options.device, image_size=options.dreamsim_size
    )
    convention = CONVENTIONS["dreamsim"].format(kind=options.dreamsim_kind, size=options.dreamsim_size)
    return ImageMetric("dreamsim", convention, metric)


METRICS: dict[str, Callable[[MetricOptions], ImageMetric]] = {
    "psnr": lambda options: ImageMetric("psnr", CONVENTIONS["psnr"], psnr_value),
    "ssim": lambda options: ImageMetric("ssim", CONVENTIONS["ssim"], ssim_value),
    "lpips_alex": _lpips("alex"),
    "lpips_vgg": _lpips("vgg"),
    "dreamsim": _dreamsim,
}
"""Every metric by name -> its builder. A builder raises :class:`MetricUnavailable` when the metric cannot
run here (package or weight file missing); nothing is loaded until a metric is built."""

METRIC_NAMES = tuple(METRICS)
"""Every metric ``nerfplex eval`` knows, in the order of its tables."""

TRAINING_METRICS = ("psnr", "ssim")
"""The metrics the trainer computes on held-out views (no pretrained weights needed)."""


def build_metrics(
    names: list[str] | tuple[str, ...],
    weights_dir: Optional[Path] = None,
    dreamsim_kind: str = "ensemble",
    device: str = "cpu",
    dreamsim_size: int = 224,
) -> tuple[list[ImageMetric], dict[str, str]]:
    """The metrics ``names`` that can run here, and ``{name: reason}`` for those that cannot.

    ``weights_dir`` (default :func:`default_weights_dir`) holds the LPIPS backbones under
    ``hub/checkpoints/`` (torchvision's cache layout) and the DreamSim checkpoints under ``dreamsim/``.
    """
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRIC_NAMES)}")
    options = MetricOptions(
        Path(weights_dir) if weights_dir is not None else default_weights_dir(), device, dreamsim_kind, dreamsim_size
    )
    metrics, skipped = [], {}
    for name in names:
        try:
            metrics.append(METRICS[name](options))
        except MetricUnavailable as reason:
            skipped[name] = str(reason)
    return metrics, skipped


def mean_metric(results: list[dict], key: str) -> Optional[float]:
    """Mean of ``key`` over per-image ``results`` ``[{name: value | None}]``, skipping None values (None
    if there are none): the "mean of per-image values" of every convention."""
    values = [r[key] for r in results if r[key] is not None]
    return sum(values) / len(values) if values else None


def score_image(metrics: list[ImageMetric], pred: Tensor, target: Tensor) -> dict[str, Optional[float]]:
    """``{name: value}`` of every metric on one image pair ``[H, W, 3]`` (prediction already clamped to
    [0, 1], target composited on the evaluation background)."""
    return {metric.name: metric(pred, target) for metric in metrics}
