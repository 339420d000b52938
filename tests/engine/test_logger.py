"""TensorBoard writing: an evaluation's mean metrics beside the training curves."""

from __future__ import annotations

from nerfplex.engine.logger import log_evaluation_to_tensorboard
from nerfplex.eval.run_report import read_scalars


def test_means_go_to_tensorboard(tmp_path):
    tags = log_evaluation_to_tensorboard(tmp_path, 7, {"psnr": 25.5, "lpips_alex": 0.125, "dreamsim": None})
    assert tags == ["test/lpips_alex", "test/psnr"]
    scalars = read_scalars(tmp_path / "tensorboard")
    assert scalars == {"test/psnr": [(7, 25.5)], "test/lpips_alex": [(7, 0.125)]}
