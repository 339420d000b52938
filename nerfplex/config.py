"""The experiment config tree, and loading / saving it as YAML.

Each section's dataclass lives beside its component; this module only assembles them. Precedence:
built-in defaults < YAML file < command-line flags. The resolved config is saved as plain YAML with
``schema_version``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nerfplex.config_checks import run_checks
from nerfplex.config_io import dump_yaml, from_dict, load_yaml, to_dict
from nerfplex.io import write_text_atomic
from nerfplex.data.loading import DataConfig
from nerfplex.engine.optim import OptimConfig
from nerfplex.engine.trainer_config import TrainerConfig
from nerfplex.errors import NerfplexError
from nerfplex.fields.nerf_mlp import NeRFMLPConfig
from nerfplex.losses.shared_losses import LossConfig
from nerfplex.models.registry import ModelConfig
from nerfplex.models.tensorf import TensoRFConfig
from nerfplex.models.vanilla_nerf import VanillaNeRFConfig

SCHEMA_VERSION = 1


def _demo_model() -> ModelConfig:
    """The CPU demo: TensoRF (VM) with 64³ -> 128³ voxels and the authors' schedule compressed to 700
    steps. The ``nerf`` section holds the CPU-sized vanilla NeRF of configs/nerf_demo.yaml (the
    paper's layout, narrower and shallower)."""
    mlp = NeRFMLPConfig(num_layers=4, width=128, skip_layers=(2,))
    tensorf = TensoRFConfig(n_voxel_init=64**3 + 4, n_voxel_final=128**3 + 4,
                            upsample_steps=(150, 200, 250, 325, 400), alpha_mask_steps=(150, 300))
    return ModelConfig(method="tensorf", tensorf=tensorf,
                       nerf=VanillaNeRFConfig(mlp=mlp, num_coarse_samples=32, num_fine_samples=32))


def _demo_optim() -> OptimConfig:
    """Adam betas (0.9, 0.99) as the TensoRF authors; per-group rates come from the model."""
    return OptimConfig(beta2=0.99)


def _demo_trainer() -> TrainerConfig:
    """1024 rays x 700 steps, one evaluation midway and one at the end."""
    return TrainerConfig(max_steps=700, batch_size=1024, eval_every=350, checkpoint_every=350)


@dataclass
class ExperimentConfig:
    """A training run. The defaults are the built-in demo (configs/demo.yaml)."""

    experiment_name: str = "demo"
    """Name of the run folder's parent: runs go to OUTPUT_DIR/EXPERIMENT_NAME/TIMESTAMP."""
    output_dir: Path = Path("outputs")
    """Folder that holds the experiments' run folders."""
    data: DataConfig = field(default_factory=DataConfig)
    """The scene."""
    model: ModelConfig = field(default_factory=_demo_model)
    """The method and its settings."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Losses added for every method (S3IM)."""
    optim: OptimConfig = field(default_factory=_demo_optim)
    """Optimiser and learning-rate schedule."""
    trainer: TrainerConfig = field(default_factory=_demo_trainer)
    """The training loop."""


def config_from_dict(data: dict, base: ExperimentConfig | None = None, source: str = "") -> ExperimentConfig:
    """Apply a (possibly partial) mapping on top of ``base`` (default: the built-in defaults)."""
    data = dict(data)
    version = data.pop("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise NerfplexError(f"config {source} has schema_version {version}; this nerfplex reads "
                            f"{SCHEMA_VERSION}. Re-create it from configs/demo.yaml.")
    try:
        return validate(from_dict(ExperimentConfig, data, base=base))
    except NerfplexError as err:
        raise NerfplexError(f"{source}: {err}" if source else str(err)) from None


def load_config(path: Path, base: ExperimentConfig | None = None) -> ExperimentConfig:
    return config_from_dict(load_yaml(path), base, source=str(path))


def save_config(config: ExperimentConfig, path: Path) -> None:
    write_text_atomic(path, dump_yaml({"schema_version": SCHEMA_VERSION, **to_dict(config)}))


def validate(config: ExperimentConfig) -> ExperimentConfig:
    """Value checks that types alone cannot express: every section's own ``checks()`` (beside the fields
    they check; nerfplex/config_checks.py), non-finite floats anywhere, and the checks across sections."""
    run_checks(config, extra=_cross_checks(config))
    s3im = config.loss.s3im
    width = config.trainer.batch_size * s3im.repeat // s3im.patch_height
    if s3im.weight > 0 and min(width, s3im.patch_height) + 2 * ((s3im.kernel_size - 1) // 2) < s3im.kernel_size:
        raise NerfplexError(
            f"config loss.s3im: trainer.batch_size {config.trainer.batch_size} x repeat {s3im.repeat} "
            f"makes a {s3im.patch_height}x{width} virtual image, smaller than the {s3im.kernel_size}x"
            f"{s3im.kernel_size} window. Raise trainer.batch_size or lower loss.s3im.patch_height.")
    return config


_OWN_RATES = {
    "tensorf": "--model.tensorf.lr-grid and --model.tensorf.lr-network",
    "dvgo": "--model.dvgo.lrate-density, --model.dvgo.lrate-k0 and --model.dvgo.lrate-rgbnet",
    "neus": "--model.neus.learning-rate (and --model.neus.hash-grid.learning-rate)",
    "ngp": "--model.ngp.learning-rate",
}
"""Methods whose parameter groups all have their own initial rates, so ``optim.lr`` would be ignored."""
_OWN_SCHEDULES = {"neus": "--model.neus.warm-up-end / --model.neus.end-iter / --model.neus.learning-rate-alpha",
                  "ngp": "--model.ngp.lr-warmup-steps / --model.ngp.schedule-steps / --model.ngp.lr-gamma"}
"""Methods with their own learning-rate schedule, so ``optim.final_factor`` / ``optim.decay_steps`` would
be ignored."""


def _cross_checks(config: ExperimentConfig) -> list[tuple[str, bool, str]]:
    """Checks that involve more than one section, or the run folder's name."""
    name = config.experiment_name
    checks = [("experiment_name", bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")
               and not Path(name).is_absolute() and "\0" not in name,
               "a plain folder name (no '/', not '.' or '..'): runs go to OUTPUT_DIR/EXPERIMENT_NAME/")]
    method, default = config.model.method, OptimConfig()
    if method in _OWN_RATES:
        checks.append(("optim.lr", config.optim.lr == default.lr,
                       f"left at its default {default.lr:g}: model.method {method} sets its own rates "
                       f"(use {_OWN_RATES[method]})"))
    if method in _OWN_SCHEDULES:
        for key in ("final_factor", "decay_steps"):
            checks.append((f"optim.{key}", getattr(config.optim, key) == getattr(default, key),
                           f"left at its default {getattr(default, key)!r}: model.method {method} has its own "
                           f"schedule (use {_OWN_SCHEDULES[method]})"))
    if config.model.method == "dvgo" and config.model.dvgo.contracted:
        checks.append(("data.ray_bounds", config.data.ray_bounds == "near_far",
                       "near_far with model.dvgo.contracted (rays must reach the background)"))
    return checks
