"""Split a 3x4 projection matrix ``P = K [R | t]`` into pixel intrinsics and an OpenCV camera-to-world.

IDR / NeuS store cameras this way (``world_mat_i``); OpenCV's ``decomposeProjectionMatrix`` does the
same job. Here: an RQ decomposition of the left 3x3 block (scipy), signs fixed so that ``K`` has a
positive diagonal and ``R`` is a rotation (``P`` and ``-P`` project alike), and the camera centre
``c = -M⁻¹ p₄``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from nerfplex.errors import NerfplexError

__all__ = ["decompose_projection"]


def decompose_projection(P: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``K [3, 3]`` (``K[2, 2] = 1``) and camera-to-world ``[4, 4]`` (OpenCV axes) of ``P [3, 4]``.

    ``what`` names the matrix and its file in errors (non-finite, singular).
    """
    P = np.asarray(P, dtype=np.float64)
    if P.shape != (3, 4):
        raise NerfplexError(f"{what} must give a 3x4 projection, got shape {list(P.shape)}.")
    if not np.isfinite(P).all():
        raise NerfplexError(f"{what} contains NaN or infinite values; restore or re-download the cameras file.")
    M = P[:, :3]
    size = np.abs(M).max()
    if not size > 0 or abs(np.linalg.det(M / size)) < 1e-12:
        raise NerfplexError(
            f"{what} is singular (its left 3x3 block has no inverse), so it is not a camera "
            f"projection; restore or re-download the cameras file."
        )
    K, R = scipy.linalg.rq(M)
    signs = np.sign(np.diag(K))
    signs[signs == 0] = 1.0
    K, R = K * signs[None, :], signs[:, None] * R  # K D, D R with D = diag(signs), D² = I
    if np.linalg.det(R) < 0:  # P and -P are the same camera: take the one with a proper rotation
        R = -R
    centre = -np.linalg.solve(M, P[:, 3])
    c2w = np.eye(4)
    c2w[:3, :3] = R.T
    c2w[:3, 3] = centre
    return K / K[2, 2], c2w
