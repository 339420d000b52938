"""How far recovered cameras are from known ones, after the similarity that best aligns them.

Structure from motion recovers poses only up to a similarity (rotation, translation, scale). Umeyama's
least-squares similarity (Umeyama 1991, "Least-squares estimation of transformation parameters between
two point patterns") maps the recovered camera centres onto the true ones; the errors are then

* rotation: the angle of ``R_true^T (R_align R_est)`` per camera, degrees;
* position: ``|s R_align c_est + t - c_true|`` per camera, as a percentage of the true cameras' extent
  (the diagonal of their bounding box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["umeyama", "PoseErrors", "pose_errors"]


def umeyama(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``s, R [3, 3], t [3]`` minimising ``sum |s R source_i + t - target_i|^2`` (``[N, 3]`` each, N >= 3)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    cov = xt.T @ xs / len(source)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rot = u @ sign @ vt
    var_s = (xs**2).sum() / len(source)
    scale = float(np.trace(np.diag(d) @ sign) / var_s)
    return scale, rot, mu_t - scale * rot @ mu_s


@dataclass
class PoseErrors:
    """Per-camera errors after alignment: ``rotation_deg [N]``, ``position_pct [N]`` and the similarity."""

    rotation_deg: np.ndarray
    position_pct: np.ndarray
    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def summary(self) -> dict:
        return {
            "rotation_deg_median": float(np.median(self.rotation_deg)),
            "rotation_deg_max": float(self.rotation_deg.max()),
            "position_pct_median": float(np.median(self.position_pct)),
            "position_pct_max": float(self.position_pct.max()),
        }


def pose_errors(c2w_est: np.ndarray, c2w_true: np.ndarray) -> PoseErrors:
    """Errors of recovered camera-to-world ``[N, 3, 4]`` against the true ones (same camera axes)."""
    c2w_est, c2w_true = np.asarray(c2w_est, np.float64), np.asarray(c2w_true, np.float64)
    scale, rot, trans = umeyama(c2w_est[:, :, 3], c2w_true[:, :, 3])
    centres = c2w_est[:, :, 3] @ (scale * rot).T + trans
    extent = np.linalg.norm(c2w_true[:, :, 3].max(0) - c2w_true[:, :, 3].min(0))
    position = np.linalg.norm(centres - c2w_true[:, :, 3], axis=1) / extent * 100.0
    relative = np.einsum("nji,jk,nkl->nil", c2w_true[:, :, :3], rot, c2w_est[:, :, :3])
    cos = np.clip((np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0)
    return PoseErrors(np.degrees(np.arccos(cos)), position, scale, rot, trans)
