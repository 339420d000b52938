"""torch's CPU execution settings: the thread count (the one place nerfplex changes it temporarily) and
the flushing of denormal floats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

import torch


@contextmanager
def torch_threads(num_threads: Optional[int]) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (None: leave it alone); restored on exit."""
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        if num_threads is not None:
            torch.set_num_threads(previous)


def flush_denormals() -> bool:
    """Treat denormal floats (float32 magnitudes under about 1.2e-38) as zero on the CPU (x86 FTZ / DAZ,
    ``torch.set_flush_denormal``); returns whether the CPU supports it. Arithmetic on denormals is many
    times slower on x86, and late in a NeuS training enough of them appear to make a step 1.47x slower
    (docs/performance.md); values that small carry nothing a neural field uses.

    torch's worker threads copy the setting when they are created, so it only reaches them when called
    before torch's first parallel operation in the process: ``nerfplex``'s CLI calls it before any
    command that imports torch runs; a script that drives nerfplex from Python should call it first."""
    return torch.set_flush_denormal(True)
