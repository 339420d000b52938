"""Choosing a method by name: the model config section and the factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from nerfplex.data.scene import SceneData
from nerfplex.models.base import Model
from nerfplex.errors import NerfplexError
from nerfplex.models.dvgo import DVGO, DVGOConfig
from nerfplex.models.neus import NeuS, NeuSConfig
from nerfplex.models.tensorf import TensoRF, TensoRFConfig
from nerfplex.models.vanilla_nerf import VanillaNeRF, VanillaNeRFConfig

Method = Literal["nerf", "tensorf", "dvgo", "neus"]


@dataclass
class ModelConfig:
    """Which method to train, and each method's settings (only the chosen one is used)."""

    method: Method = "nerf"
    """The method: ``nerf`` (vanilla NeRF), ``tensorf`` (TensoRF), ``dvgo`` (DVGO) or ``neus`` (NeuS)."""
    nerf: VanillaNeRFConfig = field(default_factory=VanillaNeRFConfig)
    """Vanilla NeRF settings."""
    tensorf: TensoRFConfig = field(default_factory=TensoRFConfig)
    """TensoRF settings (the authors' lego defaults, for 30k steps)."""
    dvgo: DVGOConfig = field(default_factory=DVGOConfig)
    """DVGO settings (the authors' NeRF-synthetic defaults, for 5k coarse + 20k fine steps)."""
    neus: NeuSConfig = field(default_factory=NeuSConfig)
    """NeuS settings (the authors' womask.conf defaults, for 300k steps of 512 rays)."""


def build_model(config: ModelConfig, scene: SceneData) -> Model:
    """Instantiate the configured method for ``scene`` (grid methods size their grids to its box)."""
    if config.method == "nerf":
        return VanillaNeRF(config.nerf)
    if config.method == "tensorf":
        return TensoRF(config.tensorf, scene.aabb)
    if config.method == "dvgo":
        return DVGO(config.dvgo, scene.aabb, scene.train.cameras, scene.near)
    if config.method == "neus":
        if config.neus.mask_weight > 0 and scene.train.alpha is None:
            raise NerfplexError("model.neus.mask_weight > 0 needs training images with alpha (masks); "
                                "this dataset has none: set model.neus.mask_weight to 0.")
        return NeuS(config.neus, scene.aabb)
    raise ValueError(f"unknown method {config.method!r}")  # unreachable: the config loader checks
