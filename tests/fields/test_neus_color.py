import math

import pytest
import torch
from torch.nn.utils import parametrize

from nerfplex.fields.nerfpp_background import BackgroundNeRF, BackgroundNeRFConfig
from nerfplex.fields.neus_color import RenderingNetwork, RenderingNetworkConfig, SingleVariance
from nerfplex.fields.sdf_network import SDFNetwork, SDFNetworkConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see tests/conftest.py


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_default_parameter_counts_equal_the_authors():
    """Counted by hand from the authors' womask.conf (weight norm adds one g per output unit, so
    a layer n_in -> n_out has n_in * n_out + 2 n_out parameters).

    SDF network, encoded input 3 + 3 * 2 * 6 = 39, hidden 256, skip at layer 4 (layer 3 outputs
    256 - 39 = 217):
      l0 39->256: 9984 + 512 = 10496;  l1, l2, l4, l5, l6, l7 256->256: 6 * 66048 = 396288;
      l3 256->217: 55552 + 434 = 55986;  l8 256->257: 65792 + 514 = 66306;  total 529076.
    Colour network, input 9 + 256 + (27 - 3) = 289:
      l0 289->256: 73984 + 512 = 74496;  l1-l3 256->256: 3 * 66048 = 198144;
      l4 256->3: 768 + 6 = 774;  total 273414.
    Variance: 1.  SDF + colour (+ variance) = 802490 (802491).
    """
    sdf = SDFNetwork(SDFNetworkConfig())
    color = RenderingNetwork(RenderingNetworkConfig())
    assert _count(sdf) == 529076
    assert _count(color) == 273414
    assert _count(sdf) + _count(color) + _count(SingleVariance()) == 802491


def test_background_parameter_count_equals_the_authors():
    """NeRF++ background (no weight norm): encoded position 4 * 21 = 84, view 3 * 9 = 27.
    Trunk: 84*256+256 = 21760; six 256->256: 6 * 65792 = 394752; after the skip (256+84)->256:
    87296; view (27+256)->128: 36352; feature 65792; alpha 257; rgb 128*3+3 = 387; total 606596."""
    assert _count(BackgroundNeRF(BackgroundNeRFConfig())) == 606596


def test_rendering_network_modes_shapes_and_range():
    torch.manual_seed(0)
    p, n, v = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    f = torch.randn(5, 8)
    for mode, d_in in (("idr", 9), ("no_view_dir", 6), ("no_normal", 6)):
        net = RenderingNetwork(RenderingNetworkConfig(d_feature=8, d_hidden=16, mode=mode, d_in=d_in))
        rgb = net(p, n, v, f)
        assert rgb.shape == (5, 3) and (rgb > 0).all() and (rgb < 1).all()
        assert all(parametrize.is_parametrized(layer, "weight") for layer in net.layers)
    with pytest.raises(ValueError, match="d_in"):
        RenderingNetwork(RenderingNetworkConfig(mode="no_normal", d_in=9))


def test_rendering_network_uses_each_input():
    torch.manual_seed(0)
    net = RenderingNetwork(RenderingNetworkConfig(d_feature=8, d_hidden=16))
    args = [torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 8)]
    base = net(*args)
    for i in range(4):
        changed = list(args)
        changed[i] = changed[i] + 0.5
        assert not torch.allclose(net(*changed), base)


def test_single_variance():
    var = SingleVariance(0.3)
    assert math.isclose(float(var.inv_s().detach()), math.exp(3.0), rel_tol=1e-6)  # ≈ 20 at the start
    var.variance.data.fill_(5.0)
    assert float(var.inv_s().detach()) == pytest.approx(1e6)  # clipped as the authors' renderer


def test_background_alpha_and_colour_for_far_points():
    torch.manual_seed(0)
    net = BackgroundNeRF(BackgroundNeRFConfig(W=32))
    origins = torch.tensor([[0.0, 0.0, -3.0]] * 2)
    directions = torch.tensor([[0.0, 0.0, 1.0]] * 2)
    z = torch.tensor([[1.0, 2.0, 10.0, 1e4]] * 2)
    alpha, color, mid = net.sample_alpha_color(origins, directions, z, sample_dist=0.5)
    assert alpha.shape == (2, 4) and color.shape == (2, 4, 3)
    assert (alpha >= 0).all() and (alpha <= 1).all() and (color > 0).all() and (color < 1).all()
    assert torch.allclose(mid[0], torch.tensor([1.5, 6.0, 5005.0, 1e4 + 0.25]))
    assert torch.isfinite(alpha).all()
