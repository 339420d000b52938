import torch

from nerfplex.data.degrade import degrade_training_split, gaussian_blur, keep_fraction
from nerfplex.data.procedural import make_procedural_scene


def test_keep_fraction_even_spacing():
    scene = make_procedural_scene("object", 8, 10, 2, seed=0)
    kept = keep_fraction(scene.train, 0.3)
    assert kept.names == ["r_0", "r_4", "r_9"] or len(kept) == 3
    assert kept.rgb.shape[0] == len(kept.cameras) == len(kept.names) == kept.alpha.shape[0] == 3
    assert len(keep_fraction(scene.train, 0.01)) == 1


def test_blur_preserves_constants_and_matches_separable_kernel():
    flat = torch.full((1, 9, 9, 3), 0.4)
    torch.testing.assert_close(gaussian_blur(flat, 1.0), flat)
    impulse = torch.zeros(1, 15, 15, 1)
    impulse[0, 7, 7, 0] = 1.0
    out = gaussian_blur(impulse, 1.0)[0, :, :, 0]
    assert abs(out.sum().item() - 1.0) < 1e-6
    # Separable Gaussian: the response at (7, 8) over (7, 7) is exp(-1 / 2).
    assert abs((out[7, 8] / out[7, 7]).item() - torch.exp(torch.tensor(-0.5)).item()) < 1e-6


def test_degrade_changes_only_training_images_and_is_deterministic():
    scene = make_procedural_scene("object", 8, 6, 2, seed=0)
    a = degrade_training_split(scene, fraction=0.5, noise_std=0.1, blur_sigma=0.5, seed=1)
    b = degrade_training_split(scene, fraction=0.5, noise_std=0.1, blur_sigma=0.5, seed=1)
    assert len(a.train) == 3 and torch.equal(a.train.rgb, b.train.rgb)
    assert torch.equal(a.test.rgb, scene.test.rgb)
    assert (a.train.rgb <= a.train.alpha + 1e-7).all() and (a.train.rgb >= 0).all()
    assert not torch.equal(a.train.rgb, keep_fraction(scene.train, 0.5).rgb)
