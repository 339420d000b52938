"""``nerfplex view RUN_FOLDER [--step N]``: the live viewer on a finished (or interrupted) run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import tyro

from nerfplex.errors import NerfplexError
from nerfplex.viewer.config import ViewerConfig


@dataclass
class ViewArgs:
    """Look at a trained run in a browser: renders from any camera (rgb, depth, opacity, normals), the
    training and held-out cameras, camera paths for `nerfplex render`. Any method, any checkpoint.
    Listens on 127.0.0.1 unless --viewer.host says otherwise; press Ctrl-C to stop."""

    run_dir: tyro.conf.Positional[Path]
    """The run folder (holding config.yaml and checkpoints/)."""
    step: Optional[int] = None
    """The checkpoint's step; default: the newest checkpoint."""
    viewer: ViewerConfig = field(default_factory=ViewerConfig)


def run(args: list[str]) -> int:
    from nerfplex.engine.checkpoint import checkpoint_path, list_checkpoints
    from nerfplex.run_loading import load_run
    from nerfplex.viewer.config import check_viewer_config
    from nerfplex.viewer.server import ViewedRun, Viewer

    parsed = tyro.cli(ViewArgs, args=args, prog="nerfplex view")
    check_viewer_config(parsed.viewer)
    checkpoint = None
    if parsed.step is not None:
        checkpoint = checkpoint_path(parsed.run_dir, parsed.step)
        if not checkpoint.is_file():
            steps = ", ".join(str(int(p.stem.split("-")[-1])) for p in list_checkpoints(parsed.run_dir))
            raise NerfplexError(
                f"{parsed.run_dir} has no checkpoint of step {parsed.step}; it has steps: "
                f"{steps or 'none'}. Pass one of them to --step, or leave --step out."
            )
    loaded = load_run(parsed.run_dir, checkpoint)
    viewer = Viewer(ViewedRun(loaded.model, loaded.scene, loaded.config, loaded.run_dir, loaded.step), parsed.viewer)
    print(f"viewing {loaded.run_dir} at step {loaded.step} ({loaded.checkpoint.name})")
    viewer.announce()
    print("press Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nviewer stopped")
    finally:
        viewer.stop()
    return 0
