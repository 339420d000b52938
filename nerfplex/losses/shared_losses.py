"""Loss terms the trainer adds for every method, on top of the method's own ``get_loss_dict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor

from nerfplex.losses.s3im import S3IMConfig, s3im_from_config


@dataclass
class LossConfig:
    """Method-independent losses."""

    s3im: S3IMConfig = field(default_factory=S3IMConfig)
    """The S3IM multiplex loss on the rendered colour (and optionally depth)."""


def shared_losses(
    config: LossConfig,
    outputs: dict[str, Tensor],
    target_rgb: Tensor,
    target_depth: Optional[Tensor],
    far: float,
    generator: Optional[torch.Generator] = None,
) -> dict[str, Tensor]:
    """Weighted terms: ``s3im`` on ``outputs["rgb"] [B, 3]``; ``s3im_depth`` on ``outputs["depth"]``
    against ``target_depth [B, 1]`` (rays with a finite target only, both divided by ``far``)."""
    losses = {}
    cfg = config.s3im
    if cfg.weight > 0:
        losses["s3im"] = cfg.weight * s3im_from_config(cfg, outputs["rgb"], target_rgb, generator)
    if cfg.depth_weight > 0 and target_depth is not None:
        valid = torch.isfinite(target_depth[:, 0])
        if int(valid.sum()) >= cfg.patch_height:
            losses["s3im_depth"] = cfg.depth_weight * s3im_from_config(
                cfg, outputs["depth"][valid] / far, target_depth[valid] / far, generator
            )
    return losses
