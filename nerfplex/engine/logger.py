"""TensorBoard logging: scalars and images."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor
from torch.utils.tensorboard import SummaryWriter


class TensorBoardLogger:
    """Writes event files under ``log_dir``. Images are ``[H, W, 3]`` floats in [0, 1]."""

    def __init__(self, log_dir: Path) -> None:
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, float(value), step)

    def image(self, tag: str, image: Tensor, step: int) -> None:
        self.writer.add_image(tag, image.clamp(0, 1).detach().cpu(), step, dataformats="HWC")

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
