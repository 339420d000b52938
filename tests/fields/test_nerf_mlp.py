import torch

from nerfplex.fields.nerf_mlp import NeRFMLP, NeRFMLPConfig


def test_paper_architecture_shapes():
    mlp = NeRFMLP(NeRFMLPConfig())
    in_dims = [layer.in_features for layer in mlp.trunk]
    # 8 layers of 256; the encoded position (63) re-enters after the fifth layer (index 4).
    assert in_dims == [63, 256, 256, 256, 256, 256 + 63, 256, 256]
    assert mlp.view_layer.in_features == 256 + 27 and mlp.view_layer.out_features == 128
    # The authors' parameter count for the 8x256 network with view directions.
    assert sum(p.numel() for p in mlp.parameters()) == 595844


def test_outputs_and_view_dependence():
    torch.manual_seed(0)
    mlp = NeRFMLP(NeRFMLPConfig(num_layers=3, width=32, skip_layers=(1,)))
    pos = torch.randn(10, 3)
    d1 = torch.nn.functional.normalize(torch.randn(10, 3), dim=-1)
    density, rgb = mlp(pos, d1)
    assert density.shape == (10,) and rgb.shape == (10, 3)
    assert (density >= 0).all() and (rgb > 0).all() and (rgb < 1).all()
    density2, rgb2 = mlp(pos, -d1)
    assert torch.equal(density, density2)  # density depends on position only
    assert not torch.allclose(rgb, rgb2)
