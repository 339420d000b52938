"""A tiny TensoRF run trained through ``nerfplex train``, shared by the eval / render / report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from nerfplex.cli.main import main


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished run folder: TensoRF (the demo's method) on the built-in scene at 32x32, 20 steps."""
    root = tmp_path_factory.mktemp("trained")
    config = {
        "output_dir": str(root / "outputs"),
        "data": {"resolution": 32, "num_train_views": 6, "num_test_views": 2},
        "model": {
            "tensorf": {
                "n_voxel_init": 12**3 + 4,
                "n_voxel_final": 16**3 + 4,
                "density_ranks": [2, 2, 2],
                "color_ranks": [4, 4, 4],
                "color_feature_dim": 8,
                "mlp_width": 16,
                "upsample_steps": [10],
                "alpha_mask_steps": [12],
            }
        },
        "trainer": {
            "max_steps": 20,
            "batch_size": 256,
            "eval_every": 10,
            "log_every": 5,
            "checkpoint_every": 10,
            "progress_bar": False,
        },
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--config", str(path)]) == 0
    finally:
        torch.set_num_threads(threads)
    (run,) = (root / "outputs" / "demo").iterdir()
    return run
