"""Data-parallel training across processes launched by ``torchrun`` (docs/distributed.md).

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) every process builds the same model from
the same seed, draws the same global ray batch from the same index generator and keeps its slice
``[rank · B/W, (rank + 1) · B/W)``, so that the slices together are the one-process batch. After the
backward pass the gradients are averaged across processes with one ``all_reduce`` of a flat buffer;
with losses that are means over rays (MSE, and the methods' terms that average over rays or over the
whole grid) the averaged gradient is the one-process gradient of the global batch.

Why not ``DistributedDataParallel``: the models are driven through ``render`` / ``get_outputs``
rather than ``forward`` (DDP prepares its gradient hooks in ``forward``), TensoRF and DVGO replace
parameters with tensors of new shapes while training (upsampling, shrinking, the coarse -> fine
switch; DDP fixes its buckets at wrapping time), and DVGO's ``MaskedAdam`` reads which gradient
entries are exactly zero. One flat all-reduce after ``backward`` works for all of them, since every
process changes its parameters identically. The same buffer carries two flags (a non-finite loss,
a Ctrl-C) so that all processes stop at the same step instead of leaving the others waiting.

S3IM is computed by each process on its own slice: its virtual image mixes the rays of the batch
it is given, so it does not decompose into per-slice terms, and the result with S3IM on depends on
the number of processes by design (the authors' code also applies it per GPU batch).

Rank 0 alone writes checkpoints, TensorBoard events and metrics, and evaluates.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn

from nerfplex.errors import NerfplexError


@dataclass(frozen=True)
class DistributedContext:
    """This process's place: ``world_size`` processes, this one ``rank`` (``local_rank`` on its host)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def slice(self, batch_size: int) -> slice:
        """This process's rows of a global batch of ``batch_size``."""
        per_rank = batch_size // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> tuple[DistributedContext, torch.device]:
    """Join the process group when launched by torchrun (NCCL on CUDA, gloo on the CPU) and return
    this process's context and device (``cuda:LOCAL_RANK`` on CUDA). Single process: no change."""
    if not launched_by_torchrun():
        return DistributedContext(), device
    context = DistributedContext(
        int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    )
    if device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(shutdown, context)
    if dist.get_world_size() != context.world_size:
        raise NerfplexError(
            f"WORLD_SIZE is {context.world_size} but the process group has {dist.get_world_size()} processes."
        )
    return context, device


def check_batch_size(batch_size: int, context: DistributedContext) -> None:
    if context.enabled and batch_size % context.world_size:
        raise NerfplexError(
            f"trainer.batch_size {batch_size} is not divisible by the {context.world_size} "
            f"processes; choose a multiple of {context.world_size}."
        )


def slice_batch(batch, part: slice):
    """A ray batch (a dataclass of per-ray tensors / ``RayBundle`` / None) cut to rows ``part``."""
    return dataclasses.replace(
        batch,
        **{
            f.name: (None if getattr(batch, f.name) is None else getattr(batch, f.name)[part])
            for f in dataclasses.fields(batch)
        },
    )


def broadcast_object(value, context: DistributedContext):
    """Rank 0's ``value`` on every process (e.g. the run folder)."""
    if not context.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def average_gradients(
    model: nn.Module,
    context: DistributedContext,
    flags: Optional[list[bool]] = None,
) -> list[bool]:
    """Average every parameter's gradient across processes, in one all-reduce; ``flags`` are OR-ed
    across processes on the way and returned.

    A gradient missing on some processes counts as zeros there; one missing on every process stays
    None (so that Adam skips the parameter as in one process)."""
    flags = list(flags or [])
    if not context.enabled:
        return flags
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device if params else torch.device("cpu")
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params]
    present = torch.tensor([float(p.grad is not None) for p in params], device=device)
    buffer = torch.cat(grads + [present, torch.tensor([float(f) for f in flags], device=device)])
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
    start = sum(g.numel() for g in grads)
    counts = buffer[start : start + len(params)].tolist()
    start = 0
    for p, g, count in zip(params, grads, counts):
        chunk = buffer[start : start + g.numel()].view_as(p).to(p.dtype) / context.world_size
        start += g.numel()
        if count == 0:
            p.grad = None
        elif p.grad is None:
            p.grad = chunk.clone()
        else:
            p.grad.copy_(chunk)
    return [bool(v > 0) for v in buffer[start + len(params) :].tolist()]


def shutdown(context: DistributedContext) -> None:
    """Leave the process group (end of training)."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
