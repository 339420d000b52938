"""Re-open a finished (or interrupted) run: its config, scene and the model of a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from nerfplex.config import ExperimentConfig, load_config
from nerfplex.data.loading import load_scene
from nerfplex.data.scene import SceneData
from nerfplex.engine.checkpoint import check_matches, latest_checkpoint, load_checkpoint, load_model_weights
from nerfplex.errors import NerfplexError
from nerfplex.models.base import Model
from nerfplex.models.registry import build_model


@dataclass
class LoadedRun:
    """A run folder's config, scene, model (eval mode, on the CPU) and the step it was saved at."""

    run_dir: Path
    config: ExperimentConfig
    scene: SceneData
    model: Model
    step: int
    checkpoint: Path


def load_run(config_path: Path, checkpoint: Optional[Path] = None) -> LoadedRun:
    """Load ``RUN/config.yaml`` and the newest checkpoint of RUN (or ``checkpoint``)."""
    config_path = Path(config_path)
    if config_path.is_dir():
        config_path = config_path / "config.yaml"
    if not config_path.is_file():
        raise NerfplexError(
            f"{config_path} does not exist. Pass the config.yaml of a run folder, e.g. "
            f"--load-config outputs/demo/20260101-120000/config.yaml."
        )
    run_dir = config_path.parent
    config = load_config(config_path)
    checkpoint = checkpoint or latest_checkpoint(run_dir)
    if checkpoint is None:
        raise NerfplexError(
            f"no checkpoint in {run_dir / 'checkpoints'}: the run saved none yet. Train longer (or resume it) first."
        )
    state = load_checkpoint(Path(checkpoint))
    fix = (
        f"Pass a checkpoint of this run (from {run_dir / 'checkpoints'}) or the config.yaml of the run "
        f"that wrote {checkpoint}."
    )
    check_matches(state.get("meta"), config, Path(checkpoint), fix)  # before the data is loaded
    scene = load_scene(config.data)
    torch.manual_seed(config.trainer.seed)
    model = build_model(config.model, scene)
    load_model_weights(model, state, Path(checkpoint), fix)
    model.eval()
    return LoadedRun(run_dir, config, scene, model, int(state["step"]), Path(checkpoint))
