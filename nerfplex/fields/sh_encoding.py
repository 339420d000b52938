"""Real spherical-harmonics encoding of directions, tiny-cuda-nn's ``SphericalHarmonics``.

Like tiny-cuda-nn, the input is a unit direction mapped to ``[0, 1]³`` (``(d + 1) / 2``) and the
output holds the ``degree²`` real spherical harmonics of bands ``0 .. degree - 1`` with its signs
and order (within band ``l``, ``m = -l .. l``; odd-``m`` terms negated, the Condon-Shortley phase).
Degrees 1 to 4 (up to 16 outputs) are implemented: instant-ngp's NeRF uses degree 4.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nerfplex.errors import NerfplexError

_PI = math.pi


class SHEncoding(nn.Module):
    """``forward(d [..., 3] in [0, 1]) -> [..., degree²]``; no parameters.

    ``n_output_dims`` is ``degree²``.
    """

    def __init__(self, degree: int = 4) -> None:
        super().__init__()
        if not 1 <= degree <= 4:
            raise NerfplexError(f"spherical harmonics degree {degree} is not supported (1 to 4).")
        self.degree = degree
        self.n_output_dims = degree * degree

    def forward(self, directions01: Tensor) -> Tensor:
        d = directions01.float() * 2.0 - 1.0
        x, y, z = d.unbind(-1)
        terms = [torch.full_like(x, 0.5 / math.sqrt(_PI))]
        if self.degree > 1:
            c1 = math.sqrt(3.0) / (2.0 * math.sqrt(_PI))
            terms += [-c1 * y, c1 * z, -c1 * x]
        if self.degree > 2:
            x2, y2, z2 = x * x, y * y, z * z
            c2 = math.sqrt(15.0) / (2.0 * math.sqrt(_PI))
            terms += [
                c2 * x * y,
                -c2 * y * z,
                math.sqrt(5.0) / (4.0 * math.sqrt(_PI)) * (3.0 * z2 - 1.0),
                -c2 * x * z,
                0.5 * c2 * (x2 - y2),
            ]
        if self.degree > 3:
            a = math.sqrt(70.0) / (8.0 * math.sqrt(_PI))
            b = math.sqrt(105.0) / (2.0 * math.sqrt(_PI))
            c = math.sqrt(42.0) / (8.0 * math.sqrt(_PI))
            e = math.sqrt(7.0) / (4.0 * math.sqrt(_PI))
            terms += [
                a * y * (y2 - 3.0 * x2),
                b * x * y * z,
                c * y * (1.0 - 5.0 * z2),
                e * z * (5.0 * z2 - 3.0),
                c * x * (1.0 - 5.0 * z2),
                0.5 * b * z * (x2 - y2),
                a * x * (3.0 * y2 - x2),
            ]
        return torch.stack(terms, dim=-1)
