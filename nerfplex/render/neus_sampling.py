"""NeuS ray sampling and the conversion of signed distances to opacity (Wang et al., NeurIPS 2021).

Everything here works in the unit-sphere frame NeuS assumes (the object inside ``|x| < 1``), on sample
distances ``z [R, S]`` along unit directions, vectorised over rays and samples.

* :func:`near_far_from_sphere`: the authors' bounds: one unit either side of the point closest to
  the centre (not the exact chord; rays always get a segment of length 2).
* :func:`initial_distances`: ``n_samples`` evenly spaced distances, shifted while training by one
  random offset per ray in ``[-1, 1] / n_samples``.
* :func:`neus_alpha`: the discrete opacity of the paper (eq. 13) with the authors' estimate of the
  section's end-point SDFs from the midpoint SDF and the (annealed) cosine.
* :func:`up_sample` / :func:`merge_samples` / :func:`hierarchical_up_sample`: the authors' importance
  sampling: ``up_sample_steps`` rounds, each drawing ``n_importance / up_sample_steps`` distances from
  the weights of a fixed sharpness ``s = 64 · 2^i``, where the section SDFs come from the samples'
  SDF values (no network gradient) and the slope is the smaller of the section's and its
  predecessor's finite differences, clipped to ``[-1000, 0]``.
* :func:`alpha_weights`: compositing weights ``w_i = α_i Π_{j<i} (1 - α_j + 1e-7)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from nerfplex.render.samplers import pdf_edges

BASE_UP_SAMPLE_INV_S = 64.0
"""Sharpness of the first up-sampling round; it doubles every round (the authors' ``64 * 2**i``)."""


def near_far_from_sphere(origins: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
    """``near, far [R, 1]``: ``t_mid ∓ 1`` with ``t_mid`` the distance to the point closest to the
    origin (the authors' ``near_far_from_sphere``; the directions need not be unit length)."""
    a = (directions * directions).sum(dim=-1, keepdim=True)
    b = 2.0 * (origins * directions).sum(dim=-1, keepdim=True)
    mid = -0.5 * b / a
    return mid - 1.0, mid + 1.0


def initial_distances(
    near: Tensor, far: Tensor, n_samples: int, *, perturb: bool, generator: Optional[torch.Generator] = None
) -> Tensor:
    """``n_samples`` distances from ``near`` to ``far`` ``[R, 1]``: ``[R, n_samples]``.

    With ``perturb`` every ray's samples move together by ``(u - 0.5) · 2 / n_samples``, ``u``
    uniform (the authors' jitter: half a sample spacing of the length-2 segment either way).
    """
    steps = torch.linspace(0.0, 1.0, n_samples, device=near.device, dtype=near.dtype)
    z_vals = near + (far - near) * steps
    if perturb:
        u = torch.rand((near.shape[0], 1), device=near.device, dtype=near.dtype, generator=generator)
        z_vals = z_vals + (u - 0.5) * 2.0 / n_samples
    return z_vals


def alpha_weights(alpha: Tensor) -> Tensor:
    """Compositing weights ``[R, S]`` from opacities ``[R, S]`` (transmittance with +1e-7 as the
    authors, which keeps the product from reaching 0 exactly)."""
    ones = alpha.new_ones(alpha.shape[0], 1)
    transmittance = torch.cumprod(torch.cat([ones, 1.0 - alpha + 1e-7], dim=-1), dim=-1)[:, :-1]
    return alpha * transmittance


def annealed_cos(true_cos: Tensor, cos_anneal_ratio: float) -> Tensor:
    """The authors' cosine annealing: ``-(relu(0.5 - 0.5 cos)(1 - r) + relu(-cos) r)``, always ≤ 0.

    At ``r = 0`` it is ``(cos - 1) / 2`` (never 0, so every section gets some opacity: the
    "not dead" start); at ``r = 1`` it is ``min(cos, 0)``, the paper's estimate.
    """
    return -(F.relu(-true_cos * 0.5 + 0.5) * (1.0 - cos_anneal_ratio) + F.relu(-true_cos) * cos_anneal_ratio)


def neus_alpha(
    sdf: Tensor, true_cos: Tensor, dists: Tensor, inv_s: Tensor, cos_anneal_ratio: float
) -> tuple[Tensor, Tensor]:
    """Discrete opacity of sections evaluated at their midpoints (the authors' ``render_core``).

    Args:
        sdf: ``[...]`` signed distance at each section's midpoint.
        true_cos: ``[...]`` ``⟨ray direction, ∇f⟩`` there.
        dists: ``[...]`` section lengths.
        inv_s: sharpness ``s`` (0-d or broadcastable).
        cos_anneal_ratio: ``r`` in [0, 1] (:func:`annealed_cos`).
    Returns:
        ``alpha`` in [0, 1] and ``cdf = Φ_s(f(p_i))`` at the section start, both ``[...]``, with
        ``f(p_i) ≈ f(mid) - cos δ / 2`` and ``f(p_{i+1}) ≈ f(mid) + cos δ / 2``, and
        ``α = (Φ_s(f(p_i)) - Φ_s(f(p_{i+1})) + 1e-5) / (Φ_s(f(p_i)) + 1e-5)`` clipped to [0, 1]:
        the paper's ``max((Φ_s(f_i) - Φ_s(f_{i+1})) / Φ_s(f_i), 0)`` plus the authors' ε.
    """
    cos = annealed_cos(true_cos, cos_anneal_ratio)
    next_sdf = sdf + cos * dists * 0.5
    prev_sdf = sdf - cos * dists * 0.5
    prev_cdf = torch.sigmoid(prev_sdf * inv_s)
    next_cdf = torch.sigmoid(next_sdf * inv_s)
    alpha = ((prev_cdf - next_cdf + 1e-5) / (prev_cdf + 1e-5)).clip(0.0, 1.0)
    return alpha, prev_cdf


def up_sample(
    origins: Tensor, directions: Tensor, z_vals: Tensor, sdf: Tensor, n_importance: int, inv_s: float
) -> Tensor:
    """``n_importance`` new distances ``[R, n_importance]`` drawn (deterministically) from the
    opacity the samples ``z_vals [R, S]`` with SDF values ``sdf [R, S]`` give at sharpness ``inv_s``
    (the authors' ``up_sample``). Only sections with an end inside the unit sphere count."""
    num_rays = z_vals.shape[0]
    points = origins[:, None] + directions[:, None] * z_vals[..., None]
    radius = points.norm(dim=-1)
    inside = (radius[:, :-1] < 1.0) | (radius[:, 1:] < 1.0)
    prev_sdf, next_sdf = sdf[:, :-1], sdf[:, 1:]
    prev_z, next_z = z_vals[:, :-1], z_vals[:, 1:]
    mid_sdf = 0.5 * (prev_sdf + next_sdf)
    cos = (next_sdf - prev_sdf) / (next_z - prev_z + 1e-5)
    # The smaller of this section's and the previous one's slope (0 before the first): a little
    # biased, but robust where the SDF along the ray turns (see the authors' comment).
    prev_cos = torch.cat([cos.new_zeros(num_rays, 1), cos[:, :-1]], dim=-1)
    cos = torch.minimum(prev_cos, cos).clip(-1e3, 0.0) * inside
    dist = next_z - prev_z
    prev_cdf = torch.sigmoid((mid_sdf - cos * dist * 0.5) * inv_s)
    next_cdf = torch.sigmoid((mid_sdf + cos * dist * 0.5) * inv_s)
    alpha = (prev_cdf - next_cdf + 1e-5) / (prev_cdf + 1e-5)
    weights = alpha_weights(alpha)
    # The authors' sample_pdf with det=True: the z values are the bin edges of the S - 1 sections.
    return pdf_edges(z_vals, weights, n_importance, perturb=False)


def merge_samples(
    z_vals: Tensor, sdf: Optional[Tensor], new_z_vals: Tensor, new_sdf: Optional[Tensor]
) -> tuple[Tensor, Optional[Tensor]]:
    """Sorted union of two sample sets ``[R, S]`` + ``[R, N]`` and their SDF values permuted alike
    (the authors' ``cat_z_vals``; pass ``new_sdf = None`` on the last round to skip the SDF)."""
    merged, order = torch.sort(torch.cat([z_vals, new_z_vals], dim=-1), dim=-1)
    if sdf is None or new_sdf is None:
        return merged, None
    return merged, torch.cat([sdf, new_sdf], dim=-1).gather(-1, order)


@torch.no_grad()
def hierarchical_up_sample(
    origins: Tensor,
    directions: Tensor,
    z_vals: Tensor,
    sdf_fn: Callable[[Tensor], Tensor],
    n_importance: int,
    up_sample_steps: int,
) -> Tensor:
    """``z_vals [R, S]`` plus ``n_importance`` up-sampled distances, sorted: ``[R, S + n_importance]``.

    ``sdf_fn(points [P, 3]) -> [P]`` is the current SDF; it is evaluated on the initial samples and on
    the new ones of every round but the last. Round ``i`` uses sharpness ``64 · 2^i``.
    """
    num_rays = z_vals.shape[0]
    per_step = n_importance // up_sample_steps

    def evaluate(z: Tensor) -> Tensor:
        points = origins[:, None] + directions[:, None] * z[..., None]
        return sdf_fn(points.reshape(-1, 3)).reshape(num_rays, z.shape[1])

    sdf = evaluate(z_vals)
    for step in range(up_sample_steps):
        new_z = up_sample(origins, directions, z_vals, sdf, per_step, BASE_UP_SAMPLE_INV_S * 2**step)
        last = step + 1 == up_sample_steps
        z_vals, sdf = merge_samples(z_vals, sdf, new_z, None if last else evaluate(new_z))
    return z_vals
