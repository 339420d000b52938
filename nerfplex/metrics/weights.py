"""Pretrained weights of the learned metrics: where they are looked for, and the error when they are missing.

nerfplex never downloads weights (docs/evaluation.md): a metric whose package or weight file is missing
raises :class:`MetricUnavailable` when it is built, and evaluation reports it as skipped with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path


class MetricUnavailable(Exception):
    """A metric cannot be computed on this machine; the message says what is missing and how to get it."""


def default_weights_dir() -> Path:
    """Where pretrained weights are looked for by default: ``$TORCH_HOME``, else
    ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch`` (torch.hub's own rule)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache, "torch").expanduser()
