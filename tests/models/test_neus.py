import math

import pytest
import torch
import torch.nn.functional as F

from nerfplex.cameras import RayBundle
from nerfplex.data.ray_sampler import RayBatch, RayBatchSampler
from nerfplex.errors import NerfplexError
from nerfplex.fields.nerfpp_background import BackgroundNeRFConfig
from nerfplex.fields.neus_color import RenderingNetworkConfig
from nerfplex.fields.sdf_network import SDFNetworkConfig
from nerfplex.models.neus import NeuS, NeuSConfig, neus_learning_rate_factor

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see tests/conftest.py


def _config(**kw):
    small = dict(
        sdf_network=SDFNetworkConfig(d_hidden=32, n_layers=4, skip_in=(2,), multires=2, d_out=9),
        rendering_network=RenderingNetworkConfig(d_feature=8, d_hidden=16, n_layers=2, multires_view=2),
        background=BackgroundNeRFConfig(D=2, W=16, skips=(), multires=2, multires_view=2),
        n_samples=16,
        n_importance=16,
        up_sample_steps=2,
        n_outside=4,
        warm_up_end=10,
        end_iter=100,
        anneal_end=20,
    )
    return NeuSConfig(**{**small, **kw})


def _model(box=BOX, **kw):
    torch.manual_seed(0)
    return NeuS(_config(**kw), box)


def _rays(n=6, seed=1, center=(0.0, 0.0, 0.0), distance=4.0):
    g = torch.Generator().manual_seed(seed)
    dirs = F.normalize(torch.randn(n, 3, generator=g), dim=-1)
    aim = torch.tensor(center) + 0.2 * torch.randn(n, 3, generator=g)
    origins = torch.tensor(center) - distance * dirs
    return RayBundle.with_bounds(origins, F.normalize(aim - origins, dim=-1), 2.0, 6.0)


def _analytic_sphere(model, radius=0.5, slope=1.0):
    """Replace the SDF network by slope * (|x| - radius) in the unit frame (features 0)."""
    d_out = model.config.sdf_network.d_out

    def forward(x):
        sdf = slope * (x.norm(dim=-1, keepdim=True) - radius)
        return torch.cat([sdf, x.new_zeros(x.shape[0], d_out - 1)], dim=-1)

    model.sdf_network.forward = forward


@pytest.mark.parametrize("n_outside", [0, 4])
def test_outputs_shapes_and_eval_determinism(n_outside):
    model = _model(n_outside=n_outside)
    out = model.get_outputs(_rays(), torch.ones(6, 3), torch.Generator().manual_seed(0))
    samples = 16 + 16
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {
        "rgb": (6, 3),
        "depth": (6, 1),
        "opacity": (6, 1),
        "normals": (6, 3),
        "gradients": (6, samples, 3),
        "weights": (6, samples + n_outside),
        "s_val": (6, 1),
        "eikonal_sum": (6, 1),
        "eikonal_count": (6, 1),
    }
    assert (out["opacity"] > 0).all() and (out["opacity"] <= 1 + 1e-4).all()
    assert torch.allclose(out["s_val"], torch.full((6, 1), math.exp(-3.0)))
    model.eval()
    a, b = (model.get_outputs(_rays(), torch.ones(6, 3))["rgb"] for _ in range(2))
    assert torch.equal(a, b)
    with torch.no_grad():  # the SDF gradient is still computed (normals feed the colour network)
        c = model.render(_rays(), torch.ones(6, 3))
    assert torch.allclose(a, c["rgb"], atol=1e-6) and not c["rgb"].requires_grad


def test_render_ignores_the_data_bounds():
    model = _model().eval()
    rays = _rays()
    empty = RayBundle(rays.origins, rays.directions, rays.near, rays.near)  # far == near
    a = model.render(rays, torch.ones(6, 3))["rgb"]
    b = model.render(empty, torch.ones(6, 3))["rgb"]
    assert torch.allclose(a, b)


