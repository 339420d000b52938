"""``nerfplex render`` on a trained run: a 30-frame orbit video, PNG sequences, JSON paths, errors."""

from __future__ import annotations

import json

import imageio.v2 as imageio
import numpy as np
import pytest

from nerfplex.cli.main import main
from nerfplex.eval.video import ffmpeg_status

pytestmark = pytest.mark.usefixtures("one_thread")


def test_orbit_video_of_a_trained_run(trained_run, capsys):
    if ffmpeg_status() is not None:
        pytest.skip(ffmpeg_status())
    assert main(["render", "--load-config", str(trained_run), "--no-progress"]) == 0  # 30-frame orbit, mp4
    out = capsys.readouterr().out
    folder = trained_run / "renders" / "orbit_step20"
    assert "30 frames at 32x32" in out and "normals from: depth finite differences" in out
    for name in ("rgb", "depth", "normals"):
        assert len(imageio.mimread(folder / f"{name}.mp4")) == 30
    info = json.loads((folder / "render.json").read_text())
    assert info["frames"] == 30 and info["format"] == "mp4" and info["seconds_per_frame"] > 0


def test_png_sequence_replayed_from_its_json_path(trained_run, tmp_path):
    first, second = tmp_path / "spiral", tmp_path / "replay"
    assert (
        main(
            [
                "render",
                "--load-config",
                str(trained_run / "config.yaml"),
                "--path",
                "spiral",
                "--frames",
                "3",
                "--format",
                "png",
                "--outputs",
                "rgb",
                "--output",
                str(first),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "render",
                "--load-config",
                str(trained_run / "config.yaml"),
                "--path",
                "json",
                "--path-file",
                str(first / "camera_path.json"),
                "--format",
                "png",
                "--outputs",
                "rgb",
                "--output",
                str(second),
                "--no-progress",
            ]
        )
        == 0
    )
    for i in range(3):
        a = imageio.imread(first / "rgb" / f"0000{i}.png")
        b = imageio.imread(second / "rgb" / f"0000{i}.png")
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert (
        main(
            [
                "render",
                "--load-config",
                str(trained_run),
                "--path",
                "interpolate",
                "--frames",
                "4",
                "--keyframes",
                "0",
                "2",
                "4",
                "--format",
                "png",
                "--outputs",
                "depth",
                "--output",
                str(tmp_path / "interp"),
                "--scale",
                "0.5",
                "--no-progress",
            ]
        )
        == 0
    )
    assert imageio.imread(tmp_path / "interp" / "depth" / "00003.png").shape == (16, 16, 3)


def test_render_errors_are_clear(trained_run, capsys):
    assert main(["render", "--load-config", str(trained_run), "--path", "json"]) == 2
    assert "--path-file" in capsys.readouterr().err
    assert main(["render", "--load-config", str(trained_run), "--frames", "0"]) == 2
    assert "--frames" in capsys.readouterr().err
