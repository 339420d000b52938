"""instant-ngp's frame selection in transforms.json: n_frames, sharpness_discard_threshold and frames whose
image is missing, against a literal transcription of instant-ngp's rule (src/nerf_loader.cu)."""

from __future__ import annotations

import numpy as np
import pytest

from nerfplex.data.blender import load_blender
from nerfplex.errors import NerfplexError


def _ngp_rule(sharpness: list[float], threshold: float) -> list[int]:
    """instant-ngp: keep i when s_i > threshold * mean(s_j for max(0, i-3) <= j < min(i+3, n-1))."""
    n, kept = len(sharpness), []
    for i in range(n):
        start, end = max(0, i - 3), min(i + 3, n - 1)
        mean = sum(sharpness[start:end]) / (end - start)
        if sharpness[i] > threshold * mean:
            kept.append(i)
    return kept


def _names(scene):
    return sorted(scene.train.names + scene.test.names, key=lambda s: int(s[3:]))


@pytest.mark.parametrize("threshold", [0.0, 0.8, 1.0])
def test_sharpness_discard_threshold(builder, threshold):
    rng = np.random.default_rng(int(threshold * 10))
    sharp = rng.uniform(10, 100, 12).tolist()
    builder.ngp(n=12, meta={"sharpness_discard_threshold": threshold})
    builder.edit_json(
        "transforms.json",
        lambda m: [f.__setitem__("sharpness", sharp[int(f["file_path"][10:-4]) - 1]) for f in m["frames"]],
    )
    scene = load_blender(builder.root, test_every=4)
    assert _names(scene) == [f"img{i + 1}" for i in _ngp_rule(sharp, threshold)]
    if threshold == 1.0:
        assert len(_names(scene)) < 12


def test_n_frames_keeps_the_first_in_natural_order(builder):
    builder.ngp(n=12, meta={"n_frames": 10})  # frames are shuffled in the file; img10 > img9 naturally
    scene = load_blender(builder.root, test_every=4)
    assert _names(scene) == [f"img{i}" for i in range(1, 11)]


def test_missing_images_dropped_with_one_warning(builder):
    builder.ngp(n=10)
    for i in (2, 5, 7):
        (builder.root / "images" / f"img{i}.png").unlink()
    with pytest.warns(UserWarning, match="3 of the 10 frames .* have no image file") as record:
        scene = load_blender(builder.root, test_every=4)
    assert len(record) == 1 and len(_names(scene)) == 7 and "img5" not in _names(scene)


def test_every_image_missing_or_nothing_selected(builder):
    builder.ngp(n=4)
    for path in (builder.root / "images").iterdir():
        path.unlink()
    with pytest.raises(NerfplexError, match="not found"):
        load_blender(builder.root)
    builder.ngp(n=4, meta={"n_frames": 0})
    with pytest.raises(NerfplexError, match="no frame .* left"):
        load_blender(builder.root)
    builder.ngp(n=4, meta={"n_frames": 2.5})
    with pytest.raises(NerfplexError, match="'n_frames'.*whole number"):
        load_blender(builder.root)


def test_nerf_synthetic_missing_image_stays_an_error(builder):
    builder.blender(n_train=3, n_test=2)
    (builder.root / "train" / "r_1.png").unlink()
    with pytest.raises(NerfplexError, match="r_1.*not found"):
        load_blender(builder.root)
