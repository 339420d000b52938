"""Structure from motion with pycolmap on the CPU: SIFT features, matching, incremental mapping.

One function per stage, each with a progress bar that follows the work (pycolmap runs in a worker thread
while its database is polled: images with keypoints, image pairs verified; mapping counts registered
images through pycolmap's callback). :func:`reconstruct` runs the three stages and keeps the largest
reconstruction. pycolmap 4.2.1 (CPU wheel, no display, no GPU needed) is imported only here.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from nerfplex.errors import NerfplexError

__all__ = ["SfmOptions", "SfmResult", "reconstruct", "import_pycolmap", "CAMERA_MODELS"]

CAMERA_MODELS = ("SIMPLE_RADIAL", "OPENCV", "PINHOLE", "SIMPLE_PINHOLE", "RADIAL")
"""Camera models process-data offers (all of them read by ``data.kind colmap``)."""


@dataclass
class SfmOptions:
    """How to run structure from motion."""

    matcher: Literal["exhaustive", "sequential"] = "exhaustive"
    """Every image pair, or each image with its next ``sequential_overlap`` ones (video frames)."""
    camera_model: str = "SIMPLE_RADIAL"
    """COLMAP camera model to estimate (one of :data:`CAMERA_MODELS`)."""
    shared_camera: bool = True
    """One camera (intrinsics) for all images; False: one per image."""
    max_image_size: int = 1600
    """Long side of the images SIFT sees (poses stay in full-size pixels)."""
    sequential_overlap: int = 10
    """Sequential matching: following images each image is matched with."""
    num_threads: int = -1
    """pycolmap threads; -1: every core."""
    seed: int = 0
    """pycolmap's random seed (RANSAC, mapper)."""


@dataclass
class SfmResult:
    """The largest reconstruction and what it took."""

    reconstruction: Any  # pycolmap.Reconstruction
    image_names: list[str]  # every image given, in name order
    registered: list[str]  # registered image names, in name order
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    models_found: int = 1

    @property
    def unregistered(self) -> list[str]:
        done = set(self.registered)
        return [n for n in self.image_names if n not in done]


def import_pycolmap():
    """pycolmap, or a NerfplexError that says how to install it."""
    try:
        import pycolmap
    except ImportError as exc:
        raise NerfplexError(
            "nerfplex process-data needs pycolmap: pip install 'pycolmap==4.2.1' (or "
            "`pip install -e .[captures]`; scripts/setup.sh installs it)."
        ) from exc
    return pycolmap


def _count(database: Path, query: str) -> Optional[int]:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.2) as conn:
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.Error:
        return None


def _run_with_progress(
    work: Callable[[], Any], total: int, desc: str, poll: Callable[[], Optional[int]], show: bool, fill: bool = True
) -> Any:
    """Run ``work`` in a thread; update a tqdm bar from ``poll()`` until it returns; re-raise its error."""
    from tqdm import tqdm

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    with tqdm(
        total=total, desc=desc, unit="img" if "pairs" not in desc else "pair", disable=not show, dynamic_ncols=True
    ) as bar:
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
            value = poll()
            if value is not None:
                bar.update(min(value, total) - bar.n)
        value = poll()
        if fill and "error" not in box:
            value = total
        if value is not None:
            bar.update(min(value, total) - bar.n)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def reconstruct(
    image_dir: Path, image_names: list[str], work_dir: Path, options: SfmOptions, show_progress: bool = True
) -> SfmResult:
    """SIFT extraction, matching and incremental mapping of ``image_names`` (relative to ``image_dir``).

    ``work_dir`` receives ``database.db`` and the mapper's models (the caller removes it).
    Raises NerfplexError when no model could be reconstructed.
    """
    pycolmap = import_pycolmap()
    pycolmap.logging.minloglevel = 2  # warnings and errors only: the bars show the progress
    if options.camera_model not in CAMERA_MODELS:
        raise NerfplexError(f"--camera-model must be one of {', '.join(CAMERA_MODELS)}, got {options.camera_model!r}.")
    pycolmap.set_random_seed(options.seed)
    database = work_dir / "database.db"
    n = len(image_names)
    seconds: dict[str, float] = {}

    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = options.camera_model
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = options.max_image_size
    extraction.num_threads = options.num_threads
    extraction.use_gpu = False
    mode = pycolmap.CameraMode.SINGLE if options.shared_camera else pycolmap.CameraMode.PER_IMAGE
    start = time.perf_counter()
    _run_with_progress(
        lambda: pycolmap.extract_features(
            database,
            image_dir,
            image_names=image_names,
            camera_mode=mode,
            reader_options=reader,
            extraction_options=extraction,
            device=pycolmap.Device.cpu,
        ),
        n,
        "features (SIFT)",
        lambda: _count(database, "SELECT COUNT(*) FROM keypoints"),
        show_progress,
    )
    seconds["features"] = time.perf_counter() - start
    with_features = _count(database, "SELECT COUNT(*) FROM keypoints WHERE rows > 0") or 0
    if with_features == 0:
        raise NerfplexError(
            f"no SIFT features were found in the {n} images of {image_dir}: are they blank, "
            f"tiny or unreadable? Use sharper, textured photos."
        )

    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = options.num_threads
    matching.use_gpu = False
    start = time.perf_counter()
    if options.matcher == "sequential":
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = options.sequential_overlap
        pairing.loop_detection = False  # needs a vocabulary tree download
        total = sum(min(options.sequential_overlap, n - 1 - i) for i in range(n))
        work = functools.partial(
            pycolmap.match_sequential,
            database,
            matching_options=matching,
            pairing_options=pairing,
            device=pycolmap.Device.cpu,
        )
    else:
        total = n * (n - 1) // 2
        work = functools.partial(
            pycolmap.match_exhaustive,
            database,
            matching_options=matching,
            device=pycolmap.Device.cpu,
        )
    _run_with_progress(
        work,
        max(total, 1),
        f"matching ({options.matcher}, pairs)",
        lambda: _count(database, "SELECT COUNT(*) FROM two_view_geometries"),
        show_progress,
    )
    seconds["matching"] = time.perf_counter() - start

    mapping = pycolmap.IncrementalPipelineOptions()
    mapping.num_threads = options.num_threads
    mapping.random_seed = options.seed
    mapping.extract_colors = True
    models_dir = work_dir / "models"
    models_dir.mkdir(exist_ok=True)
    registered = [0]
    start = time.perf_counter()

    def map_images():
        return pycolmap.incremental_mapping(
            database,
            image_dir,
            models_dir,
            options=mapping,
            initial_image_pair_callback=lambda: registered.__setitem__(0, 2),
            next_image_callback=lambda: registered.__setitem__(0, registered[0] + 1),
        )

    models = _run_with_progress(map_images, n, "mapping (registered)", lambda: registered[0], show_progress, fill=False)
    seconds["mapping"] = time.perf_counter() - start
    if not models:
        raise NerfplexError(
            f"pycolmap could not reconstruct any camera from the {n} images of {image_dir}: no "
            f"image pair had enough matches to start. Try "
            f"{'--matcher exhaustive, ' if options.matcher == 'sequential' else ''}photos with more "
            f"overlap (each part of the scene in several photos from nearby viewpoints), or "
            f"fewer blurry frames."
        )
    best = max(models.values(), key=lambda rec: rec.num_reg_images())
    names = sorted(best.images[i].name for i in best.reg_image_ids())
    return SfmResult(best, sorted(image_names), names, seconds, len(models))
