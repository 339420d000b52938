import math

import pytest
import torch

from nerfplex.cameras import RayBundle
from nerfplex.config import config_from_dict
from nerfplex.engine.optim import OptimConfig, build_optimizer
from nerfplex.engine.trainer import Trainer
from nerfplex.errors import NerfplexError
from nerfplex.fields.dvgo import frustum_box, mask_from_coarse, resolution_for, scaled_box
from nerfplex.losses.distortion import distortion_loss
from nerfplex.models.dvgo import DVGO
from nerfplex.models.dvgo_config import DVGOConfig
from nerfplex.models.masked_adam import MaskedAdam
from nerfplex.render.voxel_march import march_box

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])
SMALL = {
    "coarse_steps": 3,
    "coarse_num_voxels": 8**3,
    "fine_num_voxels": 16**3,
    "pg_scale": (2, 3),
    "rgbnet_dim": 4,
    "rgbnet_width": 8,
    "occupancy_every": 0,
    "pervoxel_lr": False,
    "maskout_near_cam_vox": False,
    "coarse_box": "scene",
}


def _model(**kw):
    torch.manual_seed(0)
    return DVGO(DVGOConfig(**{**SMALL, **kw}), BOX)


def _rays(n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    dirs = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    return RayBundle.with_bounds(-3 * dirs, dirs, 2.0, 4.0).clipped_to_aabb(BOX)


def _axis_rays(x, z=0.1):
    """Rays along +y at height z, at the given x positions."""
    x = torch.as_tensor(x, dtype=torch.float32)
    origins = torch.stack([x, torch.full_like(x, -3.0), torch.full_like(x, z)], dim=-1)
    directions = torch.tensor([0.0, 1.0, 0.0]).expand_as(origins)
    return RayBundle.with_bounds(origins, directions, 0.0, 6.0).clipped_to_aabb(BOX)


def _randomise(field, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        field.density.grid.copy_(scale * torch.randn(field.density.grid.shape, generator=g))
        field.k0.grid.copy_(torch.randn(field.k0.grid.shape, generator=g))


def _blob(model, lo=(2, 3, 4), hi=(4, 5, 6)):
    """Dense raw density on coarse vertices lo..hi (inclusive), empty elsewhere."""
    with torch.no_grad():
        grid = model.coarse.density.grid
        grid.fill_(-20.0)
        grid[0, 0, lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1] = 20.0
    vertices = model.coarse.density.vertices()
    return torch.stack([vertices[lo], vertices[hi]])


def test_march_box_samples_uniformly_from_the_entry_point():
    rays = RayBundle.with_bounds(
        torch.tensor([[-3.0, 0.2, 0.0], [5.0, 5.0, 5.0]]), torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), 0.0, 10.0
    )
    samples = march_box(rays, BOX, 0.3)
    assert samples.ray.unique().tolist() == [0]  # the second ray misses the box
    # entry at t = 2, exit at t = 4: ceil(2 / 0.3) = 7 samples at 2 + 0.3 k
    torch.testing.assert_close(samples.t[0, samples.step], 2.0 + 0.3 * torch.arange(7.0))
    torch.testing.assert_close(samples.points[:, 0], -1.0 + 0.3 * torch.arange(7.0))


def test_output_shapes_and_eval_determinism():
    model = _model()
    _randomise(model.coarse)
    out = model.get_outputs(_rays(), torch.ones(6, 3))
    num = out["sample_weights"].shape[1]
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "rgb": (6, 3),
        "depth": (6, 1),
        "opacity": (6, 1),
        "sample_weights": (6, num),
        "sample_rgb": (6, num, 3),
        "sample_s": (6, num),
        "sample_interval": (6, 1),
    }
    assert (out["opacity"] > 0).all() and (out["opacity"] <= 1).all()
    model.eval()
    a, b = (model.get_outputs(_rays(), torch.ones(6, 3)) for _ in range(2))
    assert set(a) == {"rgb", "depth", "opacity"} and torch.equal(a["rgb"], b["rgb"])


