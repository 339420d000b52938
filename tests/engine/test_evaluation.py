"""Held-out evaluation through the one view renderer: strides, progress with rays/s and ETA."""

from __future__ import annotations

import pytest
import torch

from nerfplex.engine.evaluation import evaluate_split
from nerfplex.models.registry import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_long_evaluation_shows_progress_with_rays_per_second(tiny_config, tiny_scene, capsys):
    model = build_model(tiny_config.model, tiny_scene)
    results, _ = evaluate_split(
        model, tiny_scene.test, 2.0, 6.0, torch.ones(3), 16, [0, 1], tiny_scene.aabb, progress=True, desc="eval step 7"
    )
    err = capsys.readouterr().err
    assert "eval step 7" in err and "ray" in err and "/s" in err  # tqdm's rate, e.g. "1.2kray/s"
    assert len(results) == 2
    evaluate_split(model, tiny_scene.test, 2.0, 6.0, torch.ones(3), 16, [0, 1], tiny_scene.aabb)
    assert capsys.readouterr().err == ""  # quiet unless asked


def test_strided_evaluation_scores_the_same_pixels_of_the_photo(tiny_config, tiny_scene):
    model = build_model(tiny_config.model, tiny_scene)
    full, view = evaluate_split(model, tiny_scene.test, 2.0, 6.0, torch.ones(3), 64, [1], tiny_scene.aabb)
    strided, small = evaluate_split(model, tiny_scene.test, 2.0, 6.0, torch.ones(3), 64, [1], tiny_scene.aabb, stride=2)
    assert small.rgb.shape == (4, 4, 3) and view.rgb.shape == (8, 8, 3)
    target = tiny_scene.test.composite(torch.ones(3), 1)[::2, ::2]
    expected = -10 * torch.log10(torch.mean((small.rgb.clamp(0, 1) - target) ** 2))
    assert strided[0]["psnr"] == pytest.approx(float(expected), abs=1e-4)
    assert full[0]["psnr"] != strided[0]["psnr"]
