import pytest
import torch
import torch.nn.functional as F

from nerfplex.fields.nerfpp_background import outside_distances
from nerfplex.render.compositing import density_weights
from nerfplex.render.neus_sampling import (
    alpha_weights,
    annealed_cos,
    hierarchical_up_sample,
    initial_distances,
    merge_samples,
    near_far_from_sphere,
    neus_alpha,
    up_sample,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see tests/conftest.py


def _sections(z):
    """Section lengths and midpoints of samples z [1, S] (last section 2 / 64 long, as NeuS)."""
    dists = torch.cat([z[:, 1:] - z[:, :-1], torch.full((1, 1), 2.0 / 64, dtype=z.dtype)], dim=-1)
    return dists, z + 0.5 * dists


def test_near_far_from_sphere_is_one_unit_around_the_closest_point():
    origins = torch.tensor([[0.0, 0.0, -3.0], [0.0, 0.5, -3.0], [0.0, 0.0, -3.0]])
    directions = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    near, far = near_far_from_sphere(origins, directions)
    assert torch.allclose(near[:, 0], torch.tensor([2.0, 2.0, 0.5]))  # non-unit d: t in units of d
    assert torch.allclose(far[:, 0], torch.tensor([4.0, 4.0, 2.5]))


def test_initial_distances_shift_each_ray_by_one_jitter():
    near, far = torch.full((50, 1), 1.0), torch.full((50, 1), 3.0)
    plain = initial_distances(near, far, 8, perturb=False)
    assert torch.allclose(plain, torch.linspace(1.0, 3.0, 8).expand(50, 8))
    jittered = initial_distances(near, far, 8, perturb=True, generator=torch.Generator().manual_seed(0))
    shift = jittered - plain
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)  # one offset per ray
    assert shift.abs().max() <= 1.0 / 8 and shift.std() > 0.03


@pytest.mark.parametrize("inv_s", [20.0, 64.0])
def test_alpha_matches_the_papers_discrete_opacity_for_a_piecewise_linear_sdf(inv_s):
    """Along one ray through a slab of thickness 0.4 centred at t = 1: f(t) = |t - 1| - 0.2.

    The paper (eq. 13): α_i = max((Φ_s(f(p_i)) - Φ_s(f(p_{i+1}))) / Φ_s(f(p_i)), 0). The authors
    evaluate f and ∇f at the section midpoint and estimate the end values as f(mid) ∓ cos δ / 2 with
    the annealed cos; at cos_anneal_ratio = 1 that cos is min(⟨d, ∇f⟩, 0), so on a linear piece
    entering the slab (cos = -1) the estimates are the exact end values, and on the leaving piece
    (cos = +1) both ends get the same estimate: α = 0 as the max(·, 0). The only difference is the
    authors' ε = 1e-5 in (p + ε) / (c + ε), at most ε / Φ_s(f(p_i)) off.
    """
    z = torch.linspace(0.0, 2.0, 81, dtype=torch.float64)[None]  # t = 1 is a section edge
    dists, mid = _sections(z)
    mid, dists = mid[:, :-1], dists[:, :-1]  # sections inside [0, 2]
    sdf = (mid - 1.0).abs() - 0.2
    grad_along_ray = torch.sign(mid - 1.0)  # ⟨d, ∇f⟩ of the 1-d distance along the ray
    alpha, cdf = neus_alpha(sdf, grad_along_ray, dists, torch.tensor(inv_s, dtype=torch.float64), 1.0)

    def phi(x):
        return torch.sigmoid(inv_s * x)

    f = lambda t: (t - 1.0).abs() - 0.2  # noqa: E731
    start, end = z[:, :-1], z[:, 1:]
    paper = ((phi(f(start)) - phi(f(end))) / phi(f(start))).clamp_min(0.0)
    valid = phi(f(start)) > 1e-3  # beyond that the ε term dominates (deep inside, after the surface)
    bound = 1e-5 / phi(f(start)) + 1e-12
    assert valid.sum() > 50
    assert ((alpha - paper).abs() <= bound)[valid].all()
    entering = mid < 1.0
    assert torch.allclose(cdf[entering], phi(f(start))[entering], atol=1e-12)
    # Leaving the slab: the paper's clamp gives 0 there.
    leaving = (mid > 1.0) & valid
    assert leaving.any() and (alpha[leaving] <= bound[leaving]).all()


def test_cos_annealing_end_points():
    cos = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert torch.allclose(annealed_cos(cos, 1.0), cos.clamp(max=0.0))
    assert torch.allclose(annealed_cos(cos, 0.0), (cos - 1.0) / 2)  # never 0 before cos = 1
    assert (annealed_cos(cos, 0.3) <= 0).all()


