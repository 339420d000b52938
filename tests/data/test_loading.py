"""DataConfig dispatch and the split helpers every folder format relies on."""

from __future__ import annotations

import pytest
import torch

from nerfplex.cameras import Cameras
from nerfplex.data.loading import DataConfig, load_scene
from nerfplex.data.scene import SceneSplit, concat_splits
from nerfplex.errors import NerfplexError


@pytest.mark.parametrize(
    "kind, hint",
    [("blender", "transforms"), ("monosdf", "meta_data.json"), ("nsvf", "bbox.txt"), ("dtu", "cameras_sphere.npz")],
)
def test_folder_kind_without_path_says_what_folder(kind, hint):
    with pytest.raises(NerfplexError, match=rf"data.kind is '{kind}'.*--data.path.*{hint}"):
        load_scene(DataConfig(kind=kind))


def _split(n: int, size: int = 4, alpha: bool = False, depth: bool = False, distortion: bool = False):
    g = torch.Generator().manual_seed(n)
    c2w = torch.eye(3, 4).expand(n, 3, 4).clone()
    ones = torch.ones(n)
    cams = Cameras(
        c2w, ones * 5, ones * 5, ones * 2, ones * 2, size, size, torch.rand(n, 5, generator=g) if distortion else None
    )
    return SceneSplit(
        torch.rand(n, size, size, 3, generator=g),
        torch.rand(n, size, size, 1, generator=g) if alpha else None,
        cams,
        [f"v{i}" for i in range(n)],
        torch.rand(n, size, size, 1, generator=g) if depth else None,
        {"mono_depth": torch.rand(n, size, size, 1, generator=g)},
    )


def test_concat_fills_what_one_side_lacks():
    a, b = _split(2, alpha=True, distortion=True), _split(3, depth=True)
    both = concat_splits(a, b)
    assert len(both) == 5 and both.names == a.names + b.names
    torch.testing.assert_close(both.alpha[2:], torch.ones(3, 4, 4, 1))
    assert torch.isinf(both.depth[:2]).all() and torch.equal(both.depth[2:], b.depth)
    torch.testing.assert_close(both.cameras.distortion[2:], torch.zeros(3, 5))
    assert both.priors["mono_depth"].shape[0] == 5
    sub = both.subset([4, 0])
    assert sub.names == ["v2", "v0"] and torch.equal(sub.rgb[1], a.rgb[0])
    assert sub.priors["mono_depth"].shape[0] == 2 and sub.cameras.distortion.shape == (2, 5)


def test_concat_refuses_different_image_sizes():
    with pytest.raises(NerfplexError, match="4x4 and 6x6"):
        concat_splits(_split(1), _split(1, size=6))


def test_procedural_train_on_test_views_and_box_scale():
    config = DataConfig(resolution=8, num_train_views=3, num_test_views=2, train_on_test_views=True, box_scale=2.0)
    scene = load_scene(config)
    assert len(scene.train) == 5 and len(scene.test) == 2
    torch.testing.assert_close(scene.aabb, torch.tensor([[-2.0] * 3, [2.0] * 3]))
