"""What a benchmark records about the machine: platform, threads, and CPU time stolen by the host;
and the CPU settings the ``nerfplex`` CLI makes, made here too (importing this module flushes denormal
floats, before any torch work), so that a benchmark times what a user's command does.

On shared virtual machines the hypervisor can take a large share of the CPU ("steal"); figures
measured under heavy steal are slower than the hardware, so every benchmark records it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from nerfplex.threads import flush_denormals

FLUSH_DENORMALS = flush_denormals()


def cpu_times() -> list[int]:
    """Aggregate jiffies from /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal, ...)."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return []
    return [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]


def steal_fraction(before: list[int], after: list[int]) -> float | None:
    """Share of all CPU time between two :func:`cpu_times` readings that the host stole."""
    if len(before) < 8 or len(after) < 8:
        return None
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta[:8])
    return delta[7] / total if total else None


def machine_info() -> dict:
    import torch

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "flush_denormals": FLUSH_DENORMALS,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def save_result(path: Path, result: dict) -> None:
    """Write ``result`` as JSON to ``path`` and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
