"""NeuS with the instant-NSR-style hash-grid SDF network (``model.neus.sdf_encoding: hash_grid``)."""

import math

import pytest
import torch

from nerfplex.config import config_from_dict
from nerfplex.data.ray_sampler import RayBatchSampler
from nerfplex.engine.trainer import Trainer
from nerfplex.fields.hash_encoding import HashGridConfig
from nerfplex.fields.hash_sdf_network import HashSDFConfig, HashSDFNetwork
from nerfplex.fields.neus_color import RenderingNetworkConfig
from nerfplex.fields.sdf_network import SDFNetwork, SDFNetworkConfig
from nerfplex.models.neus import NeuS, NeuSConfig

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])
GRID = HashGridConfig(n_levels=4, n_features_per_level=2, log2_hashmap_size=10, base_resolution=4, per_level_scale=2.0)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see tests/conftest.py


def _config(**kw):
    small = dict(
        sdf_network=SDFNetworkConfig(d_hidden=32, n_layers=4, skip_in=(2,), multires=2, d_out=9),
        rendering_network=RenderingNetworkConfig(d_feature=8, d_hidden=16, n_layers=2, multires_view=2),
        n_samples=16,
        n_importance=16,
        up_sample_steps=2,
        n_outside=0,
        warm_up_end=10,
        end_iter=100,
        anneal_end=20,
        sdf_encoding="hash_grid",
        hash_grid=HashSDFConfig(grid=GRID, d_hidden=32),
    )
    return NeuSConfig(**{**small, **kw})


def test_default_path_is_the_frequency_network_unchanged():
    assert NeuSConfig().sdf_encoding == "frequency"
    torch.manual_seed(0)
    default = NeuS(NeuSConfig(), BOX)
    torch.manual_seed(0)
    reference = SDFNetwork(SDFNetworkConfig())
    assert type(default.sdf_network) is SDFNetwork
    # Same random draws in the same order: the network is the one built before the switch existed.
    for (name, a), (_, b) in zip(default.sdf_network.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(a, b), name
    assert list(default.get_param_groups()) == ["fields"]
    assert default.get_learning_rates() == {"fields": 5e-4}
    assert len(default.get_param_groups()["fields"]) == len(list(default.parameters()))


def test_switch_builds_the_hash_grid_network_and_its_param_group():
    torch.manual_seed(0)
    model = NeuS(_config(), BOX)
    assert isinstance(model.sdf_network, HashSDFNetwork)
    groups = model.get_param_groups()
    assert set(groups) == {"fields", "sdf_grid"}
    assert groups["sdf_grid"] == [model.sdf_network.encoding.params]
    assert len(groups["fields"]) + 1 == len(list(model.parameters()))
    assert model.get_learning_rates() == {"fields": 5e-4, "sdf_grid": 1e-2}


def test_initial_sdf_is_the_sphere_in_world_units():
    """Through the model's frame: r · (|x_unit| - 0.5) with r = √3 the half-diagonal of BOX."""
    errors = []
    for seed in range(4):
        torch.manual_seed(seed)
        model = NeuS(_config(hash_grid=HashSDFConfig()), BOX)
        g = torch.Generator().manual_seed(seed)
        points = torch.nn.functional.normalize(torch.randn(256, 3, generator=g), dim=-1)
        points = points * math.sqrt(3) * (0.4 + 0.6 * torch.rand(256, 1, generator=g))
        with torch.no_grad():
            expected = points.norm(dim=-1) - 0.5 * math.sqrt(3)
            errors.append((model.sdf(points) - expected) / math.sqrt(3))
    assert torch.cat(errors).mean().abs() < 0.1


def test_a_few_training_steps_reduce_the_loss(tiny_scene):
    torch.manual_seed(0)
    model = NeuS(_config(), BOX)
    model.train()
    sampler = RayBatchSampler(tiny_scene.train, 32, tiny_scene.near, tiny_scene.far)
    batch = sampler.sample(torch.Generator().manual_seed(0))
    background = torch.ones(32, 3)
    target = batch.target(background)
    groups = model.get_param_groups()
    optimizer = torch.optim.Adam([{"params": groups["fields"], "lr": 5e-3}, {"params": groups["sdf_grid"], "lr": 1e-2}])
    generator = torch.Generator().manual_seed(1)
    history, eikonal = [], []
    for step in range(20):
        model.on_train_step(step)
        out = model.render(batch.rays, background, generator)
        losses = model.get_loss_dict(out, target)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        # Step 0: the first layer's grid columns are 0, so the table gets no gradient yet.
        table_grad = model.sdf_network.encoding.params.grad.abs().sum()
        assert (table_grad == 0) if step == 0 else (table_grad > 0)
        optimizer.step()
        history.append(float(total.detach()))
        eikonal.append(float(losses["eikonal"].detach()))
    assert all(math.isfinite(v) for v in history + eikonal)
    assert sum(history[-5:]) / 5 < 0.8 * sum(history[:5]) / 5


def test_trains_in_the_trainer_and_exports_a_surface(tiny_scene, tiny_config, tmp_path):
    config = config_from_dict(
        {
            "model": {
                "method": "neus",
                "neus": {
                    "sdf_encoding": "hash_grid",
                    "hash_grid": {
                        "grid": {"n_levels": 2, "log2_hashmap_size": 8, "base_resolution": 4, "per_level_scale": 2.0},
                        "d_hidden": 16,
                    },
                    "sdf_network": {"d_out": 9},
                    "rendering_network": {"d_feature": 8, "d_hidden": 16, "n_layers": 2},
                    "n_samples": 8,
                    "n_importance": 4,
                    "up_sample_steps": 2,
                    "n_outside": 0,
                },
            },
            "trainer": {"max_steps": 3, "eval_every": 0, "checkpoint_every": 3},
        },
        base=tiny_config,
    )
    trainer = Trainer(config, tmp_path / "run", scene=tiny_scene)
    metrics = trainer.train()
    assert metrics["method"] == "neus" and metrics["step"] == 3
    group_names = [group["name"] for group in trainer.optimizer.param_groups]
    assert group_names == ["fields", "sdf_grid"]
    surface = trainer.model.surface(BOX)
    with torch.no_grad():
        values = surface.values(torch.rand(64, 3) * 2 - 1)
        colors = surface.color(torch.rand(8, 3) * 2 - 1)
    assert values.shape == (64,) and torch.isfinite(values).all() and colors.shape == (8, 3)


def test_config_checks():
    from nerfplex.errors import NerfplexError

    with pytest.raises(NerfplexError, match=r"hash_grid.n_layers = 0 is invalid.*--model.neus.hash-grid.n-layers"):
        NeuS(_config(hash_grid=HashSDFConfig(grid=GRID, n_layers=0)), BOX)
    # The frequency MLP's skip check does not apply to the hash-grid network.
    NeuS(_config(sdf_network=SDFNetworkConfig(d_hidden=8, d_out=9)), BOX)
