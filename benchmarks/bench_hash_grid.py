"""Throughput of the pure-torch hash grid and of the instant-ngp model's training step, on the CPU or
a CUDA device, with and without mixed precision. JSON out.

Usage::

    python benchmarks/bench_hash_grid.py [--device cpu|cuda] [--points 65536] [--steps 50]
                                         [--out benchmarks/results/hash_grid_<device>.json]

Measures (each the median of ``--repeats`` timed runs after warm-up):

- the hash encoding (instant-ngp's NeRF grid: 16 levels x 2, 2^19 entries, 16 -> 2048) forward +
  backward over ``--points`` random points;
- the hash encoding in float32 vs under bfloat16 autocast (CUDA only; the table stays float32);
- ``--steps`` training steps of configs/ngp_demo.yaml's model on the built-in object scene (64x64,
  1024 rays), reporting steps/s and rays/s (the occupancy-grid update every 16 steps included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
from machine import machine_info, save_result  # noqa: E402

from nerfplex.ablation import apply_overrides  # noqa: E402
from nerfplex.config import load_config  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402
from nerfplex.fields.hash_encoding import HashEncoding, HashGridConfig  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device: torch.device, repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_encoding(device: torch.device, points: int, repeats: int, autocast: bool) -> dict:
    enc = HashEncoding(HashGridConfig()).to(device)
    x = torch.rand(points, 3, device=device)

    def run():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = enc(x)
        out.float().sum().backward()

    seconds = _time(run, device, repeats)
    return {
        "points": points,
        "seconds_fwd_bwd": seconds,
        "points_per_second": points / seconds,
        "autocast_bf16": autocast,
    }


def bench_training(device: torch.device, steps: int, mixed_precision: bool) -> dict:
    config = apply_overrides(
        load_config(REPO / "configs" / "ngp_demo.yaml"),
        [
            f"trainer.device={device.type}",
            "trainer.progress_bar=false",
            f"trainer.mixed_precision={str(mixed_precision).lower()}",
        ],
    )
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, Path(run_dir))
        for _ in range(16):  # warm-up, including the first grid updates
            trainer.train_step()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            values = trainer.train_step()
        _sync(device)
        seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "batch_size": config.trainer.batch_size,
        "seconds": seconds,
        "steps_per_second": steps / seconds,
        "rays_per_second": steps * config.trainer.batch_size / seconds,
        "mixed_precision": mixed_precision,
        "train_psnr_last": float(values["train/psnr"]),
        "backend": trainer.model.field.backend,
        "sampler": "nerfacc" if trainer.model.uses_nerfacc(device) else "torch",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--points", type=int, default=1 << 16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    result = {
        "machine": machine_info(),
        "device": str(device),
        "encoding": [bench_encoding(device, args.points, args.repeats, False)],
        "training": [bench_training(device, args.steps, False)],
    }
    if device.type == "cuda":
        result["encoding"].append(bench_encoding(device, args.points, args.repeats, True))
        result["encoding"].append(bench_encoding(device, args.points * 16, args.repeats, False))
        result["training"].append(bench_training(device, args.steps, True))
    save_result(args.out or REPO / "benchmarks" / "results" / f"hash_grid_{device.type}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
