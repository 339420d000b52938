"""TensorBoard logging: scalars and images."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

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


def log_evaluation_to_tensorboard(
    run_dir: Path, step: int, means: dict[str, Optional[float]], prefix: str = "test"
) -> list[str]:
    """Write the mean metrics of an evaluation as ``<prefix>/<metric>`` scalars at ``step`` into
    ``RUN/tensorboard`` (beside the training curves); returns the tags written."""
    values = {f"{prefix}/{name}": value for name, value in means.items() if value is not None}
    logger = TensorBoardLogger(Path(run_dir) / "tensorboard")
    try:
        logger.scalars(values, step)
        logger.flush()
    finally:
        logger.close()
    return sorted(values)
