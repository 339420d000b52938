"""Surface reconstruction metrics between two point sets (or two meshes, sampled first).

Definitions (as in MonoSDF's ``replica_eval/eval_recon.py``, which follows NICE-SLAM):

- accuracy: mean distance from each reconstructed point to its nearest ground-truth point;
- completion: mean distance from each ground-truth point to its nearest reconstructed point;
- Chamfer-L1: ``(accuracy + completion) / 2``;
- precision / recall: fractions of reconstructed / ground-truth points whose nearest neighbour in the
  other set is closer than ``threshold`` (strictly); F-score: ``2 P R / (P + R)`` (0 when both are 0);
- normal accuracy / completion: mean ``|cos|`` between each reconstructed (ground-truth) point's
  normal and the normal of its nearest ground-truth (reconstructed) point; normal consistency: their
  mean. The absolute value makes it independent of how either mesh is oriented.

Distances are in the units of the inputs: metres for Replica (MonoSDF's tables print them x100, in
cm, and the ratios x100, in %), millimetres for DTU. Nearest neighbours come from
``scipy.spatial.cKDTree`` (scipy is installed with scikit-image).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from nerfplex.errors import NerfplexError
from nerfplex.geometry.mesh_io import Mesh
from nerfplex.geometry.point_sampling import RngLike, as_generator, sample_surface


@dataclass(frozen=True)
class GeometryMetrics:
    """Reconstruction metrics; distances in the inputs' units, ratios in [0, 1].

    The three normal metrics are None when no normals were given.
    """

    accuracy: float
    completion: float
    chamfer_l1: float
    precision: float
    recall: float
    fscore: float
    threshold: float
    normal_accuracy: Optional[float] = None
    normal_completion: Optional[float] = None
    normal_consistency: Optional[float] = None

    def as_dict(self) -> dict:
        return asdict(self)


def _points(points, name: str) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must be [N, 3], got shape {array.shape}")
    if len(array) == 0:
        raise NerfplexError(
            f"geometry metrics: the {name} are empty. Check that the mesh is not "
            "empty and that culling or cropping left part of it (same coordinate "
            "frame and units as the other mesh?)."
        )
    if not np.isfinite(array).all():
        raise NerfplexError(f"geometry metrics: the {name} contain NaN or infinite coordinates")
    return array


def nearest_neighbours(query, reference) -> tuple[np.ndarray, np.ndarray]:
    """For every point of ``query [N, 3]``, the distance ``[N]`` to its nearest point of
    ``reference [M, 3]`` and that point's index ``[N]`` (int64)."""
    try:
        from scipy.spatial import cKDTree
    except ImportError as exc:  # pragma: no cover - scipy comes with scikit-image
        raise NerfplexError("geometry metrics need scipy (installed with scikit-image): `pip install scipy`") from exc
    query = np.asarray(query, dtype=np.float64).reshape(-1, 3)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 3)
    distances, indices = cKDTree(reference).query(query, k=1, workers=-1)
    return np.asarray(distances, dtype=np.float64), np.asarray(indices, dtype=np.int64)


def fscore(precision: float, recall: float) -> float:
    """Harmonic mean ``2 P R / (P + R)``; 0 when both are 0."""
    total = precision + recall
    return 2.0 * precision * recall / total if total > 0 else 0.0


def point_cloud_metrics(
    pred_points, gt_points, threshold: float, pred_normals=None, gt_normals=None
) -> GeometryMetrics:
    """Metrics between a reconstructed point set and a ground-truth point set.

    Args:
        pred_points: ``[N, 3]`` reconstructed points. gt_points: ``[M, 3]`` ground truth.
        threshold: distance for precision / recall / F-score, in the points' units (Replica: 0.05 m).
        pred_normals, gt_normals: optional unit normals ``[N, 3]`` / ``[M, 3]``; both or neither.
    Returns:
        :class:`GeometryMetrics`.
    """
    if not (isinstance(threshold, (int, float, np.floating)) and math.isfinite(threshold) and threshold > 0):
        raise NerfplexError(f"geometry metrics: threshold must be a positive distance, got {threshold!r}")
    pred = _points(pred_points, "reconstructed points")
    gt = _points(gt_points, "ground-truth points")
    dist_pred_to_gt, nn_in_gt = nearest_neighbours(pred, gt)
    dist_gt_to_pred, nn_in_pred = nearest_neighbours(gt, pred)
    accuracy = float(dist_pred_to_gt.mean())
    completion = float(dist_gt_to_pred.mean())
    precision = float((dist_pred_to_gt < threshold).mean())
    recall = float((dist_gt_to_pred < threshold).mean())
    normal_acc = normal_comp = normal_cons = None
    if (pred_normals is None) != (gt_normals is None):
        raise ValueError("give normals for both point sets or for neither")
    if pred_normals is not None:
        pn = np.asarray(pred_normals, dtype=np.float64).reshape(-1, 3)
        gn = np.asarray(gt_normals, dtype=np.float64).reshape(-1, 3)
        if len(pn) != len(pred) or len(gn) != len(gt):
            raise ValueError(f"{len(pn)} / {len(gn)} normals for {len(pred)} / {len(gt)} points")
        normal_acc = float(np.abs((pn * gn[nn_in_gt]).sum(axis=-1)).mean())
        normal_comp = float(np.abs((gn * pn[nn_in_pred]).sum(axis=-1)).mean())
        normal_cons = 0.5 * (normal_acc + normal_comp)
    return GeometryMetrics(
        accuracy=accuracy,
        completion=completion,
        chamfer_l1=0.5 * (accuracy + completion),
        precision=precision,
        recall=recall,
        fscore=fscore(precision, recall),
        threshold=float(threshold),
        normal_accuracy=normal_acc,
        normal_completion=normal_comp,
        normal_consistency=normal_cons,
    )


def mesh_metrics(
    pred: Mesh, gt: Mesh, threshold: float, num_points: int = 200_000, rng: RngLike = 0
) -> GeometryMetrics:
    """Sample ``num_points`` points (with face normals) uniformly by area on each mesh, then
    :func:`point_cloud_metrics`.

    MonoSDF samples 200k points per mesh. ``rng`` (a Generator or seed) makes the result
    reproducible; the reconstruction is sampled first, then the ground truth.
    """
    gen = as_generator(rng)
    pred_samples = sample_surface(pred.vertices, pred.faces, num_points, gen, "reconstructed mesh")
    gt_samples = sample_surface(gt.vertices, gt.faces, num_points, gen, "ground-truth mesh")
    return point_cloud_metrics(
        pred_samples.points, gt_samples.points, threshold, pred_samples.normals, gt_samples.normals
    )