def test_learning_rate_factor_matches_the_authors_schedule():
    # exp_runner.update_learning_rate with warm_up_end 5000, end_iter 300000, alpha 0.05:
    f = lambda s: neus_learning_rate_factor(s, 5000, 300000, 0.05)  # noqa: E731
    assert f(0) == 0.0 and f(2500) == 0.5 and f(5000) == pytest.approx(1.0)
    assert f(152500) == pytest.approx(0.05 + 0.95 * 0.5)  # half-way: cos(π/2) = 0
    assert f(78750) == pytest.approx(0.05 + 0.95 * (1 + math.cos(math.pi / 4)) / 2)
    assert f(300000) == pytest.approx(0.05) and f(400000) == pytest.approx(0.05)
    model = _model()
    unused = lambda n: float("nan")  # noqa: E731 (NeuS ignores optim's decay)
    assert model.learning_rate_factor(5, unused) == 0.5
    assert model.learning_rate_factor(100, unused) == pytest.approx(0.05)
    groups = model.get_param_groups()
    assert list(groups) == ["fields"] and len(groups["fields"]) == len(list(model.parameters()))
    assert model.get_learning_rates() == {"fields": 5e-4}


def test_cos_anneal_ratio_follows_the_step_and_is_checkpointed():
    model = _model()  # anneal_end 20
    assert model.cos_anneal_ratio() == 0.0
    assert model.on_train_step(5) is False and model.cos_anneal_ratio() == 0.25
    model.on_train_step(40)
    assert model.cos_anneal_ratio() == 1.0
    restored = _model()
    restored.load_state_dict(model.state_dict())
    assert restored.cos_anneal_ratio() == 1.0
    assert _model(anneal_end=0).cos_anneal_ratio() == 1.0  # wmask: annealing off


def test_eikonal_loss_is_zero_for_an_exact_distance_function():
    model = _model(n_outside=0)
    _analytic_sphere(model)
    out = model.get_outputs(_rays(), torch.ones(6, 3))
    losses = model.get_loss_dict(out, torch.ones(6, 3))
    assert float(out["eikonal_count"].sum()) > 0 and float(losses["eikonal"].detach()) < 1e-10
    model = _model(n_outside=0)
    _analytic_sphere(model, slope=2.0)  # |∇f| = 2 everywhere: (2 - 1)² = 1, times igr_weight
    losses = model.get_loss_dict(model.get_outputs(_rays(), torch.ones(6, 3)), torch.ones(6, 3))
    assert float(losses["eikonal"].detach()) == pytest.approx(0.1, rel=1e-4)


def test_a_dataset_sphere_replaces_the_circumscribed_one():
    """DTU defines its unit sphere: the box [-1, 1]^3 then maps with radius 1 (the authors'), not √3."""
    box = torch.tensor([[-1.0] * 3, [1.0] * 3])
    assert float(NeuS(_config(), box).radius) == pytest.approx(math.sqrt(3.0))
    model = NeuS(_config(), box, sphere_radius=1.0)
    assert float(model.radius) == 1.0
    torch.testing.assert_close(model.to_unit(torch.tensor([[0.5, 0.0, 0.0]])), torch.tensor([[0.5, 0.0, 0.0]]))
    with pytest.raises(NerfplexError, match="radius"):
        NeuS(_config(), box, sphere_radius=0.0)


