"""``nerfplex COMMAND ...``: dispatch to one module per command."""

from __future__ import annotations

import errno
import importlib
import sys
from pathlib import Path

from nerfplex.errors import NerfplexError
from nerfplex.io import os_error_message

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT); `nerfplex train` exits 143 after SIGTERM (docs/reliability.md)."""
_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)

COMMANDS = {
    "train": ("nerfplex.cli.train", "train a model (no arguments: the built-in demo)"),
    "ablate": ("nerfplex.cli.ablate", "train a config with and without S3IM (weights x seeds): table + plot"),
    "sweep": ("nerfplex.cli.sweep", "a grid of runs (axes x seeds; local or Ray), resumable: tables with 95% CIs"),
    "export-mesh": ("nerfplex.cli.export_mesh", "marching cubes on a trained run; metrics vs a ground-truth mesh"),
    "process-data": ("nerfplex.cli.process_data", "camera poses for your photos / video (pycolmap): a scene folder"),
    "make-scene": ("nerfplex.cli.make_scene", "write a built-in procedural scene as a Blender-layout dataset"),
    "eval": ("nerfplex.cli.eval", "score a trained run's test views: PSNR, SSIM, LPIPS, DreamSim; images"),
    "render": ("nerfplex.cli.render", "videos of a trained run along a camera path (rgb, depth, normals)"),
    "view": ("nerfplex.cli.view", "the live web viewer on a trained run (train --viewer: on a training run)"),
    "report": ("nerfplex.cli.report", "a run's metrics tables and training-curve plots (report.md + PNG)"),
}


def _usage() -> str:
    lines = ["usage: nerfplex COMMAND [options]   (nerfplex COMMAND --help for a command's options)", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}.\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[command][0])
        if "torch" in sys.modules:  # a command that computes: before torch's first parallel operation
            from nerfplex.threads import flush_denormals

            flush_denormals()
        return module.run(rest) or 0
    except NerfplexError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while starting or reporting (training itself checkpoints first)
        print("\ninterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as err:
        if err.errno not in _DISK_ERRORS:
            raise
        print(f"error: {os_error_message(err, Path(err.filename or '.'))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