def _reference_render(model, rays, background):
    """A ray-by-ray transcription of the authors' forward pass (coarse field)."""
    field, cfg = model.coarse, model.config
    step = cfg.stepsize * field.voxel_size()
    interval = cfg.stepsize * field.voxel_size_ratio()
    thres = cfg.coarse_fast_color_thres
    clipped = rays.clipped_to_aabb(field.aabb)
    colors = []
    for r in range(len(rays)):
        near, far = float(clipped.near[r]), float(clipped.far[r])
        transmittance, rgb = 1.0, torch.zeros(3)
        for k in range(max(math.ceil((far - near) / step), 1)):
            p = rays.origins[r] + rays.directions[r] * (near + k * step)
            if not ((p >= BOX[0]).all() and (p <= BOX[1]).all()) or not field.mask_cache(p[None])[0]:
                continue
            raw = float(field.raw_density(p[None]))
            alpha = 1 - (1 + math.exp(raw + float(field.act_shift))) ** (-interval)
            if alpha <= thres:
                continue
            weight = transmittance * alpha
            transmittance *= 1 - alpha
            if weight > thres:
                rgb = rgb + weight * torch.sigmoid(field.k0(p[None])[0])
            if transmittance < 1e-3:
                break
        colors.append(rgb + transmittance * background[r])
    return torch.stack(colors)


def test_rendering_matches_a_per_ray_transcription_of_the_authors_forward():
    model = _model(coarse_fast_color_thres=0.02, coarse_alpha_init=0.1)  # drops samples on both criteria
    _randomise(model.coarse, scale=6.0)
    with torch.no_grad():
        model.coarse.density.grid += 2.0
        model.coarse.mask_cache.mask[:, :3] = False
    rays, background = _rays(12, seed=3), torch.rand(12, 3)
    with torch.no_grad():
        out = model.get_outputs(rays, background)
        expected = _reference_render(model, rays, background)
    torch.testing.assert_close(out["rgb"], expected, atol=1e-5, rtol=0)
    assert (out["opacity"] > 0.999).any() and (out["opacity"] < 0.99).any()  # some rays terminated early


def test_initial_alpha_per_step_follows_alpha_init():
    model = _model(coarse_fast_color_thres=0.0, coarse_alpha_init=1e-2)
    rays = _axis_rays([0.0])
    samples = march_box(rays, BOX, model.config.stepsize * model.coarse.voxel_size())
    count = samples.ray.numel()
    interval = model.config.stepsize * model.coarse.voxel_size_ratio()
    out = model.get_outputs(rays, torch.ones(1, 3))
    assert float(out["opacity"].detach()) == pytest.approx(1 - (1 - 1e-2) ** (count * interval), rel=1e-4)


def test_known_free_space_is_not_evaluated(monkeypatch):
    model = _model()
    _randomise(model.coarse)
    with torch.no_grad():
        model.coarse.mask_cache.mask[:5] = False  # free for x < 1/7 (nearest vertex index < 5)
    seen = []
    original = model.coarse.raw_density
    monkeypatch.setattr(
        model.coarse, "raw_density", lambda points: seen.append(points.detach().clone()) or original(points)
    )
    out = model.get_outputs(_axis_rays([-0.9, -0.5, 0.8]), torch.ones(3, 3))
    assert torch.cat(seen)[:, 0].min() > 1 / 7
    assert (out["opacity"][:2] == 0).all() and (out["rgb"][:2] == 1).all()


