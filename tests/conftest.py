"""Shared fixtures: tiny scenes and configs that train in a fraction of a second."""

from __future__ import annotations

import pytest
import torch

from nerfplex.cameras import Cameras, look_at
from nerfplex.config import ExperimentConfig, config_from_dict
from nerfplex.data.scene import SceneData, SceneSplit


def _split(num: int, size: int, seed: int) -> SceneSplit:
    g = torch.Generator().manual_seed(seed)
    eye = torch.randn(num, 3, generator=g)
    eye = 4.0 * eye / eye.norm(dim=-1, keepdim=True)
    c2w = look_at(eye, torch.zeros(num, 3), torch.tensor([0.0, 0.0, 1.0]))
    focal = torch.full((num,), 1.2 * size)
    centre = torch.full((num,), size / 2)
    cameras = Cameras(c2w, focal, focal, centre, centre, size, size)
    alpha = torch.rand(num, size, size, 1, generator=g)
    rgb = torch.rand(num, size, size, 3, generator=g) * alpha
    return SceneSplit(rgb, alpha, cameras, [f"r_{i}" for i in range(num)])


@pytest.fixture
def tiny_scene() -> SceneData:
    """Random RGBA images seen from a sphere of cameras: enough to exercise training mechanics."""
    return SceneData(_split(4, 8, 0), _split(2, 8, 1), 2.0, 6.0, torch.tensor([[-1.0] * 3, [1.0] * 3]), name="tiny")


@pytest.fixture
def tiny_config(tmp_path) -> ExperimentConfig:
    """A config that trains a 2x16 NeRF on 64-ray batches, writing under ``tmp_path``."""
    return config_from_dict(
        {
            "output_dir": str(tmp_path / "outputs"),
            "model": {
                "method": "nerf",
                "nerf": {
                    "mlp": {
                        "num_layers": 2,
                        "width": 16,
                        "skip_layers": [0],
                        "position_frequencies": 3,
                        "direction_frequencies": 2,
                    },
                    "num_coarse_samples": 8,
                    "num_fine_samples": 8,
                },
            },
            "trainer": {
                "max_steps": 8,
                "batch_size": 64,
                "eval_every": 4,
                "log_every": 2,
                "checkpoint_every": 4,
                "render_chunk": 32,
                "progress_bar": False,
                "train_background": "random",
            },
        }
    )


@pytest.fixture
def one_thread():
    """Tiny networks: one torch thread avoids OpenMP spin-waits on a busy 2-core machine (measured: a
    128-point forward of NeuS's default SDF network took 4 ms on 1 thread, 250 ms on 2)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
