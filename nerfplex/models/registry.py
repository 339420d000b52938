"""Choosing a method by name: the model config section and the factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from nerfplex.data.scene import SceneData
from nerfplex.models.base import Model
from nerfplex.models.tensorf import TensoRF, TensoRFConfig
from nerfplex.models.vanilla_nerf import VanillaNeRF, VanillaNeRFConfig

Method = Literal["nerf", "tensorf"]


@dataclass
class ModelConfig:
    """Which method to train, and each method's settings (only the chosen one is used)."""

    method: Method = "nerf"
    """The method: ``nerf`` (vanilla NeRF) or ``tensorf`` (TensoRF)."""
    nerf: VanillaNeRFConfig = field(default_factory=VanillaNeRFConfig)
    """Vanilla NeRF settings."""
    tensorf: TensoRFConfig = field(default_factory=TensoRFConfig)
    """TensoRF settings (the authors' lego defaults, for 30k steps)."""


def build_model(config: ModelConfig, scene: SceneData) -> Model:
    """Instantiate the configured method for ``scene`` (grid methods size their grids to its box)."""
    if config.method == "nerf":
        return VanillaNeRF(config.nerf)
    if config.method == "tensorf":
        return TensoRF(config.tensorf, scene.aabb)
    raise ValueError(f"unknown method {config.method!r}")  # unreachable: the config loader checks
