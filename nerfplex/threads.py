"""torch's CPU thread count: the one place nerfplex changes it temporarily."""

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
