"""Image metrics by name (PSNR, SSIM, LPIPS, DreamSim), each with its convention written out.

The one place that scores a rendered image against its target: the trainer's held-out evaluation
(``engine/evaluation.py``) and ``nerfplex eval`` (``eval/image_evaluation.py``) both build their metrics
from :data:`nerfplex.metrics.image_metrics.METRICS`, so their numbers cannot drift apart. Imports only
``losses.ssim`` from nerfplex (and the optional ``lpips`` / ``dreamsim`` packages, lazily).
"""
