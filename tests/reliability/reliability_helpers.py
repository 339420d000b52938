"""Helpers of the reliability (fuzz) suite: the tiny config, the CLI in-process, and the one assertion every bad
input must satisfy (exit status 2, one ``error:`` message, no traceback, nothing of the user's touched)."""

from __future__ import annotations

from pathlib import Path

import yaml

from nerfplex.cli.main import main

TINY = {
    "data": {"resolution": 8, "num_train_views": 3, "num_test_views": 1},
    "model": {
        "method": "nerf",
        "nerf": {
            "mlp": {
                "num_layers": 2,
                "width": 16,
                "skip_layers": [0],
                "position_frequencies": 2,
                "direction_frequencies": 1,
            },
            "num_coarse_samples": 4,
            "num_fine_samples": 4,
        },
    },
    "trainer": {
        "max_steps": 3,
        "batch_size": 32,
        "eval_every": 0,
        "log_every": 1,
        "checkpoint_every": 1,
        "render_chunk": 64,
        "progress_bar": False,
    },
}
"""A config that trains in well under a second: a 2x16 NeRF on the built-in scene at 8x8 pixels."""


def write_tiny_config(folder: Path, **sections) -> Path:
    """TINY (sections replaced by ``sections``) as a YAML file in ``folder``, writing runs under it."""
    config = {**TINY, **sections, "output_dir": str(folder / "outputs")}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """``nerfplex ARGV`` in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # tyro's own parse errors
        code = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    """Exit status 2, a single ``error:`` message without a traceback that names every needle."""
    assert code == 2, f"exit status {code}, stderr:\n{err}"
    assert "Traceback" not in err, err
    assert "error" in err.lower(), err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content (to show that nothing was lost or changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
