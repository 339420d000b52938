"""PSNR of images in [0, 1]."""

from __future__ import annotations

import math

import pytest
import torch

from nerfplex.metrics.psnr import mse_to_psnr, psnr


def test_psnr_is_minus_ten_log10_of_the_mse():
    target = torch.zeros(4, 5, 3)
    pred = torch.full((4, 5, 3), 0.1)
    assert float(psnr(pred, target)) == pytest.approx(20.0, rel=1e-5)
    assert float(mse_to_psnr(torch.tensor(1e-3))) == pytest.approx(30.0, rel=1e-5)
    assert math.isinf(float(psnr(target, target)))
