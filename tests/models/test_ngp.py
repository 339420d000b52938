import pytest
import torch

from nerfplex.cameras import RayBundle
from nerfplex.config import config_from_dict
from nerfplex.engine.trainer import Trainer
from nerfplex.fields.hash_encoding import HashGridConfig
from nerfplex.models.ngp import NGP, NGPConfig
from nerfplex.render.compositing import composite, density_weights
from nerfplex.render.nerfacc_render import nerfacc_usable

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])
SMALL_GRID = HashGridConfig(
    n_levels=4, n_features_per_level=2, log2_hashmap_size=10, base_resolution=4, per_level_scale=2.0
)


def _model(**kw) -> NGP:
    torch.manual_seed(0)
    config = NGPConfig(
        grid=SMALL_GRID, occupancy_resolution=8, render_step_size=0.1, backend="torch", sampler="torch", **kw
    )
    return NGP(config, BOX)


def _rays(n=16, device="cpu"):
    g = torch.Generator().manual_seed(1)
    dirs = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    return RayBundle.with_bounds((-3 * dirs).to(device), dirs.to(device), 1.0, 5.0)


def _reference(model: NGP, rays: RayBundle, background):
    """Every step inside the box, no skipping: the plain estimator the grid and early stop approximate."""
    clipped = rays.clipped_to_aabb(BOX)
    step = model.config.render_step_size
    k = torch.arange(64, dtype=torch.float32)
    t = clipped.near + (k + 0.5) * step
    inside = (t < clipped.far).float()
    points = rays.origins[:, None] + rays.directions[:, None] * t[..., None]
    sigma, rgb = model.field(points.reshape(-1, 3), rays.directions[:, None].expand_as(points).reshape(-1, 3))
    weights = density_weights(sigma.view(t.shape) * inside, torch.full_like(t, step))
    return composite(weights, rgb.view(*t.shape, 3), t, background)


def test_shapes_eval_determinism_and_train_jitter():
    model = _model()
    rays, bg = _rays(), torch.ones(16, 3)
    model.eval()
    a, b = model.get_outputs(rays, bg), model.get_outputs(rays, bg)
    assert a["rgb"].shape == (16, 3) and a["depth"].shape == (16, 1) and a["opacity"].shape == (16, 1)
    assert torch.equal(a["rgb"], b["rgb"])
    model.train()
    c = model.get_outputs(rays, bg, torch.Generator().manual_seed(0))
    assert not torch.equal(a["rgb"], c["rgb"])


def test_full_grid_without_early_stop_equals_plain_marching():
    model = _model(early_stop_eps=0.0)
    model.eval()
    rays, bg = _rays(), torch.rand(16, 3)
    out = model.get_outputs(rays, bg)
    ref = _reference(model, rays, bg)
    torch.testing.assert_close(out["rgb"], ref["rgb"])
    torch.testing.assert_close(out["opacity"], ref["opacity"])


def test_early_stop_and_empty_grid():
    model = _model()
    model.eval()
    with torch.no_grad():
        model.field.density_net.params.mul_(0).add_(0.3)  # a dense, nearly opaque medium
    rays, bg = _rays(), torch.rand(16, 3)
    out = model.get_outputs(rays, bg)
    ref = _reference(model, rays, bg)
    torch.testing.assert_close(out["rgb"], ref["rgb"], atol=1e-3, rtol=0)  # the dropped tail weighs < 1e-4
    model.grid.binaries.zero_()  # nothing occupied: the background, and still a graph to differentiate
    model.train()
    out = model.get_outputs(rays, bg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out["rgb"], bg)
    model.get_loss_dict(out, torch.zeros(16, 3))["rgb_mse"].backward()


def test_occupancy_update_hook_schedule_and_state():
    model = _model()
    model.on_train_step(0)
    assert not model.grid.binaries.all() or model.grid.occs.min() > 0.01
    assert model.on_train_step(1) is False
    unused = lambda n: float("nan")  # noqa: E731 (ngp ignores optim's decay)
    assert model.learning_rate_factor(0, unused) == pytest.approx(0.01)
    assert model.learning_rate_factor(100, unused) == pytest.approx(1.0)
    assert model.learning_rate_factor(10000, unused) == pytest.approx(0.33)
    assert model.learning_rate_factor(19999, unused) == pytest.approx(0.33**3)
    fresh = _model()
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.grid.binaries, model.grid.binaries)
    assert set(model.get_param_groups()) == {"all"} and model.get_learning_rates() == {"all": 1e-2}
    surface = model.surface(BOX)
    assert surface.kind == "density" and surface.values(torch.zeros(3, 3)).shape == (3,)


