import math

import torch

from nerfplex.render.compositing import composite, density_weights


def _uniform_edges(a, b, n, rays=1):
    return torch.linspace(a, b, n + 1).expand(rays, n + 1)


def test_constant_density_matches_beer_lambert():
    # A homogeneous medium of density s over [a, b]: opacity 1 - exp(-s (b - a)) for any binning.
    sigma, a, b = 0.7, 2.0, 5.0
    for n in (1, 7, 64):
        edges = _uniform_edges(a, b, n)
        deltas = edges[:, 1:] - edges[:, :-1]
        weights = density_weights(torch.full((1, n), sigma), deltas)
        assert torch.allclose(weights.sum(), torch.tensor(1 - math.exp(-sigma * (b - a))), atol=1e-6)


def test_colour_and_background_mix():
    sigma, length, colour = 0.5, 2.0, torch.tensor([0.2, 0.4, 0.9])
    edges = _uniform_edges(0.0, length, 16)
    weights = density_weights(torch.full((1, 16), sigma), edges[:, 1:] - edges[:, :-1])
    out = composite(weights, colour.expand(1, 16, 3), 0.5 * (edges[:, 1:] + edges[:, :-1]), torch.ones(1, 3))
    t = math.exp(-sigma * length)
    assert torch.allclose(out["rgb"][0], colour * (1 - t) + t, atol=1e-6)
    assert torch.allclose(out["opacity"], torch.tensor([[1 - t]]), atol=1e-6)


def test_expected_depth_matches_continuous_integral():
    # E[t] under density s on [0, L]: (1/s - (L + 1/s) e^{-sL}) / (1 - e^{-sL}); fine bins converge.
    sigma, length, n = 1.3, 3.0, 4000
    edges = _uniform_edges(0.0, length, n)
    weights = density_weights(torch.full((1, n), sigma, dtype=torch.float64), (edges[:, 1:] - edges[:, :-1]).double())
    mids = (0.5 * (edges[:, 1:] + edges[:, :-1])).double()
    out = composite(weights, torch.zeros(1, n, 3, dtype=torch.float64), mids, torch.zeros(1, 3).double())
    e = math.exp(-sigma * length)
    expected = (1 / sigma - (length + 1 / sigma) * e) / (1 - e)
    assert abs(out["depth"].item() - expected) < 1e-5


def test_opaque_bin_takes_all_weight():
    densities = torch.tensor([[0.0, 0.0, 1e6, 3.0]])
    edges = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    weights = density_weights(densities, edges[:, 1:] - edges[:, :-1])
    assert torch.allclose(weights, torch.tensor([[0.0, 0.0, 1.0, 0.0]]))
    out = composite(weights, torch.rand(1, 4, 3), torch.tensor([[1.5, 2.5, 3.5, 4.5]]), torch.zeros(1, 3))
    assert torch.allclose(out["depth"], torch.tensor([[3.5]]))
