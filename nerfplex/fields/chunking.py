"""Evaluating a field over many points in slices.

Why on the CPU: activations of a few hundred MB are allocated with ``mmap`` by glibc and page-faulted
in on every layer; slices of a few MB are served from the reused heap instead. Measured on the 2-core
CI machine: the authors' lego NeRF step went from 12.6 s to 6.0-6.2 s with 4-16k-point slices
(docs/performance.md). Gradients flow through the slices as usual.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

CPU_CHUNK_POINTS = 8192
"""Default slice size on the CPU (points per call): in the 4-16k range measured fastest above."""


def chunk_size_for(points: Tensor, cpu_chunk_points: int) -> int:
    """The one CPU chunk-size rule: slices of ``cpu_chunk_points`` rows when ``points`` live on the CPU,
    one call (0) on other devices, where large activations cost no page faults."""
    return cpu_chunk_points if points.device.type == "cpu" else 0


def apply_in_chunks(fn: Callable[..., tuple[Tensor, ...]], *inputs: Tensor, chunk_size: int) -> tuple[Tensor, ...]:
    """``fn(*inputs)`` over slices of ``chunk_size`` rows of the inputs ``[P, ...]``, concatenated.

    ``chunk_size <= 0`` (or at least ``P``) makes a single call.
    """
    count = inputs[0].shape[0]
    if chunk_size <= 0 or count <= chunk_size:
        return fn(*inputs)
    pieces = [fn(*(x[start : start + chunk_size] for x in inputs)) for start in range(0, count, chunk_size)]
    return tuple(torch.cat(parts) for parts in zip(*pieces))
