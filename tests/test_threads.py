"""torch's thread count is set for a block and always restored."""

from __future__ import annotations

import pytest
import torch

from nerfplex.threads import torch_threads


def test_sets_and_restores_even_after_an_error():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_none_leaves_the_count_alone():
    before = torch.get_num_threads()
    with torch_threads(None):
        assert torch.get_num_threads() == before


def _run(code: str) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_flushed_denormals_are_zero_in_torchs_worker_threads_too():
    """Set before torch's first parallel operation, the setting reaches the worker threads: a denormal
    operand counts as zero in an operation big enough to be split across threads."""
    code = (
        "import sys, torch\n"
        "from nerfplex.threads import flush_denormals\n"
        "if sys.argv[-1] == 'flush': flush_denormals()\n"
        "torch.set_num_threads(2)\n"
        "x = torch.full((1 << 20,), 1e-39)\n"
        "print(int(((x * 1.0) != 0).sum()))\n"
    )
    flushed = _run(code.replace("sys.argv[-1] == 'flush'", "True"))
    kept = _run(code.replace("sys.argv[-1] == 'flush'", "False"))
    assert (flushed, kept) == ("0", str(1 << 20))


def test_the_cli_flushes_denormals_before_a_command_that_computes():
    code = (
        "from nerfplex.cli.main import main\n"
        "try:\n"
        "    main(['train', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import torch\n"
        "print('denormals left:', int(((torch.full((1 << 20,), 1e-39) * 1.0) != 0).sum()))\n"
    )
    assert _run(code).splitlines()[-1] == "denormals left: 0"
