"""Every backbone on lego under one protocol: train and render rays/s, peak memory, held-out PSNR and
the training time to target PSNRs.

The protocol: lego from ``../shared/data/lego`` downscaled to 200x200, each backbone's CPU preset of
``bench_lego_backbone.py`` (its own step budget and batch), the same 5 held-out views scored every
``eval_every`` steps (rendering is not counted as training time). Each backbone runs in its own
process, one after the other (peak RSS is per process; run nothing else meanwhile).

Usage::

    python benchmarks/bench_lego_suite.py [--only tensorf ngp] [--data PATH] [--collect-only]

Writes ``benchmarks/results/suite_<backbone>.json`` per run, then ``benchmarks/results/lego_suite.json``
and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
TARGETS = [20.0, 23.0, 25.0]
EVAL_VIEWS = 5

# backbone: (bench_lego_backbone preset, extra overrides, evaluate every this many steps)
SUITE: dict[str, tuple[str, list[str], int]] = {
    "nerf": ("nerf", ["data.downscale=2"], 250),
    "ngp": ("ngp", ["data.downscale=2", "trainer.max_steps=1200", "model.ngp.schedule_steps=1200"], 200),
    # DVGO's fine step at 8192 rays took 6.8 s on one core (its colour MLP on every visible sample;
    # docs/performance.md): half the batch and 300 + 300 steps took 568 s of training on two cores.
    "dvgo": (
        "dvgo",
        ["data.downscale=2", "trainer.batch_size=4096", "trainer.max_steps=600", "model.dvgo.coarse_steps=300"],
        100,
    ),
    "tensorf": ("tensorf", ["data.downscale=2"], 50),
    "neus": ("neus", ["data.downscale=2"], 250),
}


def run_one(name: str, data: Path, results: Path, extra: list[str]) -> None:
    preset, overrides, every = SUITE[name]
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "bench_lego_backbone.py"),
        preset,
        "--data",
        str(data),
        "--eval-every",
        str(every),
        "--eval-views",
        str(EVAL_VIEWS),
        "--targets",
        *map(str, TARGETS),
        "--out",
        str(results / f"suite_{name}.json"),
        "--set",
        *overrides,
        "trainer.progress_bar=false",
        *extra,
    ]
    print(f"== {name}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def summary_row(name: str, result: dict) -> dict:
    return {
        "backbone": name,
        "about": result["about"],
        "steps": result["steps"],
        "batch_size": result["batch_size"],
        "train_seconds": result["train_seconds"],
        "train_rays_per_second": result["rays_per_second"],
        "render_rays_per_second": result["render_rays_per_second"],
        "peak_rss_mib": result["peak_rss_mib"],
        "heldout_psnr": result["heldout_psnr"],
        "heldout_ssim": result["heldout_ssim"],
        "time_to_target_psnr": result["time_to_target_psnr"],
        "cpu_steal_fraction": result["cpu_steal_fraction"],
    }


def markdown(rows: list[dict]) -> str:
    def seconds(value):
        return "-" if value is None else f"{value:.0f} s"

    head = (
        "| backbone | steps x rays | train rays/s | render rays/s | peak RSS | PSNR / SSIM | "
        + " | ".join(f"to {t:g} dB" for t in TARGETS)
        + " |"
    )
    lines = [head, "|" + "---|" * (6 + len(TARGETS))]
    for r in rows:
        times = " | ".join(seconds(r["time_to_target_psnr"].get(f"{t:g}")) for t in TARGETS)
        lines.append(
            f"| {r['backbone']} | {r['steps']} x {r['batch_size']} | {r['train_rays_per_second']:,.0f} | "
            f"{r['render_rays_per_second']:,.0f} | {r['peak_rss_mib'] / 1024:.2f} GB | "
            f"{r['heldout_psnr']:.2f} dB / {r['heldout_ssim']:.3f} | {times} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        nargs="*",
        choices=sorted(SUITE),
        default=list(SUITE),
        help="run these backbones only (default: all, in the order of SUITE)",
    )
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data" / "lego", help="NeRF-synthetic lego folder"
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra overrides for every backbone (e.g. trainer.max_steps=4 for a smoke run)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON results")
    parser.add_argument(
        "--collect-only",
        action="store_true",
        help="do not train; rebuild lego_suite.json from the existing suite_*.json",
    )
    args = parser.parse_args()
    if not args.collect_only:
        if not (args.data / "transforms_train.json").is_file():
            print(f"error: no lego data at {args.data}; pass --data PATH/TO/lego.", file=sys.stderr)
            return 2
        for name in args.only:
            run_one(name, args.data, args.results, args.set)
    rows = [
        summary_row(name, json.loads((args.results / f"suite_{name}.json").read_text()))
        for name in SUITE
        if (args.results / f"suite_{name}.json").is_file()
    ]
    if not rows:
        print("error: no suite_*.json results yet; run without --collect-only first.", file=sys.stderr)
        return 1
    protocol = {
        "image_size": [200, 200],
        "eval_views": EVAL_VIEWS,
        "targets_db": TARGETS,
        "suite": {name: {"preset": p, "overrides": o, "eval_every": e} for name, (p, o, e) in SUITE.items()},
        "extra_overrides": args.set,
    }
    (args.results / "lego_suite.json").write_text(json.dumps({"protocol": protocol, "rows": rows}, indent=2) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
