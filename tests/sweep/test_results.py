"""Sweep tables: per-point mean / std / 95% Student-t interval and paired differences, checked against
independent computations (numpy, scipy.stats)."""

import csv
import json

import numpy as np
import pytest
from scipy import stats

from nerfplex.sweep.results import interval, paired_differences, point_stats, write_results
from nerfplex.sweep.spec import parse_spec

SEEDS = [0, 1, 2, 3]
PSNR = {
    ("0", 0): 20.0,
    ("0", 1): 21.5,
    ("0", 2): 19.0,
    ("0", 3): 22.25,
    ("1", 0): 20.4,
    ("1", 1): 21.2,
    ("1", 2): 19.9,
    ("1", 3): 22.0,
    ("5", 0): 18.0,
    ("5", 1): 19.5,
    ("5", 2): 18.5,
}  # ("5", 3) did not finish


def _spec():
    return parse_spec(
        {
            "set": {"model.method": "nerf", "trainer.max_steps": 10},
            "axes": {"loss.s3im.weight": [0, 1, 5]},
            "seeds": SEEDS,
            "baseline": {"loss.s3im.weight": 0},
        }
    )


def _fake_runs(spec, out):
    for run in spec.runs:
        key = (dict(run.point)["loss.s3im.weight"], run.seed)
        run_dir = out / "runs" / run.run_id
        run_dir.mkdir(parents=True)
        if key in PSNR:
            psnr = PSNR[key]
            metrics = {
                "step": 10,
                "psnr": psnr,
                "ssim": psnr / 40,
                "train_seconds": 1.0,
                "eval_history": [{"step": 5, "psnr": psnr - 1}, {"step": 10, "psnr": psnr}],
            }
            (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_interval_matches_scipy_student_t():
    values = [20.0, 21.5, 19.0, 22.25, 20.75]
    got = interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert got.n == 5 and got.mean == pytest.approx(np.mean(values))
    assert got.std == pytest.approx(np.std(values, ddof=1))
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    # t(0.975, 4) = 2.776..., not the normal 1.96
    assert (got.high - got.mean) / (np.std(values, ddof=1) / np.sqrt(5)) == pytest.approx(2.7764451, abs=1e-6)
    single = interval([3.0])
    assert single.mean == 3.0 and single.std is None and single.low is None
    assert interval([]) is None


def test_point_stats_and_paired_differences(tmp_path):
    spec = _spec()
    _fake_runs(spec, tmp_path)
    rows = write_results(spec, tmp_path)
    per_point = {dict(s["point"])["loss.s3im.weight"]: s for s in point_stats(spec, rows)}
    five = [PSNR[("5", s)] for s in range(3)]
    assert per_point["5"]["done"] == 3 and per_point["5"]["runs"] == 4
    assert per_point["5"]["psnr"].mean == pytest.approx(np.mean(five))
    assert per_point["5"]["psnr"].high == pytest.approx(
        stats.t.interval(0.95, 2, loc=np.mean(five), scale=stats.sem(five))[1]
    )

    pairs = {dict(p["point"])["loss.s3im.weight"]: p for p in paired_differences(spec, rows)}
    assert set(pairs) == {"1", "5"}
    diffs = [PSNR[("1", s)] - PSNR[("0", s)] for s in SEEDS]
    per_seed, stat = pairs["1"]["psnr"]
    assert per_seed == pytest.approx(diffs) and pairs["1"]["seeds"] == SEEDS
    result = stats.ttest_rel([PSNR[("1", s)] for s in SEEDS], [PSNR[("0", s)] for s in SEEDS])
    ci = result.confidence_interval(0.95)
    assert (stat.low, stat.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert pairs["5"]["seeds"] == [0, 1, 2]  # seed 3 has no λ=5 run: no pair
    assert pairs["5"]["ssim"][1].mean == pytest.approx(
        np.mean([(PSNR[("5", s)] - PSNR[("0", s)]) / 40 for s in range(3)])
    )

    table = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(table) == 12 and table[0]["loss.s3im.weight"] == "0"
    unfinished = [r for r in table if r["status"] != "done"]
    assert [r["run_id"] for r in unfinished] == ["weight-5_seed-3"]
    summary = (tmp_path / "summary.md").read_text()
    assert "Paired differences against loss.s3im.weight = 0" in summary
    assert f"{np.mean(diffs):+.2f}" in summary and "weight-5_seed-3" in summary
    assert (tmp_path / "psnr_curves.png").stat().st_size > 1000
