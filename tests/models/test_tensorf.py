import pytest
import torch

from nerfplex.cameras import RayBundle
from nerfplex.config import config_from_dict
from nerfplex.engine.trainer import Trainer
from nerfplex.errors import NerfplexError
from nerfplex.models.tensorf import TensoRF, TensoRFConfig

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])
SMALL = {
    "n_voxel_init": 8**3 + 4,
    "n_voxel_final": 16**3 + 4,
    "density_ranks": (2, 2, 2),
    "color_ranks": (3, 3, 3),
    "cp_density_rank": 3,
    "cp_color_rank": 4,
    "color_feature_dim": 4,
    "mlp_width": 8,
    "upsample_steps": (2, 4),
    "alpha_mask_steps": (),
}


def _model(**kw):
    torch.manual_seed(0)
    return TensoRF(TensoRFConfig(**{**SMALL, **kw}), BOX)


def _rays(n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    dirs = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    return RayBundle.with_bounds(-3 * dirs, dirs, 2.0, 4.0).clipped_to_aabb(BOX)


def _axis_rays(x):
    """Rays along +y at height z = 0.1, at the given x positions."""
    x = torch.as_tensor(x, dtype=torch.float32)
    origins = torch.stack([x, torch.full_like(x, -3.0), torch.full_like(x, 0.1)], dim=-1)
    directions = torch.tensor([0.0, 1.0, 0.0]).expand_as(origins)
    return RayBundle.with_bounds(origins, directions, 0.0, 6.0).clipped_to_aabb(BOX)


@pytest.mark.parametrize("decomposition", ["vm", "cp"])
def test_output_shapes_and_eval_determinism(decomposition):
    model = _model(decomposition=decomposition, density_shift=0.0)
    out = model.get_outputs(_rays(), torch.ones(6, 3), torch.Generator().manual_seed(0))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"rgb": (6, 3), "depth": (6, 1), "opacity": (6, 1)}
    assert (out["opacity"] > 0).all() and (out["opacity"] <= 1).all()
    losses = model.get_loss_dict(out, torch.zeros(6, 3))
    assert set(losses) == {"rgb_mse", "density_l1"}
    model.eval()
    a, b = (model.get_outputs(_rays(), torch.ones(6, 3))["rgb"] for _ in range(2))
    assert torch.equal(a, b)


def test_alpha_mask_skips_empty_space(monkeypatch):
    model = _model(density_shift=2.0)  # dense everywhere before masking
    # Occupied only where x > 0.3; dilation and trilinear lookup widen that by two cells (2/7 each).
    model.alpha_mask.update(lambda p: (p[:, 0] > 0.3).float(), BOX, [8, 8, 8], threshold=0.5)
    seen = []
    original = model.field.density_features
    monkeypatch.setattr(
        model.field, "density_features", lambda coords: seen.append(coords.detach().clone()) or original(coords)
    )
    model.eval()
    out = model.render(_axis_rays([-0.9, -0.5, 0.8]), torch.ones(3, 3))
    evaluated = torch.cat(seen)
    assert len(evaluated) > 0 and evaluated[:, 0].min() > -0.2  # normalised = world x here
    assert (out["opacity"][:2] == 0).all() and (out["rgb"][:2] == 1).all()
    assert out["opacity"][2] > 0.5


def test_alpha_mask_from_an_empty_field_disables_all_evaluation(monkeypatch):
    model = _model()  # features ~0.01: density ~ softplus(-10), alpha far below the threshold
    assert model.update_alpha_mask(shrink=True) is False  # nothing occupied, nothing to crop
    assert model.alpha_mask.active and model.alpha_mask.volume.sum() == 0
    monkeypatch.setattr(model.field, "density_features", lambda coords: pytest.fail("evaluated"))
    out = model.get_outputs(_rays(), torch.ones(6, 3))
    assert (out["opacity"] == 0).all()


