"""``trainer.keep_freed_memory`` A/B: the first 56 steps of TensoRF on lego (the ``tensorf`` preset of
``bench_lego_backbone.py``: dense grid until the first alpha mask at step 53), each step timed.

Run each setting in its own process, alone on the machine (the setting is process-wide and peak RSS
is per process)::

    python benchmarks/bench_host_memory.py default
    python benchmarks/bench_host_memory.py keep

Results go to ``benchmarks/results/host_memory_<setting>.json``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_lego_backbone import PRESETS  # noqa: E402
from machine import machine_info, save_result  # noqa: E402

from nerfplex.ablation import apply_overrides  # noqa: E402
from nerfplex.config import load_config  # noqa: E402
from nerfplex.engine.trainer import Trainer  # noqa: E402

STEPS = 56


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setting", choices=["default", "keep"], help="glibc's defaults or keep freed memory")
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data" / "lego", help="NeRF-synthetic lego folder"
    )
    args = parser.parse_args()
    preset = PRESETS["tensorf"]
    keep = args.setting == "keep"
    overrides = [
        *preset["set"],
        f"data.path={args.data}",
        "trainer.eval_every=0",
        "trainer.progress_bar=false",
        f"trainer.keep_freed_memory={str(keep).lower()}",
    ]
    config = apply_overrides(load_config(REPO / preset["config"]), overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, Path(run_dir))
        times = []
        for _ in range(STEPS):
            start = time.perf_counter()
            trainer.train_step()
            times.append(time.perf_counter() - start)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "machine": machine_info(),
        "keep_freed_memory": keep,
        "overrides": overrides,
        "s_per_step_0_20": sum(times[:20]) / 20,
        "s_per_step_20_53": sum(times[20:53]) / 33,
        "s_per_step_53_56": sum(times[53:]) / 3,
        "total_s": sum(times),
        "peak_rss_gb": usage.ru_maxrss / 2**20,
        "system_cpu_s": usage.ru_stime,
        "user_cpu_s": usage.ru_utime,
        "minor_faults": usage.ru_minflt,
    }
    save_result(REPO / "benchmarks" / "results" / f"host_memory_{args.setting}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
