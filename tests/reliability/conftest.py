"""The reliability suite's shared fixture: a tiny trained run (helpers live in reliability_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reliability_helpers import write_tiny_config

from nerfplex.cli.main import main


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run folder of the TINY config (checkpoints at every step)."""
    root = tmp_path_factory.mktemp("reliability-run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "--config", str(write_tiny_config(root))]) == 0
    finally:
        torch.set_num_threads(threads)
    (run,) = (root / "outputs" / "demo").iterdir()
    return run