def test_stage_switch_builds_the_fine_grid_on_the_coarse_box():
    model = _model()
    box = _blob(model)
    with torch.no_grad():  # a second, one-vertex blob: the box spans empty space in between
        model.coarse.density.grid[0, 0, 7, 7, 7] = 20.0
    box[1] = 1.0
    coarse = model.coarse
    assert [model.on_train_step(s) for s in range(3)] == [False, False, False]
    expected_mask_source = mask_from_coarse  # the fine mask: dilated coarse alpha >= mask_cache_thres
    assert model.on_train_step(3) is True
    assert model.coarse is None and model.in_fine_stage
    fine_box = scaled_box(box, 1.05)
    torch.testing.assert_close(model.fine.aabb, fine_box)
    assert model.fine.resolution == resolution_for(fine_box, 16**3 // 4)
    assert torch.equal(model.fine.mask_cache.mask, expected_mask_source(coarse, model.fine.mask_cache.vertices(), 1e-3))
    assert 0 < model.fine.mask_cache.mask.float().mean() < 1
    assert model.fine.rgbnet is not None and set(model.get_param_groups()) == {"density", "k0", "rgbnet"}
    since_restart = lambda s: model.learning_rate_factor(s, lambda n: n)  # noqa: E731 (identity decay)
    assert since_restart(2) == 2 and since_restart(3) == 0


def test_progressive_scaling_doubles_voxels_and_restarts_the_rate():
    model = _model(pg_scale=(2, 3, 5), fine_num_voxels=24**3)
    _blob(model)
    changed = [model.on_train_step(s) for s in range(9)]
    # switch at 3; fine steps (from 1) 2, 3, 5 are trainer steps 4, 5, 7
    assert changed == [False, False, False, True, True, True, False, True, False]
    assert int(model.fine.num_voxels) == 24**3
    assert model.fine.resolution == resolution_for(model.fine.aabb, 24**3)
    assert float(model.fine.act_shift) == pytest.approx(math.log(1 / 0.99 - 1) - 3.0, rel=1e-6)
    steps = (0, 2, 3, 4, 5, 6, 7, 100)  # with an identity decay the factor counts steps since the restart
    assert [model.learning_rate_factor(s, lambda n: n) for s in steps] == [0, 2, 0, 0, 0, 1, 0, 93]


def test_progressive_scaling_resolutions():
    model = _model(pg_scale=(2, 3, 5), fine_num_voxels=24**3)
    _blob(model)
    sizes = []
    for s in range(9):
        model.on_train_step(s)
        if model.in_fine_stage:
            sizes.append(int(model.fine.num_voxels))
    assert sizes == [24**3 // 8] + [24**3 // 4, 24**3 // 2, 24**3 // 2, 24**3, 24**3]


def test_ray_filter_keeps_only_rays_that_cross_the_mask():
    model = _model()
    _blob(model)  # x in [-3/7, 1/7], y in [-1/7, 3/7], z in [1/7, 5/7]
    assert model.training_ray_filter(0) is None
    model.on_train_step(3)
    keep = model.training_ray_filter(3)
    assert model.training_ray_filter(4) is None
    hits = keep(_axis_rays([-0.2, 0.9, -0.9], z=0.4)).tolist()
    assert hits == [True, False, False]
    assert keep(_axis_rays([-0.2], z=-0.9)).tolist() == [False]


def test_loss_terms_follow_the_authors_definitions():
    model = _model(weight_distortion=0.5)
    _randomise(model.coarse)
    rays, target = _rays(8), torch.rand(8, 3)
    out = model.get_outputs(rays, torch.ones(8, 3))
    losses = model.get_loss_dict(out, target)
    assert set(losses) == {"rgb_mse", "entropy_last", "rgbper", "distortion"}
    last = (1 - out["opacity"]).clamp(1e-6, 1 - 1e-6)
    entropy = -(last * last.log() + (1 - last) * (1 - last).log()).mean()
    torch.testing.assert_close(losses["entropy_last"], 0.01 * entropy)
    per = ((out["sample_rgb"] - target[:, None]) ** 2).sum(-1) * out["sample_weights"]
    torch.testing.assert_close(losses["rgbper"], 0.1 * per.sum() / 8)
    model.on_train_step(3)
    out = model.get_outputs(rays, torch.ones(8, 3))
    fine_losses = model.get_loss_dict(out, target)
    last = (1 - out["opacity"]).clamp(1e-6, 1 - 1e-6)
    entropy = -(last * last.log() + (1 - last) * (1 - last).log()).mean()
    torch.testing.assert_close(fine_losses["entropy_last"], 0.001 * entropy)  # the fine stage's weights
    per = ((out["sample_rgb"] - target[:, None]) ** 2).sum(-1) * out["sample_weights"]
    torch.testing.assert_close(fine_losses["rgbper"], 0.01 * per.sum() / 8)


def _brute_distortion(w, s, interval):
    pairs = (w[:, :, None] * w[:, None, :] * (s[:, :, None] - s[:, None, :]).abs()).sum((1, 2))
    return (pairs + (interval * w**2).sum(-1) / 3).mean()


def test_distortion_loss_matches_the_quadratic_definition():
    g = torch.Generator().manual_seed(0)
    w = torch.rand(5, 17, generator=g).double()
    s = torch.sort(torch.rand(5, 17, generator=g).double(), dim=-1).values
    interval = torch.rand(5, 17, generator=g).double()
    torch.testing.assert_close(distortion_loss(w, s, interval), _brute_distortion(w, s, interval))
    w.requires_grad_()
    grad_fast = torch.autograd.grad(distortion_loss(w, s, 0.1), w)[0]
    grad_brute = torch.autograd.grad(_brute_distortion(w, s, 0.1), w)[0]
    torch.testing.assert_close(grad_fast, grad_brute)


def test_masked_adam_matches_the_authors_update_rules():
    torch.manual_seed(0)
    plain, sparse, scaled = (torch.nn.Parameter(torch.zeros(4)) for _ in range(3))
    scale = torch.tensor([1.0, 0.5, 0.25, 0.0])
    opt = MaskedAdam(
        [{"params": [plain]}, {"params": [sparse], "skip_zero_grad": True}, {"params": [scaled], "lr_scale": scale}],
        lr=0.1,
        betas=(0.9, 0.99),
    )
    grads = [torch.tensor([1.0, -2.0, 0.0, 3.0]), torch.tensor([0.5, 0.0, 0.0, -1.0])]
    for grad in grads:
        for p in (plain, sparse, scaled):
            p.grad = grad.clone()
        opt.step()
    # plain: Adam with eps outside the bias correction
    m, v, expected = torch.zeros(4), torch.zeros(4), torch.zeros(4)
    for t, grad in enumerate(grads, start=1):
        m = 0.9 * m + 0.1 * grad
        v = 0.99 * v + 0.01 * grad**2
        expected -= 0.1 * math.sqrt(1 - 0.99**t) / (1 - 0.9**t) * m / (v.sqrt() + 1e-8)
    torch.testing.assert_close(plain.data, expected)
    torch.testing.assert_close(scaled.data, expected * scale)
    # entry 1 was skipped at step 2 (its moment did not decay), entry 2 never moved
    assert sparse.data[2] == 0 and sparse.data[1] == plain.data[1] - (plain.data[1] - sparse.data[1])
    torch.testing.assert_close(opt.state[sparse]["exp_avg"][1], torch.tensor(-0.2))
    torch.testing.assert_close(sparse.data[[0, 3]], plain.data[[0, 3]])


def test_coarse_view_counts_scale_the_density_rate(tiny_scene):
    model = DVGO(
        DVGOConfig(**{**SMALL, "pervoxel_lr": True}), tiny_scene.aabb, tiny_scene.train.cameras, tiny_scene.near
    )
    optimizer = build_optimizer(model, OptimConfig())
    assert isinstance(optimizer, MaskedAdam)
    assert model.on_train_step(0) is True
    assert model.view_count.shape == (1, 1, 8, 8, 8) and float(model.view_count.max()) <= 4
    assert torch.equal(model.coarse.mask_cache.mask, model.view_count[0, 0] > 2)
    groups = {g["name"]: g for g in build_optimizer(model, OptimConfig()).param_groups}
    torch.testing.assert_close(groups["density"]["lr_scale"], model.view_count / model.view_count.max())
    assert groups["k0"]["lr_scale"] is None and not groups["density"]["skip_zero_grad"]
    assert model.on_train_step(1) is False
    model.on_train_step(3)
    groups = {g["name"]: g for g in build_optimizer(model, OptimConfig()).param_groups}
    assert groups["density"]["skip_zero_grad"] and groups["density"]["lr_scale"] is None
    assert not groups["rgbnet"]["skip_zero_grad"]


def test_state_dict_loads_into_a_fresh_model_across_switch_and_scaling():
    model = _model()
    _blob(model)
    for s in range(5):
        model.on_train_step(s)
    _randomise(model.fine, scale=1.0, seed=4)
    fresh = _model()
    fresh.load_state_dict(model.state_dict())
    assert fresh.in_fine_stage and fresh.coarse is None
    assert fresh.fine.resolution == model.fine.resolution
    assert torch.equal(fresh.fine.mask_cache.mask, model.fine.mask_cache.mask)
    model.eval()
    fresh.eval()
    torch.testing.assert_close(
        fresh.get_outputs(_rays(), torch.ones(6, 3))["rgb"],
        model.get_outputs(_rays(), torch.ones(6, 3))["rgb"],
        rtol=0,
        atol=0,
    )


def _config(tmp_path, tiny_config, **dvgo):
    return config_from_dict(
        {
            "output_dir": str(tmp_path / "out"),
            "optim": {"beta2": 0.99},
            "model": {"method": "dvgo", "dvgo": {**SMALL, **dvgo}},
        },
        base=tiny_config,
    )


def _solid_cube(split, half=0.5):
    """Make ``split`` show an opaque orange cube of half-side ``half``."""
    inner = torch.tensor([[-half] * 3, [half] * 3])
    hits = []
    for i in range(len(split)):
        origins, directions = split.cameras.image_rays(i)
        rays = RayBundle.with_bounds(origins, directions, 0.0, 10.0).clipped_to_aabb(inner)
        hits.append((rays.far > rays.near).float().view(split.cameras.height, split.cameras.width, 1))
    split.alpha = torch.stack(hits)
    split.rgb = torch.tensor([0.9, 0.4, 0.1]) * split.alpha


def test_tiny_training_run_decreases_the_loss(tiny_config, tiny_scene, tmp_path):
    _solid_cube(tiny_scene.train)
    # large alpha_init (and bbox_thres above it): the authors' 1e-6 needs hundreds of steps to show
    config = _config(
        tmp_path,
        tiny_config,
        coarse_steps=20,
        coarse_alpha_init=0.1,
        fine_alpha_init=0.1,
        bbox_thres=0.2,
        pg_scale=(5,),
    )
    config.trainer.train_background = "white"
    config.trainer.max_steps, config.trainer.batch_size = 40, 256
    trainer = Trainer(config, tmp_path / "run", scene=tiny_scene)
    losses = [float(trainer.train_step()["loss/rgb_mse"]) for _ in range(40)]
    assert trainer.model.in_fine_stage
    assert sum(losses[15:20]) < 0.5 * sum(losses[:5])  # coarse stage
    assert sum(losses[-5:]) < 0.6 * sum(losses[20:25])  # fine stage, from its fresh start


@pytest.mark.parametrize("until", [2, 3, 4])
def test_resume_across_the_stage_switch_and_scaling_equals_straight_training(tiny_config, tiny_scene, tmp_path, until):
    _solid_cube(tiny_scene.train)
    config = _config(
        tmp_path, tiny_config, coarse_alpha_init=0.1, pervoxel_lr=True, maskout_near_cam_vox=True, occupancy_every=2
    )
    straight = Trainer(config, tmp_path / "a", scene=tiny_scene)
    straight.train()
    first = Trainer(config, tmp_path / "b", scene=tiny_scene)
    first.train(until_step=until)
    second = Trainer(config, tmp_path / "b", scene=tiny_scene)
    second.resume()
    second.train()
    assert second.model.in_fine_stage and second.model.fine.resolution == straight.model.fine.resolution
    assert torch.equal(second.sampler.pool, straight.sampler.pool)
    expected, got = straight.model.state_dict(), second.model.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6)
    a, b = straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    for idx in a:
        torch.testing.assert_close(b[idx]["exp_avg_sq"], a[idx]["exp_avg_sq"], rtol=0, atol=1e-9)


def test_config_checks_dvgo_values(tiny_config):
    with pytest.raises(NerfplexError, match="pg_scale"):
        config_from_dict({"model": {"method": "dvgo", "dvgo": {"pg_scale": [3, 2]}}}, base=tiny_config)
    with pytest.raises(NerfplexError, match="fine_alpha_init"):
        config_from_dict({"model": {"method": "dvgo", "dvgo": {"fine_alpha_init": 1.0}}}, base=tiny_config)
    with pytest.raises(NerfplexError, match="rgbnet_depth"):
        config_from_dict({"model": {"method": "dvgo", "dvgo": {"rgbnet_depth": 1}}}, base=tiny_config)


# ----------------------------------------------------------------- the contracted (unbounded) variant
def test_contraction_keeps_the_unit_ball_and_squeezes_the_rest_into_the_shell():
    from nerfplex.render.contraction import contract

    points = torch.tensor([[0.3, -0.9, 0.5], [2.0, 0.0, 0.0], [0.0, -4.0, 4.0], [1e6, 1.0, 0.0]])
    out, inner = contract(points, 0.2, "inf")
    assert inner.tolist() == [True, False, False, False]
    torch.testing.assert_close(out[0], points[0])
    torch.testing.assert_close(out[1], torch.tensor([1.2 - 0.1, 0.0, 0.0]))  # |x| = 2 -> 1.2 - 0.2/2
    torch.testing.assert_close(out[2], torch.tensor([0.0, -1.15, 1.15]))  # inf-norm 4 -> 1.2 - 0.05
    assert float(out[3].abs().max()) == pytest.approx(1.2, abs=1e-5)
    out, inner = contract(torch.tensor([[3.0, 4.0, 0.0]]), 1.0, "l2")  # Mip-NeRF 360: (2 - 1/|x|) x/|x|
    torch.testing.assert_close(out[0], torch.tensor([0.6, 0.8, 0.0]) * (2 - 1 / 5))


def test_contracted_sampling_follows_the_authors_layout_and_skip_rule():
    from nerfplex.render.contraction import march_contracted, sample_distances, spaced_out

    t = sample_distances(0.2, 12, 0.5)
    count = int(2 / 2.4 * 12 / 0.5) + 1
    assert t.shape == (2 * count,) and float(t[0]) == pytest.approx(1 / count)
    assert float(t[count]) == pytest.approx(0.5 * (2 + 2 / (1 - (1 - 1 / 128) / count)))
    dist = torch.rand(3, 40, generator=torch.Generator().manual_seed(0))
    expected = torch.zeros(3, 40, dtype=torch.bool)
    for r in range(3):
        total = 0.0
        for i in range(40):
            total += float(dist[r, i])
            expected[r, i] = total > 0.9
            total = 0.0 if expected[r, i] else total
    assert torch.equal(spaced_out(dist, 0.9), expected)
    directions = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]])
    rays = RayBundle.with_bounds(torch.zeros(2, 3), directions, 0.0, 1.0)
    samples, t = march_contracted(rays, torch.zeros(3), 2.0, 0.2, "inf", 12, 0.5)
    assert (samples.points.abs() < 1.2).all()
    inner = t <= 1.0  # unit-cube interior along the first ray (x = t)
    assert torch.equal(samples.step[samples.ray == 0][: int(inner.sum())], torch.arange(int(inner.sum())))
    torch.testing.assert_close(samples.t[0], 2.0 * t)  # world distances: radius x normalised t