def test_scene_box_maps_to_the_unit_sphere_and_depths_are_metric():
    """Box [0, 2]^3: centre (1, 1, 1), half-diagonal √3. A unit-frame sphere of radius 0.5 is a world
    sphere of radius √3 / 2 around the centre; its world SDF is |x - c| - √3 / 2."""
    box = torch.tensor([[0.0] * 3, [2.0] * 3])
    model = _model(box=box, n_outside=0, n_samples=64, n_importance=64, up_sample_steps=4, anneal_end=0)
    _analytic_sphere(model)
    model.variance.variance.data.fill_(0.7)  # inv_s = e^7 ≈ 1100: a sharp surface
    center, radius = torch.ones(3), math.sqrt(3.0)
    dirs = F.normalize(torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    points = center + (0.5 * radius + torch.tensor([-0.2, -0.1, 0.0, 0.1, 0.3]))[:, None] * dirs
    assert torch.allclose(model.sdf(points), torch.tensor([-0.2, -0.1, 0.0, 0.1, 0.3]), atol=1e-5)
    rays = RayBundle.with_bounds(center + 4.0 * dirs, -dirs, 0.1, 10.0)
    model.eval()
    out = model.get_outputs(rays, torch.zeros(5, 3))
    assert torch.allclose(out["depth"][:, 0], torch.full((5,), 4.0 - 0.5 * radius), atol=5e-3)
    assert (out["opacity"] > 0.99).all()
    normals = F.normalize(out["normals"], dim=-1)  # outward sphere normals at the hit: the -ray dirs
    assert torch.allclose(normals, dirs, atol=1e-3)
    colors = model.color(points)
    assert colors.shape == (5, 3) and (colors > 0).all() and (colors < 1).all()
    surface = model.surface(box)
    assert surface.kind == "sdf" and surface.level == 0.0
    with torch.no_grad():  # as mesh extraction calls it
        assert torch.allclose(surface.values(points), model.sdf(points))
        assert torch.allclose(surface.color(points), colors, atol=1e-6)


def test_color_l1_and_mask_losses_follow_the_authors():
    model = _model(n_outside=0)
    out = model.get_outputs(_rays(), torch.ones(6, 3))
    target = torch.rand(6, 3, generator=torch.Generator().manual_seed(0))
    losses = model.get_loss_dict(out, target)
    assert set(losses) == {"color_l1", "eikonal"}
    # L1 summed over channels, averaged over rays (F.l1_loss(sum) / mask_sum with a [R, 1] mask).
    expected = (out["rgb"] - target).abs().sum() / (6 + 1e-5)
    assert torch.allclose(losses["color_l1"], expected)
    masked = _model(n_outside=0, mask_weight=0.1)
    out = masked.get_outputs(_rays(), torch.ones(6, 3))
    with pytest.raises(NerfplexError, match="mask_weight"):
        masked.get_loss_dict(out, target)
    alpha = torch.tensor([[0.9], [0.2], [1.0], [0.0], [0.6], [0.4]])
    mask = (alpha > 0.5).float()
    batch = RayBatch(_rays(), target, alpha, torch.arange(6))
    losses = masked.get_loss_dict(out, target, batch)
    expected = ((out["rgb"] - target).abs() * mask).sum() / (3 + 1e-5)
    assert torch.allclose(losses["color_l1"], expected)
    bce = F.binary_cross_entropy(out["opacity"].clip(1e-3, 1 - 1e-3), mask)
    assert torch.allclose(losses["mask_bce"], 0.1 * bce)


def test_white_background_overrides_the_trainer_colour():
    model = _model(n_outside=0, use_white_bkgd=True).eval()
    a = model.get_outputs(_rays(), torch.zeros(6, 3))["rgb"]
    b = model.get_outputs(_rays(), torch.ones(6, 3))["rgb"]
    assert torch.allclose(a, b)


def test_config_checks():
    with pytest.raises(NerfplexError, match="multiple of"):
        _model(n_importance=10, up_sample_steps=4)
    with pytest.raises(NerfplexError, match="d_feature"):
        _model(rendering_network=RenderingNetworkConfig(d_feature=16))
    with pytest.raises(NerfplexError, match="d_hidden"):
        _model(sdf_network=SDFNetworkConfig(d_hidden=32, d_out=9))  # 6 frequencies: 39 inputs


@pytest.mark.parametrize("n_outside", [0, 4])
def test_a_few_training_steps_reduce_the_loss(tiny_scene, n_outside):
    model = _model(n_outside=n_outside)
    model.train()
    sampler = RayBatchSampler(tiny_scene.train, 32, tiny_scene.near, tiny_scene.far)
    batch = sampler.sample(torch.Generator().manual_seed(0))
    background = torch.ones(32, 3)
    target = batch.target(background)
    optimizer = torch.optim.Adam(model.get_param_groups()["fields"], lr=5e-3)
    generator = torch.Generator().manual_seed(1)
    history = []
    for step in range(20):
        model.on_train_step(step)
        out = model.render(batch.rays, background, generator)
        total = sum(model.get_loss_dict(out, target).values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(float(total.detach()))
    assert all(math.isfinite(v) for v in history)
    assert sum(history[-5:]) / 5 < 0.8 * sum(history[:5]) / 5
