import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from nerfplex.fields.sdf_network import SDFNetwork, SDFNetworkConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see tests/conftest.py


def _directions(n, seed):
    g = torch.Generator().manual_seed(seed)
    return nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)


def _effective_weight(layer):
    return layer.weight  # the weight-normalised weight g * v / |v|


def test_geometric_init_approximates_a_sphere_of_radius_bias():
    """At initialisation f(x) ≈ |x| - 0.5 (the authors' bias 0.5).

    Tolerance: the SAL argument makes the *expected* output |x| - bias for a ReLU network of
    infinite width. At width 256 each network's output carries a direction- and seed-dependent
    scale error (measured: std ≈ 0.12 |x| between seeds, ≈ 0.11 |x| between directions at |x| = 1),
    so single points can be off by 0.5. Averaged over 8 seeds x 128 directions the scale noise drops
    to ≈ 0.04 at |x| = 1; Softplus(β = 100) instead of ReLU adds a positive offset of at most ln 2 / β
    per unit that the layers amplify: ≈ +0.30 at the origin, decaying to ≈ +0.05 at |x| = 0.5 (measured
    over 48 seeds: mean errors 0.04-0.07 at 0.5, -0.01-0.04 at 0.75, -0.01-0.03 at 1.0). A tolerance of
    0.1 for |x| >= 0.5 covers both with margin; at the origin we check the offset's range.
    """
    radii = [0.0, 0.5, 0.75, 1.0]
    mean = torch.zeros(len(radii))
    for seed in range(8):
        torch.manual_seed(seed)
        net = SDFNetwork(SDFNetworkConfig())
        dirs = _directions(128, seed + 100)
        points = torch.cat([dirs * r for r in radii])
        with torch.no_grad():
            mean += net.sdf(points)[:, 0].reshape(len(radii), 128).mean(dim=1) / 8
    for i, r in enumerate(radii[1:], start=1):
        assert abs(mean[i] - (r - 0.5)) < 0.1, (r, mean[i])
    assert -0.5 < mean[0] < -0.1  # inside; -0.5 + the Softplus offset (≈ 0.3)
    assert mean[1] < mean[2] < mean[3]


def test_relu_limit_is_exactly_positively_homogeneous():
    """With ReLU in place of Softplus(β=100) (its β → ∞ limit) the initial network is exactly
    ``|x| g(x / |x|) - bias``: all hidden biases are 0 and the encoding's sin / cos columns are 0."""
    torch.manual_seed(0)
    net = SDFNetwork(SDFNetworkConfig()).double()
    net.activation = nn.ReLU()
    x = _directions(64, 1).double() * 0.4
    with torch.no_grad():
        f0 = net.sdf(torch.zeros(1, 3, dtype=torch.float64))
        f1, f2 = net.sdf(x), net.sdf(2.5 * x)
    assert torch.allclose(f0, torch.tensor([[-0.5]], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(f2 + 0.5, 2.5 * (f1 + 0.5), atol=1e-10)


def test_first_and_skip_layer_ignore_the_sin_cos_features_at_init():
    torch.manual_seed(0)
    net = SDFNetwork(SDFNetworkConfig())
    enc = net.encoding.out_dim
    assert enc == 39  # 3 + 3 * 2 * 6
    first = _effective_weight(net.layers[0])
    assert first.shape == (256, 39)
    assert (first[:, 3:] == 0).all() and (first[:, :3] != 0).all()
    skip = _effective_weight(net.layers[4])
    assert skip.shape == (256, 256)  # 217 hidden + 39 encoded
    assert (skip[:, -36:] == 0).all() and (skip[:, 217:220] != 0).all()
    assert net.layers[3].bias.shape == (217,)  # the layer before the skip is narrower
    last = _effective_weight(net.layers[-1])
    assert abs(last.mean() - math.sqrt(math.pi) / 16) < 1e-5 and last.std() < 2e-4
    assert torch.allclose(net.layers[-1].bias, torch.full((257,), -0.5))


def test_weight_norm_on_every_layer():
    net = SDFNetwork(SDFNetworkConfig())
    assert len(net.layers) == 9
    for layer in net.layers:
        assert parametrize.is_parametrized(layer, "weight")
        g = layer.parametrizations.weight.original0
        v = layer.parametrizations.weight.original1
        assert g.shape == (v.shape[0], 1)  # one magnitude per output unit (dim 0)
        assert torch.allclose(g, v.norm(dim=1, keepdim=True))  # starts as the initialised weight
    plain = SDFNetwork(SDFNetworkConfig(weight_norm=False))
    assert not any(parametrize.is_parametrized(layer) for layer in plain.layers)


def test_gradient_matches_finite_differences_and_supports_double_backward():
    torch.manual_seed(0)
    net = SDFNetwork(SDFNetworkConfig(d_hidden=48, d_out=9)).double()
    x = _directions(5, 2).double() * 0.6
    grad = net.gradient(x, create_graph=False)
    eps = 1e-6
    fd = torch.stack(
        [(net.sdf(x + eps * e) - net.sdf(x - eps * e))[:, 0] / (2 * eps) for e in torch.eye(3, dtype=torch.float64)],
        dim=-1,
    )
    assert torch.allclose(grad, fd, atol=1e-6)
    out, grad = net.forward_with_gradient(x)  # gradients enabled: differentiable gradient
    ((grad.norm(dim=-1) - 1) ** 2).mean().backward()
    assert net.layers[0].parametrizations.weight.original1.grad is not None
    with torch.no_grad():
        out, grad = net.forward_with_gradient(x)  # works without outer gradients, detached
    assert not out.requires_grad and not grad.requires_grad and grad.shape == (5, 3)


def test_inside_outside_and_scale():
    torch.manual_seed(0)
    a = SDFNetwork(SDFNetworkConfig(d_hidden=64, d_out=5))
    torch.manual_seed(0)
    b = SDFNetwork(SDFNetworkConfig(d_hidden=64, d_out=5, inside_outside=True))
    x = _directions(16, 3) * 0.8
    with torch.no_grad():
        assert torch.allclose(b.sdf(x), -a.sdf(x), atol=1e-3)  # same draws, flipped mean and bias
    torch.manual_seed(0)
    c = SDFNetwork(SDFNetworkConfig(d_hidden=64, d_out=5, scale=2.0))
    with torch.no_grad():  # scale: f_c(x) = f_a(2x) / 2 for the distance, features unscaled
        assert torch.allclose(c.sdf(x), a.sdf(2 * x) / 2, atol=1e-6)
        assert torch.allclose(c(x)[:, 1:], a(2 * x)[:, 1:], atol=1e-6)


@pytest.mark.parametrize("multires", [0, 4])
def test_sizes_without_and_with_encoding(multires):
    net = SDFNetwork(SDFNetworkConfig(d_hidden=32, n_layers=4, skip_in=(2,), d_out=3, multires=multires))
    assert net(torch.rand(7, 3)).shape == (7, 3)
    with pytest.raises(ValueError, match="d_hidden"):
        SDFNetwork(SDFNetworkConfig(d_hidden=16, multires=6))
