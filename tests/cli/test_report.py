"""``nerfplex report RUN`` after training and evaluation."""

from __future__ import annotations

import pytest

from nerfplex.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_report_of_a_trained_and_evaluated_run(trained_run, tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "--load-config",
                str(trained_run),
                "--metrics",
                "psnr",
                "ssim",
                "--no-tensorboard",
                "--no-save-images",
                "--output",
                str(trained_run / "eval" / "step_20"),
                "--overwrite",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["report", str(trained_run), "--output", str(tmp_path / "report")]) == 0
    assert str(tmp_path / "report" / "report.md") in capsys.readouterr().out
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| method | tensorf |" in text and "`nerfplex eval` at step 20 over 2 test views" in text
    assert "![losses](plots/losses.png)" in text and (tmp_path / "report" / "plots" / "psnr.png").is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
