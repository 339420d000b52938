import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from nerfplex.data.procedural import make_procedural_scene
from nerfplex.losses.ssim import gaussian_window, image_ssim, ssim_map


def _skimage(a: torch.Tensor, b: torch.Tensor) -> float:
    return structural_similarity(
        a.double().numpy(),
        b.double().numpy(),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1,
        channel_axis=-1,
    )


def test_matches_skimage_on_random_images():
    g = torch.Generator().manual_seed(0)
    for h, w in ((32, 32), (40, 57)):
        a = torch.rand(h, w, 3, generator=g)
        b = (a + 0.1 * torch.randn(h, w, 3, generator=g)).clamp(0, 1)
        assert abs(image_ssim(a, b).item() - _skimage(a, b)) < 1e-5


def test_matches_skimage_on_real_images():
    from skimage import data

    photo = torch.from_numpy(data.astronaut()[::4, ::4].astype(np.float32) / 255.0)  # 128x128 RGB
    blurred = torch.nn.functional.avg_pool2d(photo.permute(2, 0, 1)[None], 3, 1, 1)[0].permute(1, 2, 0)
    assert abs(image_ssim(photo, blurred).item() - _skimage(photo, blurred)) < 1e-5
    scene = make_procedural_scene("room", 48, 2, 1, seed=0)  # nerfplex's own renderer
    a, b = scene.train.rgb[0], scene.train.rgb[1]
    assert abs(image_ssim(a, b).item() - _skimage(a, b)) < 1e-5


def test_identical_images_score_one():
    a = torch.rand(20, 20, 3)
    assert image_ssim(a, a).item() == pytest.approx(1.0, abs=1e-6)


def test_gaussian_window_definition():
    # exp(-(x - K//2)^2 / (2 sigma^2)), normalised: off-centre for even K (the S3IM authors' window).
    w = gaussian_window(4, 1.5, dtype=torch.float64)
    raw = torch.exp(-torch.tensor([4.0, 1.0, 0.0, 1.0]) / 4.5).double()
    torch.testing.assert_close(w, raw / raw.sum())
    assert gaussian_window(11, 1.5).sum().item() == pytest.approx(1.0)


def test_map_shapes_for_padding_and_stride():
    a = torch.rand(1, 3, 64, 640)
    assert ssim_map(a, a, window_size=4, stride=4, padding="zero").shape == (1, 3, 16, 160)
    assert ssim_map(a, a, window_size=11, padding="valid").shape == (1, 3, 54, 630)