def test_on_train_step_upsamples_exactly_at_the_listed_steps():
    model = _model(upsample_steps=(2, 4), n_voxel_final=20**3 + 4)
    assert model.field.resolution == [8, 8, 8]
    sizes, changed = [], []
    for step in range(6):
        changed.append(model.on_train_step(step))
        sizes.append(sum(p.numel() for p in model.get_param_groups()["grid"]))
    assert changed == [False, False, True, False, True, False]
    assert sizes[1] < sizes[2] < sizes[4] and model.field.resolution == [20, 20, 20]
    # voxel counts log-linear: 8^3 -> (8^3 * 20^3)^(1/2) -> 20^3
    assert model.voxel_schedule[0] == pytest.approx((516 * 8004) ** 0.5, abs=1)


def test_first_alpha_mask_update_shrinks_the_box_and_switches_the_l1_weight():
    model = _model(alpha_mask_steps=(3, 5), upsample_steps=(), density_shift=0.0)
    with torch.no_grad():  # density feature 5 where x <= -1/7 (vertex 3 of 8), -30 beyond
        for p in model.field.grid_parameters():
            p.zero_()
        model.field.density_planes[0][0, 0, :, :4] = 5.0
        model.field.density_planes[0][0, 0, :, 4:] = -30.0
        model.field.density_lines[0][0, 0] = 1.0
    assert model.l1_weight() == 8e-5
    assert [model.on_train_step(s) for s in range(6)] == [False, False, False, True, False, False]
    assert model.l1_weight() == 4e-5
    # occupied vertices 0..3 along x, dilated by one: the box is cropped to vertices 0..4
    assert model.field.resolution == [5, 8, 8]
    torch.testing.assert_close(model.field.aabb, torch.tensor([[-1.0] * 3, [-1 + 8 / 7, 1.0, 1.0]]))


def test_state_dict_loads_into_a_fresh_model():
    model = _model(density_shift=0.0)
    model.on_train_step(2)
    model.update_alpha_mask()
    fresh = _model(density_shift=0.0)
    assert fresh.field.resolution != model.field.resolution
    fresh.load_state_dict(model.state_dict())
    assert fresh.field.resolution == model.field.resolution
    model.eval()
    fresh.eval()
    torch.testing.assert_close(
        fresh.get_outputs(_rays(), torch.ones(6, 3))["rgb"],
        model.get_outputs(_rays(), torch.ones(6, 3))["rgb"],
        rtol=0,
        atol=0,
    )


def _config(tmp_path, tiny_config, **tensorf):
    return config_from_dict(
        {"output_dir": str(tmp_path / "out"), "model": {"method": "tensorf", "tensorf": {**SMALL, **tensorf}}},
        base=tiny_config,
    )


def _solid_cube(split):
    """Make ``split`` show an opaque orange cube filling BOX (the fixture's random pixels are not
    consistent across views)."""
    hits = []
    for i in range(len(split)):
        origins, directions = split.cameras.image_rays(i)
        rays = RayBundle.with_bounds(origins, directions, 0.0, 10.0).clipped_to_aabb(BOX)
        hits.append((rays.far > rays.near).float().view(split.cameras.height, split.cameras.width, 1))
    split.alpha = torch.stack(hits)
    split.rgb = torch.tensor([0.9, 0.4, 0.1]) * split.alpha


def test_tiny_training_run_decreases_the_loss(tiny_config, tiny_scene, tmp_path):
    _solid_cube(tiny_scene.train)
    # density_shift 0 and a larger MLP rate: the defaults need hundreds of steps to show anything
    config = _config(tmp_path, tiny_config, upsample_steps=(20,), density_shift=0.0, lr_network=0.01)
    config.trainer.train_background = "white"
    config.trainer.max_steps = 40  # the learning rates decay over max_steps
    trainer = Trainer(config, tmp_path / "run", scene=tiny_scene)
    losses = [float(trainer.train_step()["loss/rgb_mse"]) for _ in range(40)]
    assert sum(losses[-5:]) < 0.2 * sum(losses[:5])


