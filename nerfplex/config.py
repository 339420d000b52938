"""The experiment config tree, and loading / saving it as YAML.

Each section's dataclass lives beside its component; this module only assembles them. Precedence:
built-in defaults < YAML file < command-line flags. The resolved config is saved as plain YAML with
``schema_version``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nerfplex.config_io import dump_yaml, from_dict, load_yaml, to_dict
from nerfplex.io import write_text_atomic
from nerfplex.data.loading import DataConfig
from nerfplex.engine.optim import OptimConfig
from nerfplex.engine.trainer_config import TrainerConfig
from nerfplex.errors import NerfplexError
from nerfplex.fields.nerf_mlp import NeRFMLPConfig
from nerfplex.losses.shared_losses import LossConfig
from nerfplex.models.registry import ModelConfig
from nerfplex.models.neus import check_neus_config
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
    """Value checks that types alone cannot express."""
    checks = [
        ("trainer.max_steps", config.trainer.max_steps > 0, "a positive integer"),
        ("trainer.batch_size", config.trainer.batch_size > 0, "a positive integer"),
        ("trainer.log_every", config.trainer.log_every > 0, "a positive integer"),
        ("trainer.checkpoint_every", config.trainer.checkpoint_every > 0, "a positive integer"),
        ("trainer.eval_every", config.trainer.eval_every >= 0, "0 or a positive integer"),
        ("trainer.keep_checkpoints", config.trainer.keep_checkpoints > 0, "a positive integer"),
        ("trainer.render_chunk", config.trainer.render_chunk > 0, "a positive integer"),
        ("optim.lr", config.optim.lr > 0, "a positive number"),
        ("optim.final_factor", config.optim.final_factor > 0, "a positive number"),
        ("data.resolution", config.data.resolution > 0, "a positive integer"),
        ("data.num_train_views", config.data.num_train_views > 0, "a positive integer"),
        ("data.num_test_views", config.data.num_test_views > 0, "a positive integer"),
        ("data.downscale", config.data.downscale > 0, "a positive integer"),
        ("data.test_every", config.data.test_every is None or config.data.test_every > 1,
         "null (the format's default) or an integer of at least 2"),
        ("data.box_scale", config.data.box_scale > 0, "a positive number"),
        ("data.train_fraction", 0 < config.data.train_fraction <= 1, "in (0, 1]"),
        ("data.train_noise_std", config.data.train_noise_std >= 0, "0 or positive"),
        ("data.train_blur_sigma", config.data.train_blur_sigma >= 0, "0 or positive"),
        ("loss.s3im.weight", config.loss.s3im.weight >= 0, "0 (off) or positive"),
        ("loss.s3im.depth_weight", config.loss.s3im.depth_weight >= 0, "0 (off) or positive"),
        ("loss.s3im.kernel_size", config.loss.s3im.kernel_size > 0, "a positive integer"),
        ("loss.s3im.stride", config.loss.s3im.stride > 0, "a positive integer"),
        ("loss.s3im.repeat", config.loss.s3im.repeat > 0, "a positive integer"),
        ("loss.s3im.patch_height", config.loss.s3im.patch_height > 0, "a positive integer"),
        ("model.nerf.num_coarse_samples", config.model.nerf.num_coarse_samples > 0, "a positive integer"),
        ("model.nerf.num_fine_samples", config.model.nerf.num_fine_samples >= 0, "0 or more"),
        ("model.nerf.cpu_chunk_points", config.model.nerf.cpu_chunk_points >= 0, "0 (off) or more"),
        ("model.nerf.mlp.num_layers", config.model.nerf.mlp.num_layers > 0, "a positive integer"),
        ("model.nerf.mlp.width", config.model.nerf.mlp.width > 1, "an integer of at least 2"),
        *_tensorf_checks(config),
        *_dvgo_checks(config),
        *_neus_checks(config),
        *_ngp_checks(config),
    ]
    for key, ok, expected in checks:
        if not ok:
            value = _get(config, key)
            raise NerfplexError(f"config {key} = {value!r} is invalid: it must be {expected}.")
    s3im = config.loss.s3im
    width = config.trainer.batch_size * s3im.repeat // s3im.patch_height
    if s3im.weight > 0 and min(width, s3im.patch_height) + 2 * ((s3im.kernel_size - 1) // 2) < s3im.kernel_size:
        raise NerfplexError(
            f"config loss.s3im: trainer.batch_size {config.trainer.batch_size} x repeat {s3im.repeat} "
            f"makes a {s3im.patch_height}x{width} virtual image, smaller than the {s3im.kernel_size}x"
            f"{s3im.kernel_size} window. Raise trainer.batch_size or lower loss.s3im.patch_height.")
    if config.model.method == "neus":
        check_neus_config(config.model.neus)  # structural: network sizes that fit together
    return config


def _tensorf_checks(config: ExperimentConfig) -> list[tuple[str, bool, str]]:
    tf = config.model.tensorf
    positive = ("cp_density_rank", "cp_color_rank", "color_feature_dim", "n_voxel_init",
                "n_voxel_final", "step_ratio", "distance_scale", "mlp_width", "lr_grid", "lr_network")
    non_negative = ("view_frequencies", "feature_frequencies", "alpha_mask_threshold",
                    "weight_threshold", "l1_weight_initial", "l1_weight_rest", "tv_weight_density",
                    "tv_weight_color")
    checks = [(f"model.tensorf.{k}", getattr(tf, k) > 0, "a positive number") for k in positive]
    checks += [(f"model.tensorf.{k}", getattr(tf, k) >= 0, "0 or positive") for k in non_negative]
    for key in ("density_ranks", "color_ranks"):
        checks.append((f"model.tensorf.{key}", min(getattr(tf, key)) > 0, "three positive integers"))
    for key in ("upsample_steps", "alpha_mask_steps"):
        steps = list(getattr(tf, key))
        checks.append((f"model.tensorf.{key}", steps == sorted(set(steps)) and min(steps, default=0) >= 0,
                       "strictly increasing steps, none negative"))
    return checks


def _dvgo_checks(config: ExperimentConfig) -> list[tuple[str, bool, str]]:
    dv = config.model.dvgo
    positive = ("coarse_num_voxels", "fine_num_voxels", "stepsize", "world_bound_scale", "rgbnet_width",
                "pervoxel_lr_downrate", "tv_every")
    non_negative = ("coarse_steps", "coarse_fast_color_thres", "fine_fast_color_thres", "bbox_thres",
                    "mask_cache_thres", "rgbnet_dim", "viewbase_pe", "occupancy_every", "weight_main",
                    "coarse_weight_entropy_last", "fine_weight_entropy_last", "coarse_weight_rgbper",
                    "fine_weight_rgbper", "weight_distortion", "weight_tv_density", "weight_tv_k0",
                    "lrate_density", "lrate_k0", "lrate_rgbnet")
    checks = [(f"model.dvgo.{k}", getattr(dv, k) > 0, "a positive number") for k in positive]
    checks += [(f"model.dvgo.{k}", getattr(dv, k) >= 0, "0 or positive") for k in non_negative]
    for key in ("coarse_alpha_init", "fine_alpha_init"):
        checks.append((f"model.dvgo.{key}", 0 < getattr(dv, key) < 1, "in (0, 1)"))
    checks.append(("model.dvgo.rgbnet_depth", dv.rgbnet_depth >= 2, "an integer of at least 2"))
    checks.append(("model.dvgo.rgbnet_dim", dv.rgbnet_direct or dv.rgbnet_dim == 0 or dv.rgbnet_dim > 3,
                   "0 or more than 3 when rgbnet_direct is false (3 channels are the diffuse colour)"))
    steps = list(dv.pg_scale)
    checks.append(("model.dvgo.pg_scale", steps == sorted(set(steps)) and min(steps, default=1) >= 1,
                   "strictly increasing fine-stage steps, counted from 1"))
    checks.append(("model.dvgo.bg_len", dv.bg_len > 0, "a positive number"))
    if dv.contracted:
        checks.append(("model.dvgo.coarse_steps", dv.coarse_steps == 0,
                       "0 with model.dvgo.contracted (the unbounded model has no coarse stage)"))
        checks.append(("data.ray_bounds", config.data.ray_bounds == "near_far",
                       "near_far with model.dvgo.contracted (rays must reach the background)"))
    return checks


def _neus_checks(config: ExperimentConfig) -> list[tuple[str, bool, str]]:
    ns = config.model.neus
    checks = [(f"model.neus.{k}", getattr(ns, k) > 0, "a positive number")
              for k in ("learning_rate", "end_iter")]
    checks += [(f"model.neus.{k}", getattr(ns, k) >= 0, "0 or positive")
               for k in ("n_importance", "n_outside", "up_sample_steps", "perturb", "warm_up_end",
                         "anneal_end", "igr_weight", "mask_weight", "cpu_chunk_points")]
    checks += [("model.neus.n_samples", ns.n_samples >= 2, "at least 2"),
               ("model.neus.learning_rate_alpha", 0 <= ns.learning_rate_alpha <= 1, "in [0, 1]"),
               ("model.neus.end_iter", ns.end_iter > ns.warm_up_end, "larger than warm_up_end"),
               ("model.neus.n_importance", ns.n_importance == 0 or (
                   ns.up_sample_steps > 0 and ns.n_importance % ns.up_sample_steps == 0),
                "0 or a multiple of up_sample_steps")]
    return checks


def _ngp_checks(config: ExperimentConfig) -> list[tuple[str, bool, str]]:
    ng = config.model.ngp
    positive = ("render_step_size", "occupancy_resolution", "occupancy_update_every", "learning_rate",
                "schedule_steps", "geo_feat_dim", "density_neurons", "density_hidden_layers",
                "color_neurons", "color_hidden_layers", "grid.n_levels", "grid.n_features_per_level",
                "grid.base_resolution")
    checks = [(f"model.ngp.{k}", _get(ng, k) > 0, "a positive number") for k in positive]
    checks += [(f"model.ngp.{k}", _get(ng, k) >= 0, "0 or positive")
               for k in ("occupancy_warmup_steps", "occupancy_threshold", "early_stop_eps",
                         "alpha_threshold", "lr_warmup_steps", "lr_gamma")]
    checks += [("model.ngp.occupancy_ema_decay", 0 <= ng.occupancy_ema_decay <= 1, "in [0, 1]"),
               ("model.ngp.sh_degree", 1 <= ng.sh_degree <= 4, "1, 2, 3 or 4"),
               ("model.ngp.grid.log2_hashmap_size", 3 <= ng.grid.log2_hashmap_size <= 30, "in [3, 30]"),
               ("model.ngp.grid.per_level_scale", ng.grid.per_level_scale >= 1, "at least 1")]
    return checks


def _get(config, dotted: str):
    for part in dotted.split("."):
        config = getattr(config, part)
    return config