def test_contracted_model_renders_and_trains(tiny_config, tiny_scene, tmp_path):
    # The foreground cube holds the cameras (at distance 4), as in the unbounded scenes it is made for.
    tiny_scene.aabb = torch.tensor([[-4.5] * 3, [4.5] * 3])
    _solid_cube(tiny_scene.train, half=1.0)
    dvgo = {
        **SMALL,
        "coarse_steps": 0,
        "contracted": True,
        "fine_num_voxels": 20**3,
        "pg_scale": (),
        "weight_distortion": 0.01,
    }
    config = config_from_dict(
        {
            "output_dir": str(tmp_path / "out"),
            "optim": {"beta2": 0.99},
            "data": {"ray_bounds": "near_far"},
            "model": {"method": "dvgo", "dvgo": dvgo},
        },
        base=tiny_config,
    )
    config.trainer.train_background = "white"
    config.trainer.max_steps, config.trainer.batch_size = 30, 128
    trainer = Trainer(config, tmp_path / "run", scene=tiny_scene)
    model = trainer.model
    torch.testing.assert_close(model.fine.aabb, torch.tensor([[-1.2] * 3, [1.2] * 3]))
    assert model.radius == 4.5 and model.training_ray_filter(0) is None
    every_pixel = trainer.sampler.batch_from_ids(torch.arange(trainer.sampler.num_pixels))
    white = torch.ones(len(every_pixel.rays), 3)

    def error():
        with torch.no_grad():
            rgb = model.render(every_pixel.rays, white)["rgb"]
        return float(((rgb - every_pixel.target(white)) ** 2).mean())

    before = error()
    losses = [trainer.train_step() for _ in range(30)]
    assert {"rgb_mse", "entropy_last", "rgbper", "distortion"} <= {k.split("/")[1] for k in losses[0]}
    assert error() < 0.7 * before
    out = model.get_outputs(_rays(), torch.ones(6, 3))
    s = out["sample_s"]
    assert (s[:, 1:] >= s[:, :-1]).all() and (s < 1).all()


