import torch

from nerfplex.cameras import RayBundle
from nerfplex.fields.nerf_mlp import NeRFMLPConfig
from nerfplex.models.vanilla_nerf import VanillaNeRF, VanillaNeRFConfig


def _model(**kw):
    torch.manual_seed(0)
    mlp = NeRFMLPConfig(num_layers=2, width=16, skip_layers=(0,), position_frequencies=2, direction_frequencies=1)
    kw = {"num_coarse_samples": 8, "num_fine_samples": 4, **kw}
    return VanillaNeRF(VanillaNeRFConfig(mlp=mlp, **kw))


def _rays(n=5):
    g = torch.Generator().manual_seed(1)
    dirs = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    return RayBundle.with_bounds(-3 * dirs, dirs, 2.0, 4.0)


def test_outputs_and_losses():
    model = _model()
    out = model.get_outputs(_rays(), torch.ones(5, 3), torch.Generator().manual_seed(0))
    for key in ("rgb", "depth", "opacity", "rgb_coarse", "opacity_coarse"):
        assert out[key].shape[0] == 5
    assert ((out["depth"] >= 2) | (out["opacity"] < 1e-6)).all() and (out["depth"] <= 4).all()
    losses = model.get_loss_dict(out, torch.zeros(5, 3))
    assert set(losses) == {"rgb_mse", "rgb_mse_coarse"}
    assert model.fine is not None


def test_eval_mode_is_deterministic_and_train_mode_jitters():
    model = _model()
    model.eval()
    a = model.get_outputs(_rays(), torch.ones(5, 3))["rgb"]
    b = model.get_outputs(_rays(), torch.ones(5, 3))["rgb"]
    assert torch.equal(a, b)
    model.train()
    c = model.get_outputs(_rays(), torch.ones(5, 3), torch.Generator().manual_seed(0))["rgb"]
    assert not torch.equal(a, c)


def test_shared_network_and_coarse_only():
    assert _model(separate_fine_network=False).fine is None
    coarse_only = _model(num_fine_samples=0)
    out = coarse_only.get_outputs(_rays(), torch.ones(5, 3))
    assert "rgb_coarse" not in out
    assert set(coarse_only.get_loss_dict(out, torch.zeros(5, 3))) == {"rgb_mse"}


def test_surface_is_the_fine_density_at_the_configured_level():
    torch.manual_seed(0)
    model = VanillaNeRF(
        VanillaNeRFConfig(mlp=NeRFMLPConfig(num_layers=2, width=16, skip_layers=()), surface_density=7.0)
    )
    points = torch.rand(5, 3)
    surface = model.surface(torch.tensor([[-1.0] * 3, [1.0] * 3]))
    assert surface.kind == "density" and surface.level == 7.0
    expected = model.fine(points, torch.zeros(5, 3))[0]
    torch.testing.assert_close(surface.values(points), expected)  # density ignores the view
    assert surface.color(points).shape == (5, 3)
