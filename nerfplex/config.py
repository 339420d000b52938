"""The experiment config tree, and loading / saving it as YAML.

Each section's dataclass lives beside its component; this module only assembles them. Precedence:
built-in defaults < YAML file < command-line flags. The resolved config is saved as plain YAML with
``schema_version``; older versions migrate on loading (nerfplex/config_migration.py).

The method is chosen by name (``model.method``; ``nerfplex train METHOD``), and ``model`` holds only that
method's section (nerfplex/models/registry.py): importing this module loads no method's model code.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

from nerfplex.config_checks import run_checks
from nerfplex.config_io import dump_yaml, from_dict, load_yaml, to_dict
from nerfplex.config_migration import SCHEMA_VERSION, migrate
from nerfplex.data.loading import DataConfig
from nerfplex.engine.optim import OptimConfig
from nerfplex.engine.trainer_config import TrainerConfig
from nerfplex.errors import NerfplexError
from nerfplex.io import write_text_atomic
from nerfplex.losses.shared_losses import LossConfig
from nerfplex.models.registry import (
    ModelConfig,
    available_methods,
    method_config_class,
    model_config,
    model_config_class,
)

DEMO_METHOD = "tensorf"
"""The built-in demo's method."""

DEMO_SETTINGS: dict[str, dict] = {
    "tensorf": {
        "n_voxel_init": 64**3 + 4,
        "n_voxel_final": 128**3 + 4,
        "upsample_steps": [150, 200, 250, 325, 400],
        "alpha_mask_steps": [150, 300],
    },
    "nerf": {
        "mlp": {"num_layers": 4, "width": 128, "skip_layers": [2]},
        "num_coarse_samples": 32,
        "num_fine_samples": 32,
    },
}
"""Where the built-in defaults differ from a method's own (its authors'): the CPU demo, TensoRF (VM) with
64³ -> 128³ voxels and the authors' schedule compressed to 700 steps, and the CPU-sized vanilla NeRF of
configs/nerf_demo.yaml (the paper's layout, narrower and shallower)."""


def default_model(method: str) -> ModelConfig:
    """The ``model`` section a config choosing ``method`` starts from: the method's own defaults, with the
    CPU sizes of :data:`DEMO_SETTINGS` for the demo's methods."""
    settings = from_dict(method_config_class(method), DEMO_SETTINGS.get(method, {}), key=f"model.{method}")
    return model_config(method, settings)


def _demo_model() -> ModelConfig:
    return default_model(DEMO_METHOD)


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


@functools.cache
def experiment_config_class(method: str) -> type[ExperimentConfig]:
    """:class:`ExperimentConfig` with ``model`` typed as ``method``'s section, for the command line (so that
    ``nerfplex train METHOD --help`` lists that method's flags only). Parse into it, then
    :func:`as_experiment_config`."""
    section = model_config_class(method)
    return dataclasses.make_dataclass(
        "ExperimentConfig",
        [("model", section, field(default_factory=lambda: default_model(method)))],
        bases=(ExperimentConfig,),
        namespace={"__doc__": ExperimentConfig.__doc__, "__module__": __name__},
    )


def as_experiment_config(config: ExperimentConfig) -> ExperimentConfig:
    """A plain :class:`ExperimentConfig` with the same values (from :func:`experiment_config_class`)."""
    return ExperimentConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(ExperimentConfig)})


def with_method(config: ExperimentConfig, method: str) -> ExperimentConfig:
    """``config`` training ``method``: unchanged when it already does, else with ``default_model(method)``."""
    if config.model.method == method:
        return config
    return dataclasses.replace(config, model=default_model(method))


