"""S3IM's cost: the loss alone (forward + backward) and its overhead on a whole training step.

Usage::

    python benchmarks/bench_s3im.py [--batch-size 4096] [--repeats 20] [--steps 5]

At the authors' defaults (B = 4096 rays, kernel 4, stride 4, repeat 10, 64-row virtual patch):

* ``loss``: median seconds of S3IM forward + backward alone on ``[B, 3]`` inputs;
* ``step``: median seconds of a training step of the demo NeRF at batch ``B`` with S3IM off and on
  (λ = 1), and the relative overhead.

Writes ``benchmarks/results/s3im.json`` (on CUDA too when a GPU is present) and prints it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import cpu_times, machine_info, save_result, steal_fraction  # noqa: E402

from nerfplex.config import config_from_dict  # noqa: E402
from nerfplex.data.loading import load_scene  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402
from nerfplex.losses.s3im import s3im  # noqa: E402


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_loss(batch: int, repeats: int, device: str) -> dict:
    g = torch.Generator(device=device).manual_seed(0)
    target = torch.rand(batch, 3, device=device)
    times = []
    for i in range(repeats + 3):
        pred = torch.rand(batch, 3, device=device, requires_grad=True)
        _sync(device)
        start = time.perf_counter()
        s3im(pred, target, generator=g).backward()
        _sync(device)
        if i >= 3:
            times.append(time.perf_counter() - start)
    return {"median_seconds": statistics.median(times), "min_seconds": min(times), "repeats": repeats}


def time_steps(scene, batch: int, steps: int, device: str) -> dict:
    result = {}
    for weight in (0.0, 1.0):
        config = config_from_dict(
            {
                "loss": {"s3im": {"weight": weight}},
                "trainer": {"batch_size": batch, "device": device, "progress_bar": False},
            }
        )
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(config, Path(run_dir), scene=scene)
            trainer.train_step()
            times = []
            for _ in range(steps):
                _sync(device)
                start = time.perf_counter()
                trainer.train_step()
                _sync(device)
                times.append(time.perf_counter() - start)
        result[f"s3im_weight_{weight:g}"] = statistics.median(times)
    result["overhead_fraction"] = result["s3im_weight_1"] / result["s3im_weight_0"] - 1
    result["steps"] = steps
    result["model"] = "demo NeRF (4x128, 32 + 32 samples) on the procedural object scene"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "s3im.json")
    args = parser.parse_args()
    scene = load_scene(config_from_dict({}).data)
    before = cpu_times()
    result = {"machine": machine_info(), "batch_size": args.batch_size}
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        result[device] = {
            "loss": time_loss(args.batch_size, args.repeats, device),
            "step": time_steps(scene, args.batch_size, args.steps, device),
        }
    result["cpu_steal_fraction"] = steal_fraction(before, cpu_times())
    save_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
