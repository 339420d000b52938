"""Choosing a method by name: the model config section and the factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import torch

from nerfplex.data.scene import SceneData
from nerfplex.models.base import Model
from nerfplex.errors import NerfplexError
from nerfplex.models.dvgo import DVGO, DVGOConfig
from nerfplex.models.neus import NeuS, NeuSConfig
from nerfplex.models.ngp import NGP, NGPConfig
from nerfplex.models.tensorf import TensoRF, TensoRFConfig
from nerfplex.models.vanilla_nerf import VanillaNeRF, VanillaNeRFConfig

Method = Literal["nerf", "tensorf", "dvgo", "neus", "ngp"]


@dataclass
class ModelConfig:
    """Which method to train, and each method's settings (only the chosen one is used)."""

    method: Method = "nerf"
    """The method: ``nerf`` (vanilla NeRF), ``tensorf`` (TensoRF), ``dvgo`` (DVGO), ``neus`` (NeuS) or
    ``ngp`` (instant-ngp's hash-grid NeRF)."""
    nerf: VanillaNeRFConfig = field(default_factory=VanillaNeRFConfig)
    """Vanilla NeRF settings."""
    tensorf: TensoRFConfig = field(default_factory=TensoRFConfig)
    """TensoRF settings (the authors' lego defaults, for 30k steps)."""
    dvgo: DVGOConfig = field(default_factory=DVGOConfig)
    """DVGO settings (the authors' NeRF-synthetic defaults, for 5k coarse + 20k fine steps)."""
    neus: NeuSConfig = field(default_factory=NeuSConfig)
    """NeuS settings (the authors' womask.conf defaults, for 300k steps of 512 rays)."""
    ngp: NGPConfig = field(default_factory=NGPConfig)
    """Instant-NGP NeRF settings (nerfacc's instant-ngp example for NeRF-synthetic, 20k steps)."""


def build_model(config: ModelConfig, scene: SceneData, device: Optional[torch.device | str] = None) -> Model:
    """Instantiate the configured method for ``scene`` (grid methods size their grids to its box).

    ``device``: where the model will run (None: CUDA if available); methods with CUDA-only
    implementations (``ngp`` on tiny-cuda-nn) choose by it."""
    if config.method == "nerf":
        return VanillaNeRF(config.nerf)
    if config.method == "tensorf":
        return TensoRF(config.tensorf, scene.aabb)
    if config.method == "dvgo":
        return DVGO(config.dvgo, scene.aabb, scene.train.cameras, scene.near, scene.far)
    if config.method == "neus":
        if config.neus.mask_weight > 0 and scene.train.alpha is None:
            raise NerfplexError("model.neus.mask_weight > 0 needs training images with alpha (masks); "
                                "this dataset has none: set model.neus.mask_weight to 0.")
        return NeuS(config.neus, scene.aabb, scene.sphere_radius)
    if config.method == "ngp":
        return NGP(config.ngp, scene.aabb, device)
    raise ValueError(f"unknown method {config.method!r}")  # unreachable: the config loader checks
