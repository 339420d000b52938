"""Rendering a path to mp4 / PNG sequences: files, fallback without ffmpeg, nothing half-written."""

from __future__ import annotations

import json

import imageio.v2 as imageio
import pytest
import torch

from nerfplex.eval import video
from nerfplex.eval.camera_paths import orbit_path
from nerfplex.eval.video import RenderSettings, depth_range, render_path
from nerfplex.models.registry import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def setup(tiny_config, tiny_scene):
    torch.manual_seed(0)
    model = build_model(tiny_config.model, tiny_scene)
    cameras = orbit_path(tiny_scene.train.cameras, 4, tiny_scene.aabb)
    settings = RenderSettings(
        near=2.0,
        far=6.0,
        background=torch.ones(3),
        chunk_size=32,
        aabb=tiny_scene.aabb,
        outputs=("rgb", "depth", "normals"),
        progress=False,
        info={"path": "orbit"},
    )
    return model, cameras, settings


def test_mp4_videos_and_path_file(setup, tmp_path):
    if video.ffmpeg_status() is not None:
        pytest.skip(video.ffmpeg_status())
    model, cameras, settings = setup
    info = render_path(model, cameras, settings, tmp_path / "out")
    assert info["format"] == "mp4" and info["frames"] == 4
    assert info["normals_source"] == "depth_finite_differences"
    for name in ("rgb", "depth", "normals"):
        frames = imageio.mimread(tmp_path / "out" / f"{name}.mp4")
        assert len(frames) == 4 and frames[0].shape == (8, 8, 3)
    saved = json.loads((tmp_path / "out" / "render.json").read_text())
    assert saved["path"] == "orbit" and saved["render_seconds"] > 0
    path = json.loads((tmp_path / "out" / "camera_path.json").read_text())
    assert len(path["frames"]) == 4 and path["fps"] == settings.fps
    assert model.training  # mode restored


def test_png_sequences_when_ffmpeg_is_missing(setup, tmp_path, monkeypatch):
    model, cameras, settings = setup
    monkeypatch.setattr(video, "ffmpeg_status", lambda: "the imageio-ffmpeg package is not installed")
    info = render_path(model, cameras, settings, tmp_path / "out")
    assert info["format"] == "png" and "imageio-ffmpeg" in info["mp4_unavailable"]
    for name in ("rgb", "depth", "normals"):
        files = sorted(p.name for p in (tmp_path / "out" / name).iterdir())
        assert files == [f"0000{i}.png" for i in range(4)]


def test_a_failure_leaves_the_previous_output_untouched(setup, tmp_path, monkeypatch):
    model, cameras, settings = setup
    settings.format, settings.outputs = "png", ("rgb",)
    render_path(model, cameras, settings, tmp_path / "out")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    calls = {"n": 0}
    original = model.render

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("out of memory")
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "render", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        render_path(model, cameras, settings, tmp_path / "out", overwrite=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no staging folder, old output intact


def test_depth_range_hugs_the_scene_box(setup):
    _, cameras, settings = setup
    low, high = depth_range(cameras, 0.1, 100.0, settings.aabb)
    distance = float((cameras.c2w[0, :, 3]).norm())
    assert low == pytest.approx(distance - 3**0.5, rel=1e-4)
    assert high == pytest.approx(distance + 3**0.5, rel=1e-4)
    assert depth_range(cameras, 0.1, 100.0, None) == (0.1, 100.0)
