"""Scoring every held-out view of a trained model: per-image and mean metrics, images, TensorBoard.

One view at a time is rendered (in chunks of rays) and scored, and its pictures are written at once,
so memory stays bounded by one image whatever the number of views. Everything goes into a staging
folder that is renamed into place at the end (:func:`nerfplex.io.staged_output`).

Layout of an evaluation folder (default ``RUN/eval/step_<N>/``)::

    metrics.json   means, per-image values, each metric's convention, skipped metrics and why
    metrics.csv    one row per image, then a ``mean`` row
    rgb/<name>.png     rendered image (on the evaluation background)
    depth/<name>.png   depth, colour-mapped between the scene's near and far
    error/<name>.png   |rendered - target| averaged over channels, full scale 0.25
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from torch import Tensor

from nerfplex.data.images import write_png
from nerfplex.data.scene import SceneData
from nerfplex.eval.view_rendering import ray_progress, render_view
from nerfplex.eval.visualize import depth_image, error_image
from nerfplex.io import staged_output, write_text_atomic
from nerfplex.metrics.image_metrics import ImageMetric, mean_metric, score_image
from nerfplex.models.base import Model


@dataclass
class ImageEvalSettings:
    """How views are rendered for evaluation."""

    background: Tensor
    """Uniform background ``[3]`` behind transparent pixels (the run's ``trainer.eval_background``)."""
    chunk_size: int = 8192
    """Rays per forward pass."""
    aabb: Optional[Tensor] = None
    """Clip rays to this box ``[2, 3]`` (as in training with ``data.ray_bounds: aabb``)."""
    save_images: bool = True
    """Write the rgb / depth / error PNGs."""
    progress: bool = True
    """Show a progress bar (rays, with rays/s and ETA)."""
    max_samples: int = 0
    """Bound on the candidate samples held at once (0: only ``chunk_size``; the run's
    ``trainer.render_max_samples``)."""


def finite_or_none(value: Optional[float]) -> Optional[float]:
    """JSON has no infinity (a perfect image's PSNR): non-finite values become null."""
    return None if value is None or not math.isfinite(value) else float(value)


def safe_name(name: str) -> str:
    """An image name usable as a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "image"


def evaluate_views(
    model: Model,
    scene: SceneData,
    indices: list[int],
    metrics: list[ImageMetric],
    settings: ImageEvalSettings,
    out_dir: Optional[Path] = None,
) -> tuple[list[dict], dict]:
    """Render and score the test views ``indices``; write their pictures into ``out_dir`` (if given).

    Returns per-image rows ``[{"name", <metric>: value | None}]`` and timings ``{"render_seconds",
    "metric_seconds"}``. The model is switched to eval mode and back.
    """
    split = scene.test
    rows, render_seconds, metric_seconds = [], 0.0, 0.0
    was_training = model.training
    model.eval()
    bar = ray_progress(len(indices) * split.cameras.height * split.cameras.width, "eval", settings.progress)
    try:
        for index in indices:
            start = time.perf_counter()
            view = render_view(
                model,
                split.cameras,
                index,
                scene.near,
                scene.far,
                settings.background,
                settings.chunk_size,
                settings.aabb,
                max_samples=settings.max_samples,
                progress=bar,
            )
            render_seconds += time.perf_counter() - start
            start = time.perf_counter()
            rgb, target = view.rgb.clamp(0, 1), split.composite(settings.background, index)
            row = {"name": split.names[index]}
            row.update(score_image(metrics, rgb, target))
            metric_seconds += time.perf_counter() - start
            rows.append(row)
            if out_dir is not None and settings.save_images:
                name = safe_name(split.names[index]) + ".png"
                write_png(out_dir / "rgb" / name, rgb)
                depth = depth_image(view.depth, view.opacity, scene.near, scene.far)
                write_png(out_dir / "depth" / name, depth)
                write_png(out_dir / "error" / name, error_image(rgb, target))
    finally:
        bar.close()
        model.train(was_training)
    return rows, {"render_seconds": render_seconds, "metric_seconds": metric_seconds}


def metrics_csv(rows: list[dict], names: list[str], means: dict[str, Optional[float]]) -> str:
    """Per-image rows then a ``mean`` row; empty cells for missing values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", *names])

    def cell(value):
        value = finite_or_none(value)
        return "" if value is None else f"{value:.6f}"

    for row in rows:
        writer.writerow([row["name"], *(cell(row.get(n)) for n in names)])
    writer.writerow(["mean", *(cell(means.get(n)) for n in names)])
    return buffer.getvalue()


def write_evaluation(
    out_dir: Path,
    model: Model,
    scene: SceneData,
    indices: list[int],
    metrics: list[ImageMetric],
    skipped: dict[str, str],
    settings: ImageEvalSettings,
    info: Optional[dict] = None,
    overwrite: bool = False,
) -> dict:
    """Evaluate and write ``out_dir`` (metrics.json, metrics.csv, images) atomically; returns the JSON.

    ``info`` (run, step, checkpoint, ...) is copied to the top of the JSON. An existing non-empty
    ``out_dir`` is replaced only with ``overwrite`` and only when nerfplex wrote it.
    """
    names = [metric.name for metric in metrics]
    with staged_output(Path(out_dir), "eval", overwrite) as staging:
        rows, timings = evaluate_views(model, scene, indices, metrics, settings, staging)
        means = {name: finite_or_none(mean_metric(rows, name)) for name in names}
        report = {
            **(info or {}),
            "split": "test",
            "num_views": len(rows),
            "background": [float(v) for v in settings.background],
            "metrics": means,
            "skipped": skipped,
            "conventions": {metric.name: metric.convention for metric in metrics},
            **timings,
            "images": ({kind: kind for kind in ("rgb", "depth", "error")} if settings.save_images else {}),
            "per_image": [{k: (v if k == "name" else finite_or_none(v)) for k, v in row.items()} for row in rows],
        }
        write_text_atomic(staging / "metrics.json", json.dumps(report, indent=2))
        write_text_atomic(staging / "metrics.csv", metrics_csv(rows, names, means))
    return report
