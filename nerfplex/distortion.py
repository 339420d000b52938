"""OpenCV's radial-tangential lens distortion (``k1, k2, p1, p2, k3``) and its inverse.

A pinhole camera maps a ray direction ``(x, y, 1)`` (camera axes, OpenCV) to *normalised* image
coordinates; a real lens moves them to distorted ones::

    r² = x² + y²,   radial = 1 + k1 r² + k2 r⁴ + k3 r⁶
    x_d = x · radial + 2 p1 x y + p2 (r² + 2 x²)
    y_d = y · radial + p1 (r² + 2 y²) + 2 p2 x y

and pixels are ``u = fx · x_d + cx``, ``v = fy · y_d + cy``. Generating a ray through a pixel needs
the inverse: :func:`undistort` solves the two equations for ``(x, y)`` with Newton's method, all
points at once (the same model as OpenCV's ``undistortPoints``, which instead runs a few fixed-point
iterations; Newton's is accurate to float precision for any distortion whose map is invertible
over the image).

Coefficients are stored ``[..., 5]`` in OpenCV's order ``(k1, k2, p1, p2, k3)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["distort", "undistort", "DISTORTION_ORDER"]

DISTORTION_ORDER = ("k1", "k2", "p1", "p2", "k3")
"""The meaning of the last axis of a distortion tensor (OpenCV's order)."""


def distort(x: Tensor, y: Tensor, coeffs: Tensor) -> tuple[Tensor, Tensor]:
    """Distorted normalised coordinates of undistorted ones.

    Args:
        x, y: ``[R]`` undistorted normalised coordinates (``X / Z``, ``Y / Z``).
        coeffs: ``[R, 5]`` (or ``[5]``) coefficients ``(k1, k2, p1, p2, k3)``.
    Returns:
        ``x_d, y_d`` ``[R]``.
    """
    k1, k2, p1, p2, k3 = coeffs.to(x.dtype).unbind(-1)
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xy = x * y
    return (x * radial + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x), y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy)


def undistort(
    x_d: Tensor, y_d: Tensor, coeffs: Tensor, *, iterations: int = 20, tolerance: float = 1e-12
) -> tuple[Tensor, Tensor]:
    """Undistorted normalised coordinates: the ``(x, y)`` with ``distort(x, y) == (x_d, y_d)``.

    Newton's method from ``(x_d, y_d)``, in float64, every point at once; it stops early once every
    residual is below ``tolerance`` (normalised units). Points where the 2x2 Jacobian is singular
    (far outside the lens's valid field) keep their last estimate.

    Args:
        x_d, y_d: ``[R]`` distorted normalised coordinates (``(u - cx) / fx``, ``(v - cy) / fy``).
        coeffs: ``[R, 5]`` (or ``[5]``) coefficients ``(k1, k2, p1, p2, k3)``.
    Returns:
        ``x, y`` ``[R]`` in the dtype of ``x_d``.
    """
    dtype = x_d.dtype
    xd, yd = x_d.double(), y_d.double()
    k1, k2, p1, p2, k3 = coeffs.double().unbind(-1)
    x, y = xd.clone(), yd.clone()
    if x.numel() == 0:
        return x.to(dtype), y.to(dtype)
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        d_radial = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)  # d radial / d(r²)
        xy = x * y
        fx = x * radial + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x) - xd
        fy = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy - yd
        if float(torch.maximum(fx.abs(), fy.abs()).max()) < tolerance:
            break
        # Jacobian of the distortion map.
        j_xx = radial + 2.0 * x * x * d_radial + 2.0 * p1 * y + 6.0 * p2 * x
        j_yy = radial + 2.0 * y * y * d_radial + 6.0 * p1 * y + 2.0 * p2 * x
        j_xy = 2.0 * xy * d_radial + 2.0 * p1 * x + 2.0 * p2 * y  # = d x_d / d y = d y_d / d x
        det = j_xx * j_yy - j_xy * j_xy
        ok = det.abs() > 1e-12
        safe = torch.where(ok, det, torch.ones_like(det))
        step_x = torch.where(ok, (j_yy * fx - j_xy * fy) / safe, torch.zeros_like(det))
        step_y = torch.where(ok, (j_xx * fy - j_xy * fx) / safe, torch.zeros_like(det))
        x, y = x - step_x, y - step_y
    return x.to(dtype), y.to(dtype)