def test_trains_in_the_trainer(tiny_scene, tiny_config, tmp_path, one_thread):
    config = config_from_dict(
        {
            "model": {
                "method": "ngp",
                "ngp": {
                    "grid": {"n_levels": 2, "log2_hashmap_size": 8, "base_resolution": 4, "per_level_scale": 2.0},
                    "occupancy_resolution": 8,
                    "render_step_size": 0.1,
                    "density_neurons": 16,
                    "color_neurons": 16,
                },
            },
            "trainer": {"max_steps": 3, "eval_every": 0, "checkpoint_every": 3},
        },
        base=tiny_config,
    )
    trainer = Trainer(config, tmp_path / "run", scene=tiny_scene)
    metrics = trainer.train()
    assert metrics["method"] == "ngp" and metrics["step"] == 3


def test_nerfacc_path_matches_the_torch_path():
    if not torch.cuda.is_available() or not nerfacc_usable(torch.device("cuda")):
        pytest.skip("nerfacc with CUDA is not available")
    model = _model(early_stop_eps=1e-4).cuda()
    model.train()
    model.on_train_step(0)  # a grid with empty and occupied cells
    model.eval()
    rays, bg = _rays(256, "cuda"), torch.rand(256, 3, device="cuda")
    torch_out = model.get_outputs(rays, bg)
    model.config.sampler = "nerfacc"
    nerfacc_out = model.get_outputs(rays, bg)
    torch.testing.assert_close(nerfacc_out["rgb"], torch_out["rgb"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(nerfacc_out["opacity"], torch_out["opacity"], atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_path_on_cuda_matches_the_cpu():
    model = _model()
    model.train()
    model.on_train_step(0)
    model.eval()
    rays, bg = _rays(64), torch.rand(64, 3)
    cpu = model.get_outputs(rays, bg)["rgb"]
    model.cuda()
    cuda = model.get_outputs(_rays(64, "cuda"), bg.cuda())["rgb"].cpu()
    torch.testing.assert_close(cuda, cpu, atol=1e-4, rtol=1e-4)


def test_config_values_are_checked():
    from nerfplex.errors import NerfplexError

    with pytest.raises(NerfplexError, match="render_step_size"):
        config_from_dict({"model": {"method": "ngp", "ngp": {"render_step_size": 0}}})
    with pytest.raises(NerfplexError, match="log2_hashmap_size"):
        config_from_dict({"model": {"method": "ngp", "ngp": {"grid": {"log2_hashmap_size": 40}}}})


def test_foreground_box_from_the_scene_box_or_the_cameras():
    from nerfplex.models.ngp import foreground_box

    box = torch.tensor([[-48.0] * 3, [48.0] * 3])
    torch.testing.assert_close(foreground_box(box, "scene_box", 6, None), box / 32)
    cameras = torch.tensor([[3.0, -1.0, 2.0], [-1.0, 4.5, 0.5]])
    torch.testing.assert_close(foreground_box(box, "cameras", 5, cameras), torch.tensor([[-4.5] * 3, [4.5] * 3]))
    small = torch.tensor([[-1.5] * 3, [1.5] * 3])  # lego: the cameras' cube is cut to the scene box
    torch.testing.assert_close(foreground_box(small, "cameras", 5, cameras), small)
    with pytest.raises(Exception, match="cameras"):
        foreground_box(box, "cameras", 5, None)


def test_unbounded_options_render_the_background_within_the_sample_bound():
    """Cascades + contraction + cone angle: rays run far past the finest box, the field sees contracted
    points (inside [-2, 2]^3), samples stay within the renderer's bound, and the result is finite."""
    model = NGP(
        NGPConfig(
            grid=SMALL_GRID,
            occupancy_resolution=8,
            render_step_size=0.05,
            backend="torch",
            sampler="torch",
            occupancy_levels=4,
            contraction="inf",
            cone_angle=1 / 64,
            foreground="cameras",
        ),
        BOX * 10,
        camera_origins=torch.tensor([[2.0, 0.0, 0.0]]),
    )
    torch.testing.assert_close(model.grid.aabbs[0], torch.tensor([-2.0, -2, -2, 2, 2, 2]))
    torch.testing.assert_close(model.grid.outer_aabb, torch.tensor([[-16.0] * 3, [16.0] * 3]))
    seen = []
    original = model.field.density
    model.field.density = lambda p: seen.append(p.abs().max()) or original(p)
    model.eval()
    rays = RayBundle.with_bounds(
        torch.zeros(8, 3), torch.nn.functional.normalize(torch.randn(8, 3), dim=-1), 0.1, 100.0
    )
    out = model.get_outputs(rays, torch.ones(8, 3))
    assert torch.isfinite(out["rgb"]).all() and 1.0 < float(max(seen)) < 2.0  # beyond the finest box
    bound = model.max_samples_per_ray(rays)
    assert 0 < float(out["num_samples"].max()) <= bound < 300  # a constant 0.05 step: up to ~550