@pytest.mark.parametrize("cos", [-1.0, -0.7, -0.3])
@pytest.mark.parametrize("t_star", [0.7, 1.0013])
def test_weights_of_a_plane_peak_at_the_surface(cos, t_star):
    """Unbiasedness (the paper's first-order property): for a plane f(t) = (t - t*) cos the weight
    peaks in the section that holds the surface, and the expected distance is t* (up to the authors'
    ε, which gives each section in front of the surface ~1e-5 extra opacity: < 2e-3 here). The
    naive use of the logistic density as volume density, σ = φ_s(f), is biased towards the camera
    by ≈ 1 / (s |cos|) (shown for contrast)."""
    z = torch.linspace(0.0, 2.0, 401, dtype=torch.float64)[None]
    dists, mid = _sections(z)
    spacing = 0.005
    for inv_s in (50.0, 200.0):
        sdf = (mid - t_star) * cos
        alpha, _ = neus_alpha(sdf, torch.full_like(sdf, cos), dists, torch.tensor(inv_s), 1.0)
        weights = alpha_weights(alpha)
        peak = mid[0, weights.argmax()]
        assert abs(peak - t_star) <= spacing / 2 + 1e-9
        expected = (weights * mid).sum() / weights.sum()
        assert abs(expected - t_star) < 2e-3
        if inv_s == 50.0:
            sigma = inv_s * torch.sigmoid(inv_s * sdf) * torch.sigmoid(-inv_s * sdf)
            naive = density_weights(sigma, dists)
            naive_expected = (naive * mid).sum() / naive.sum()
            assert naive_expected - t_star < -5 * abs(expected - t_star) and naive_expected < t_star - 0.009


def test_alpha_weights_definition():
    alpha = torch.tensor([[0.2, 0.5, 1.0, 0.3]])
    expected = torch.tensor([[0.2, 0.8 * 0.5, 0.8 * 0.5 * 1.0, 0.0]])
    assert torch.allclose(alpha_weights(alpha), expected, atol=1e-6)


def _sphere_rays(num=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    eye = F.normalize(torch.randn(num, 3, generator=g), dim=-1) * 2.5
    target = F.normalize(torch.randn(num, 3, generator=g), dim=-1) * 0.3 * torch.rand(num, 1, generator=g)
    directions = F.normalize(target - eye, dim=-1)
    b = (eye * directions).sum(-1, keepdim=True)
    c = (eye * eye).sum(-1, keepdim=True) - 0.25
    return eye, directions, -b - (b * b - c).sqrt()  # first hit of the sphere of radius 0.5


def _sphere_sdf(points):
    return points.norm(dim=-1) - 0.5


def test_up_sampling_concentrates_samples_at_the_zero_crossing():
    eye, directions, t_star = _sphere_rays()
    near, far = near_far_from_sphere(eye, directions)
    z0 = initial_distances(near, far, 64, perturb=False)
    z = hierarchical_up_sample(eye, directions, z0, _sphere_sdf, 64, 4)
    assert z.shape == (64, 128) and (z[:, 1:] >= z[:, :-1]).all()
    # The initial samples are all kept; the 64 new ones sit at the crossing.
    kept = (z0[:, :, None] == z[:, None, :]).any(dim=-1)
    assert kept.all()
    near_hit = lambda values: ((values - t_star).abs() < 0.05).float().mean()  # noqa: E731
    merged_near = ((z - t_star).abs() < 0.05).sum(dim=-1).float().mean()
    assert near_hit(z0) < 0.06 and merged_near > 64 * 0.9 + 64 * near_hit(z0)
    # Each round doubles s and halves the spread of its samples around the crossing.
    sdf = _sphere_sdf(eye[:, None] + directions[:, None] * z0[..., None])
    z_round, spreads = z0, []
    for step in range(4):
        new = up_sample(eye, directions, z_round, sdf, 16, 64.0 * 2**step)
        spreads.append(float((new - t_star).abs().median()))
        new_sdf = _sphere_sdf(eye[:, None] + directions[:, None] * new[..., None])
        z_round, sdf = merge_samples(z_round, sdf, new, new_sdf)
    assert all(b < 0.75 * a for a, b in zip(spreads, spreads[1:])) and spreads[-1] < 0.005
    assert torch.equal(z_round, z)


def test_merge_samples_permutes_the_sdf_alike():
    g = torch.Generator().manual_seed(0)
    z, new = torch.rand(5, 6, generator=g), torch.rand(5, 4, generator=g)
    f = lambda t: torch.sin(7 * t)  # noqa: E731
    merged, sdf = merge_samples(z, f(z), new, f(new))
    assert torch.equal(merged, torch.sort(torch.cat([z, new], -1), -1).values)
    assert torch.allclose(sdf, f(merged))
    assert merge_samples(z, f(z), new, None)[1] is None


def test_background_distances_are_uniform_in_inverse_distance_beyond_far():
    far = torch.tensor([[2.0], [3.0]])
    z = outside_distances(far, 32, 64, perturb=False)
    inverse = torch.linspace(1e-3, 1.0 - 1.0 / 33, 32)
    expected = far / torch.flip(inverse, dims=[0]) + 1.0 / 64
    assert torch.allclose(z, expected)
    assert (z[:, 1:] > z[:, :-1]).all() and (z[:, :1] > far + 1.0 / 64).all()
    assert torch.allclose(z[:, -1:], far * 1000 + 1.0 / 64)
    jittered = outside_distances(far, 32, 64, perturb=True, generator=torch.Generator().manual_seed(0))
    u = far / (jittered - 1.0 / 64)  # back to inverse distances: within [1e-3, 1 - 1/33]
    assert (u >= 1e-3 - 1e-6).all() and (u <= 1.0 - 1.0 / 33 + 1e-6).all()
    assert (jittered[:, 1:] >= jittered[:, :-1]).all() and not torch.allclose(jittered, z)