def test_resume_across_an_upsampling_step_equals_straight_training(tiny_config, tiny_scene, tmp_path):
    config = _config(tmp_path, tiny_config, upsample_steps=(3, 6), alpha_mask_steps=(2, 3), density_shift=0.0)
    straight = Trainer(config, tmp_path / "a", scene=tiny_scene)
    straight.train()
    first = Trainer(config, tmp_path / "b", scene=tiny_scene)
    first.train(until_step=4)
    second = Trainer(config, tmp_path / "b", scene=tiny_scene)
    second.resume()  # the checkpoint's grid is upsampled and masked; the fresh model is not
    second.train()
    assert second.model.field.resolution == straight.model.field.resolution == [16, 16, 16]
    assert straight.sampler.pool is not None  # the rays were filtered at the second mask update
    assert torch.equal(second.sampler.pool, straight.sampler.pool)
    expected, got = straight.model.state_dict(), second.model.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6)


def test_training_rays_are_filtered_at_the_start_and_at_the_second_mask_update():
    model = _model(alpha_mask_steps=(3, 5), upsample_steps=())
    assert [s for s in range(8) if model.training_ray_filter(s) is not None] == [0, 5]
    assert _model(alpha_mask_steps=(3, 5), filter_rays=False).training_ray_filter(0) is None
    rays = _axis_rays([-1.2, 0.8])
    rays.far[1] = rays.near[1]  # the authors' test looks at the line only, not at near / far
    assert model.training_ray_filter(0)(rays).tolist() == [False, True]
    model.alpha_mask.update(lambda p: (p[:, 0] > 0.3).float(), BOX, [8, 8, 8], threshold=0.5)
    assert model.training_ray_filter(5)(_axis_rays([-0.9, -0.5, 0.8])).tolist() == [False, False, True]


def test_marching_ignores_the_scene_far_bound_inside_the_box():
    """As the authors' ``sample_ray``: samples run from max(near, box entry) to the box exit, even past
    ``far`` (lego's box corners reach beyond far = 6)."""
    model = _model(density_shift=-6.0).eval()
    origins = torch.tensor([[0.2, -3.0, 0.1], [0.2, -3.0, 0.1]])
    directions = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    short = RayBundle(origins, directions, torch.tensor([[0.0], [2.5]]), torch.tensor([[3.5], [3.5]]))
    segment = model.box_segment(short)
    torch.testing.assert_close(segment.near, torch.tensor([[2.0], [2.5]]))
    torch.testing.assert_close(segment.far, torch.tensor([[4.0], [4.0]]))
    long = RayBundle(origins, directions, short.near, torch.full((2, 1), 10.0))
    out_short, out_long = model.get_outputs(short, torch.ones(2, 3)), model.get_outputs(long, torch.ones(2, 3))
    torch.testing.assert_close(out_short["rgb"], out_long["rgb"])
    assert float(out_short["opacity"][0]) > float(out_short["opacity"][1]) > 0


def test_config_checks_tensorf_values(tiny_config):
    with pytest.raises(NerfplexError, match="upsample_steps"):
        config_from_dict({"model": {"method": "tensorf", "tensorf": {"upsample_steps": [3, 2]}}}, base=tiny_config)
    with pytest.raises(NerfplexError, match="step_ratio"):
        config_from_dict({"model": {"method": "tensorf", "tensorf": {"step_ratio": 0}}}, base=tiny_config)


def test_learning_rate_restarts_at_upsampling_like_the_authors():
    import torch

    from nerfplex.models.tensorf import TensoRF, TensoRFConfig

    aabb = torch.tensor([[-1.0] * 3, [1.0] * 3])
    model = TensoRF(TensoRFConfig(n_voxel_init=8**3, n_voxel_final=12**3, upsample_steps=(5, 9)), aabb)
    steps = (0, 4, 5, 8, 9, 100)  # with an identity decay the factor counts steps since the restart
    assert [model.learning_rate_factor(s, lambda n: n) for s in steps] == [0, 4, 0, 3, 0, 91]
    model = TensoRF(
        TensoRFConfig(n_voxel_init=8**3, n_voxel_final=12**3, upsample_steps=(5, 9), lr_upsample_reset=False), aabb
    )
    assert model.learning_rate_factor(100, lambda n: n) == 100