def config_from_dict(data: dict, base: ExperimentConfig | None = None, source: str = "") -> ExperimentConfig:
    """Apply a (possibly partial) mapping on top of ``base`` (default: the built-in defaults).

    Older schema versions migrate first. A mapping whose ``model.method`` differs from ``base``'s starts
    that method from :func:`default_model`; ``base``'s other sections stay."""
    base = base if base is not None else ExperimentConfig()
    try:
        data = migrate(data, base.model.method, source)
        model = data.get("model")
        method = model.get("method", base.model.method) if isinstance(model, dict) else base.model.method
        if not isinstance(method, str):
            raise NerfplexError(f"config model.method: expected a method name, got {method!r}.")
        base = with_method(base, method)
        _check_sections(model, method)
        return validate(from_dict(ExperimentConfig, data, base=base))
    except NerfplexError as err:
        raise NerfplexError(f"{source}: {err}" if source else str(err)) from None


def _check_sections(model: object, method: str) -> None:
    """A section of another method under ``model`` is a mistake worth its own message."""
    if not isinstance(model, dict):
        return
    other = next(
        (key for key in model if key not in ("method", method) and key.isidentifier() and key in available_methods()),
        None,
    )
    if other is not None:
        raise NerfplexError(
            f"config model.{other}: this config trains '{method}' (model.method), and a config "
            f"holds only its method's section. Remove model.{other}, or set model.method: "
            f"{other} to train that method."
        )


def load_config(path: Path, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Read a YAML config on top of ``base``. A file without ``schema_version`` was written for version 1
    (which did not require it) and migrates as such; that is a no-op for version-2 content."""
    data = load_yaml(path)
    return config_from_dict({"schema_version": 1, **data}, base, source=str(path))


def save_config(config: ExperimentConfig, path: Path) -> None:
    """Write the resolved config as plain YAML (the current ``schema_version``; only the chosen method's
    section)."""
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
            f"{s3im.kernel_size} window. Raise trainer.batch_size or lower loss.s3im.patch_height."
        )
    return config


_OWN_RATES = {
    "tensorf": "--model.tensorf.lr-grid and --model.tensorf.lr-network",
    "dvgo": "--model.dvgo.lrate-density, --model.dvgo.lrate-k0 and --model.dvgo.lrate-rgbnet",
    "neus": "--model.neus.learning-rate (and --model.neus.hash-grid.learning-rate)",
    "ngp": "--model.ngp.learning-rate",
}
"""Methods whose parameter groups all have their own initial rates, so ``optim.lr`` would be ignored."""
_OWN_SCHEDULES = {
    "neus": "--model.neus.warm-up-end / --model.neus.end-iter / --model.neus.learning-rate-alpha",
    "ngp": "--model.ngp.lr-warmup-steps / --model.ngp.schedule-steps / --model.ngp.lr-gamma",
}
"""Methods with their own learning-rate schedule, so ``optim.final_factor`` / ``optim.decay_steps`` would
be ignored."""


def _cross_checks(config: ExperimentConfig) -> list[tuple[str, bool, str]]:
    """Checks that involve more than one section, or the run folder's name."""
    name = config.experiment_name
    checks = [
        (
            "experiment_name",
            bool(name)
            and "/" not in name
            and "\\" not in name
            and name not in (".", "..")
            and not Path(name).is_absolute()
            and "\0" not in name,
            "a plain folder name (no '/', not '.' or '..'): runs go to OUTPUT_DIR/EXPERIMENT_NAME/",
        )
    ]
    method, default = config.model.method, OptimConfig()
    if method in _OWN_RATES:
        checks.append(
            (
                "optim.lr",
                config.optim.lr == default.lr,
                f"left at its default {default.lr:g}: model.method {method} sets its own rates "
                f"(use {_OWN_RATES[method]})",
            )
        )
    if method in _OWN_SCHEDULES:
        for key in ("final_factor", "decay_steps"):
            checks.append(
                (
                    f"optim.{key}",
                    getattr(config.optim, key) == getattr(default, key),
                    f"left at its default {getattr(default, key)!r}: model.method {method} has its own "
                    f"schedule (use {_OWN_SCHEDULES[method]})",
                )
            )
    if config.model.method == "dvgo" and config.model.dvgo.contracted:
        checks.append(
            (
                "data.ray_bounds",
                config.data.ray_bounds == "near_far",
                "near_far with model.dvgo.contracted (rays must reach the background)",
            )
        )
    return checks
