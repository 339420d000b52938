"""Time loading a Blender / NeRF-synthetic dataset (lego) at several downscale factors.

Usage::

    python benchmarks/bench_blender_load.py [--data ../shared/data/lego] [--factors 1 2 4] [--repeats 3]

Each factor runs in a fresh process, so its peak RSS (``resource.getrusage``, which only ever grows
within a process) is its own. Reported per factor: the first load (file cache as found) and the best
of ``--repeats`` loads, image counts and sizes, the process's RSS before loading (interpreter + torch)
and its peak. Results are printed and written to ``benchmarks/results/blender_load.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "lego"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "blender_load.json"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _measure(data: str, factor: int, repeats: int) -> dict:
    """Runs in a child process: load ``repeats`` times, report times and memory."""
    sys.path.insert(0, str(REPO))
    import torch

    from nerfplex.data.blender import load_blender

    torch.set_num_threads(os.cpu_count() or 1)
    baseline = _peak_rss_mib()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        scene = load_blender(Path(data), downscale=factor)
        times.append(time.perf_counter() - start)
        peak = _peak_rss_mib()
        nbytes = sum(
            t.numel() * t.element_size() for s in (scene.train, scene.test) for t in (s.rgb, s.alpha) if t is not None
        )
        summary = {
            "downscale": factor,
            "train_images": len(scene.train),
            "test_images": len(scene.test),
            "width": scene.train.cameras.width,
            "height": scene.train.cameras.height,
            "has_alpha": scene.train.alpha is not None,
            "tensor_mib": round(nbytes / 2**20, 1),
        }
        del scene
    summary.update(
        {
            "first_load_s": round(times[0], 3),
            "best_load_s": round(min(times), 3),
            "load_s": [round(t, 3) for t in times],
            "rss_before_load_mib": round(baseline, 1),
            "peak_rss_mib": round(peak, 1),
        }
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"dataset folder (default: {DEFAULT_DATA})")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        print(
            f"error: dataset folder {args.data} not found. Pass --data PATH to a NeRF-synthetic scene "
            f"(e.g. lego, with transforms_train.json); the default is ../shared/data/lego relative to "
            f"the repository root.",
            file=sys.stderr,
        )
        return 2

    ctx = mp.get_context("spawn")
    results = []
    for factor in args.factors:
        with ctx.Pool(1) as pool:
            try:
                result = pool.apply(_measure, (str(args.data), factor, args.repeats))
            except Exception as exc:  # NerfplexError from the loader: print it without a traceback
                print(f"error: loading {args.data} at downscale {factor} failed: {exc}", file=sys.stderr)
                return 2
        results.append(result)
        print(
            f"downscale {factor}: {result['train_images']} train + {result['test_images']} test images "
            f"at {result['width']}x{result['height']}, first load {result['first_load_s']:.3f} s, "
            f"best {result['best_load_s']:.3f} s, peak RSS {result['peak_rss_mib']:.0f} MiB "
            f"(before loading {result['rss_before_load_mib']:.0f} MiB)"
        )

    report = {
        "data": str(args.data.resolve()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
