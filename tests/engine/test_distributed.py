"""Data-parallel training: 2 CPU processes (gloo) equal 1 process with the same global batch.

S3IM stays off here on purpose: each process computes S3IM on its own slice of the batch (its
virtual image mixes only the rays it is given), so the loss does not decompose into per-slice terms
and 2 processes differ from 1 by design with S3IM on (docs/distributed.md). MSE is a mean over rays,
so averaging the per-slice gradients gives the one-process gradient exactly (up to rounding).
Jitter and random backgrounds come from a per-process generator, so the comparison switches them
off (``perturb: false``, white background); with them on the runs agree in distribution only.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from nerfplex.config import config_from_dict
from nerfplex.engine.distributed import DistributedContext, slice_batch
from nerfplex.engine.trainer import Trainer


def _config(tiny_config):
    return config_from_dict(
        {
            "model": {"nerf": {"perturb": False}},
            "trainer": {
                "max_steps": 4,
                "eval_every": 0,
                "checkpoint_every": 4,
                "train_background": "white",
                "device": "cpu",
            },
        },
        base=tiny_config,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config, scene, run_dirs, out_path) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(world),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
        }
    )
    torch.set_num_threads(1)
    trainer = Trainer(config, run_dirs[rank], scene=scene)
    metrics = trainer.train()
    torch.save(
        {
            "params": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
            "run_dir": str(trainer.run_dir),
            "psnr": metrics["psnr"],
        },
        f"{out_path}.{rank}",
    )


def test_two_gloo_processes_equal_one_process(tiny_scene, tiny_config, tmp_path, one_thread):
    config = _config(tiny_config)
    single = Trainer(config, tmp_path / "single", scene=tiny_scene)
    single_metrics = single.train()

    run_dirs = [tmp_path / "rank0", tmp_path / "rank1"]
    out = tmp_path / "result"
    mp.spawn(_worker, args=(2, _free_port(), config, tiny_scene, run_dirs, str(out)), nprocs=2, join=True)
    results = [torch.load(f"{out}.{rank}") for rank in range(2)]

    for name, value in single.model.state_dict().items():
        for result in results:
            torch.testing.assert_close(result["params"][name], value, rtol=1e-4, atol=1e-6)
    # Rank 0's run folder is everyone's; only rank 0 wrote into it.
    assert all(r["run_dir"] == str(run_dirs[0]) for r in results)
    assert (run_dirs[0] / "metrics.json").is_file() and not run_dirs[1].exists()
    assert results[1]["psnr"] == results[0]["psnr"] == pytest.approx(single_metrics["psnr"], abs=1e-3)


def test_slices_partition_the_global_batch(tiny_scene):
    from nerfplex.data.ray_sampler import RayBatchSampler

    sampler = RayBatchSampler(tiny_scene.train, 8, tiny_scene.near, tiny_scene.far)
    batch = sampler.sample(torch.Generator().manual_seed(0))
    parts = [slice_batch(batch, DistributedContext(2, rank).slice(8)) for rank in range(2)]
    assert torch.equal(torch.cat([p.pixel_ids for p in parts]), batch.pixel_ids)
    assert torch.equal(torch.cat([p.rays.origins for p in parts]), batch.rays.origins)
    assert torch.equal(torch.cat([p.rgb for p in parts]), batch.rgb)
