"""The run report: tables from metrics.json and eval/, plots from TensorBoard scalars."""

from __future__ import annotations

import json

import pytest

from nerfplex.engine.logger import TensorBoardLogger
from nerfplex.errors import NerfplexError
from nerfplex.eval.run_report import latest_evaluation, read_scalars, write_run_report

PNG = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path):
    run = tmp_path / "run"
    logger = TensorBoardLogger(run / "tensorboard")
    for step in (10, 20, 30):
        logger.scalars(
            {
                "loss/total": 1.0 / step,
                "loss/rgb_mse": 0.5 / step,
                "train/psnr": 10 + step / 10,
                "train/lr": 0.01 / step,
                "train/rays_per_sec": 1000.0,
            },
            step,
        )
    logger.scalars({"eval/psnr": 12.5, "eval/ssim": 0.5}, 30)
    logger.scalars({"train/psnr": 99.0}, 30)  # re-logged step (a resume): the last value counts
    logger.close()
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "step": 30,
                "psnr": 12.5,
                "ssim": 0.5,
                "num_test_views": 2,
                "train_seconds": 4.0,
                "rays_per_second": 1234.0,
                "peak_memory_mb": 100.0,
                "peak_memory_kind": "process_rss",
                "eval_history": [{"step": 15, "psnr": 11.0, "ssim": 0.4}, {"step": 30, "psnr": 12.5, "ssim": 0.5}],
            }
        )
    )
    return run


def test_report_from_training_only(tmp_path):
    run = _run(tmp_path)
    assert read_scalars(run / "tensorboard")["train/psnr"] == [(10, 11.0), (20, 12.0), (30, 99.0)]
    path = write_run_report(run)
    text = path.read_text()
    assert path == run / "report" / "report.md"
    assert "| psnr | 12.5000 |" in text and "| 15 | 11.0000 | 0.4000 |" in text
    assert "nerfplex eval --load-config" in text  # how to get the perceptual metrics
    for name in ("losses", "psnr", "ssim", "learning_rate", "throughput"):
        assert f"![{name}](plots/{name}.png)" in text
        assert (run / "report" / "plots" / f"{name}.png").read_bytes()[:8] == PNG
    assert not (run / "report" / "plots" / "perceptual.png").exists()


def test_report_uses_the_newest_evaluation(tmp_path):
    run = _run(tmp_path)
    for step, lpips in ((10, 0.5), (30, 0.25)):
        folder = run / "eval" / f"step_{step}"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(
            json.dumps(
                {
                    "step": step,
                    "num_views": 2,
                    "metrics": {"psnr": 12.0, "lpips_alex": lpips, "dreamsim": None},
                    "conventions": {"psnr": "mean of per-image PSNR", "lpips_alex": "inputs in [-1, 1]"},
                    "skipped": {"dreamsim": "needs ensemble_lora/ in /w/dreamsim"},
                    "per_image": [{"name": "r_0", "psnr": 11.0, "lpips_alex": lpips}],
                }
            )
        )
    assert latest_evaluation(run)["step"] == 30
    text = write_run_report(run, tmp_path / "elsewhere").read_text()
    assert "| lpips_alex | 0.2500 | inputs in [-1, 1] |" in text
    assert "**dreamsim skipped**: needs ensemble_lora/" in text and "| r_0 |" in text


def test_nothing_to_report_is_explained(tmp_path):
    with pytest.raises(NerfplexError, match="not a run folder"):
        write_run_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NerfplexError, match="nothing to report"):
        write_run_report(tmp_path / "empty")
    assert not (tmp_path / "empty" / "report").exists()


def test_report_after_training_never_fails_the_run(tmp_path, capsys):
    from nerfplex.eval.run_report import report_after_training

    run = _run(tmp_path)
    assert report_after_training(run) == run / "report" / "report.md"
    assert f"report: {run / 'report' / 'report.md'}" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert report_after_training(tmp_path / "empty") is None
    assert "warning: no run report" in capsys.readouterr().err
