"""Validation of camera-to-world matrices read from dataset files (every parser uses it).

A pose must be a 4x4 matrix of finite numbers, last row ``0 0 0 1``, whose 3x3 block is a rotation
(orthonormal, determinant +1). Errors name the matrix and its file (``what``) and say how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nerfplex.errors import NerfplexError

__all__ = ["rigid_pose", "ORTHONORMAL_TOL"]

ORTHONORMAL_TOL = 1e-3
"""Largest ``|R^T R - I|`` accepted for a pose's rotation (float32 files reach ~1e-7)."""


def rigid_pose(matrix: Any, what: str, *, remedy: str = "fix or remove this frame") -> np.ndarray:
    """``matrix`` (nested lists or an array) as a validated ``[4, 4]`` float64 camera-to-world.

    Args:
        matrix: the value read from the file.
        what: names the matrix and its file, e.g. ``"'camtoworld' of frame 3 of /d/meta_data.json"``
            or ``"pose file /d/pose/0_0001.txt"``; it starts every message.
        remedy: what to do about a non-finite matrix.
    Raises:
        NerfplexError: not 4x4 numbers, non-finite, bad last row, a reflection or not rigid.
    """
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        shown = repr(matrix) if len(repr(matrix)) <= 80 else repr(matrix)[:77] + "..."
        raise NerfplexError(f"{what} is not a 4x4 list of numbers: {shown}.") from exc
    if m.shape != (4, 4):
        raise NerfplexError(
            f"{what} has shape {'x'.join(map(str, m.shape)) or 'scalar'}; it must be a "
            f"4x4 camera-to-world matrix (4 rows of 4 numbers, last row 0 0 0 1)."
        )
    if not np.isfinite(m).all():
        raise NerfplexError(f"{what} contains NaN or infinite values; {remedy}.")
    if np.abs(m[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-6:
        raise NerfplexError(
            f"{what} has last row {m[3].tolist()}, expected [0, 0, 0, 1]; it must be a rigid camera-to-world transform."
        )
    rot = m[:3, :3]
    error = np.abs(rot.T @ rot - np.eye(3)).max()
    det = np.linalg.det(rot)
    if error <= ORTHONORMAL_TOL and det < 0:
        raise NerfplexError(
            f"{what} is a reflection (its 3x3 rotation has det = {det:.4g}); "
            f"camera-to-world poses must be rigid rotations with det = +1. Flip the sign "
            f"of one camera axis column consistently for all frames."
        )
    if error > ORTHONORMAL_TOL:
        raise NerfplexError(
            f"{what} is not rigid: its 3x3 rotation is not orthonormal (max |R^T R - I| = {error:.3g}, "
            f"det = {det:.4g}). Scaled or sheared poses are not supported: remove the scale from the "
            f"rotation columns (scale the positions instead)."
        )
    return m