def test_contracted_config_checks(tiny_config):
    with pytest.raises(NerfplexError, match="coarse_steps"):
        config_from_dict(
            {"data": {"ray_bounds": "near_far"}, "model": {"method": "dvgo", "dvgo": {"contracted": True}}},
            base=tiny_config,
        )
    with pytest.raises(NerfplexError, match="ray_bounds"):
        config_from_dict(
            {"model": {"method": "dvgo", "dvgo": {"contracted": True, "coarse_steps": 0}}}, base=tiny_config
        )


def test_surface_is_one_voxel_alpha_zeroed_in_free_space():
    model = _model()
    blob = _blob(model)
    surface = model.surface(BOX)
    assert surface.kind == "density" and surface.level == 0.005
    inside, outside = blob.mean(dim=0, keepdim=True), torch.tensor([[-0.9, -0.9, -0.9]])
    with torch.no_grad():
        values = surface.values(torch.cat([inside, outside]))
        assert values[0] > 0.99 and values[1] < 1e-6
        model.coarse.mask_cache.replace(torch.zeros_like(model.coarse.mask_cache.mask))
        assert surface.values(inside) == 0  # known free space has no surface
    assert surface.color(inside).shape == (1, 3)


def test_frustum_box_holds_every_pixel_ray_between_near_and_far(tiny_scene):
    cameras = tiny_scene.train.cameras
    box = frustum_box(cameras, 1.5, 4.0)
    ends = []
    for i in range(len(cameras)):
        origins, directions = cameras.image_rays(i)
        unit = directions / directions.norm(dim=-1, keepdim=True)
        ends += [origins + 1.5 * unit, origins + 4.0 * unit]
    ends = torch.cat(ends)
    assert torch.allclose(box, torch.stack([ends.amin(0), ends.amax(0)]), atol=1e-5)


def test_the_coarse_stage_uses_the_camera_frustum_box_by_default(tiny_scene):
    config = DVGOConfig(**{**SMALL, "coarse_box": "frustum"})
    cameras = tiny_scene.train.cameras
    model = DVGO(config, tiny_scene.aabb, cameras, tiny_scene.near, tiny_scene.far)
    expected = frustum_box(cameras, tiny_scene.near, tiny_scene.far)
    assert torch.allclose(model.coarse.aabb, expected)
    assert (expected[1] - expected[0] > tiny_scene.aabb[1] - tiny_scene.aabb[0]).all()
    scene_box = DVGO(DVGOConfig(**SMALL), tiny_scene.aabb, cameras, tiny_scene.near, tiny_scene.far)
    assert torch.equal(scene_box.coarse.aabb, tiny_scene.aabb)
