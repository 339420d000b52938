"""A sweep's result tables: ``results.csv`` (one row per run), ``summary.md`` (per point: mean, standard
deviation and 95% confidence interval over seeds; paired differences against a baseline value of one
axis with the same seed; failed runs and why) and ``psnr_curves.png`` (held-out PSNR over steps, one
line per point, mean over seeds).

Confidence intervals are Student-t intervals of the mean: ``mean ± t(0.975, n-1) · s / sqrt(n)`` with
``s`` the sample standard deviation (n - 1 in the denominator). A paired difference is taken per seed
(run with the axis at its value minus the run with the axis at the baseline, everything else equal),
so that seed-to-seed variation common to both cancels.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from nerfplex.io import atomic_path, write_text_atomic
from nerfplex.sweep.runner import read_metrics, read_state
from nerfplex.sweep.spec import SweepSpec

METRICS = ("psnr", "ssim")


@dataclass(frozen=True)
class Interval:
    """Mean, sample standard deviation and the 95% Student-t confidence interval of ``n`` values."""

    n: int
    mean: float
    std: Optional[float]
    low: Optional[float]
    high: Optional[float]


def t_quantile(p: float, dof: int) -> float:
    """The Student-t quantile (scipy's ``t.ppf``)."""
    from scipy.stats import t

    return float(t.ppf(p, dof))


def interval(values: list[float], level: float = 0.95) -> Optional[Interval]:
    """:class:`Interval` of ``values`` (None when empty; no std / interval for a single value)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return Interval(1, mean, None, None, None)
    std = statistics.stdev(values)
    half = t_quantile(0.5 + level / 2, len(values) - 1) * std / math.sqrt(len(values))
    return Interval(len(values), mean, std, mean - half, mean + half)


def collect(spec: SweepSpec, out: Path) -> list[dict]:
    """One row per run: the axes' values, seed, status, final metrics, eval history, error."""
    rows = []
    for run in spec.runs:
        run_dir = Path(out) / "runs" / run.run_id
        metrics = read_metrics(run_dir, run.config.trainer.max_steps)
        state = read_state(Path(out) / "state" / f"{run.run_id}.json")
        row = {
            "run_id": run.run_id,
            **dict(run.point),
            "seed": run.seed,
            "status": "done" if metrics else state.get("status", "not run"),
            "psnr": metrics.get("psnr") if metrics else None,
            "ssim": metrics.get("ssim") if metrics else None,
            "steps": metrics.get("step") if metrics else None,
            "train_seconds": metrics.get("train_seconds") if metrics else None,
            "run_dir": str(run_dir),
            "error": None if metrics else (state.get("error") or "").splitlines()[0:1],
            "history": metrics.get("eval_history", []) if metrics else [],
        }
        row["error"] = row["error"][0] if row["error"] else None
        rows.append(row)
    return rows


def write_csv(spec: SweepSpec, rows: list[dict], out: Path) -> Path:
    fields = [
        "run_id",
        *(axis.name for axis in spec.axes),
        "seed",
        "status",
        "psnr",
        "ssim",
        "steps",
        "train_seconds",
        "run_dir",
        "error",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(out) / "results.csv"
    write_text_atomic(path, buffer.getvalue())
    return path


def _points(spec: SweepSpec) -> list[tuple[tuple[str, str], ...]]:
    seen: list = []
    for run in spec.runs:
        if run.point not in seen:
            seen.append(run.point)
    return seen


def point_stats(spec: SweepSpec, rows: list[dict]) -> list[dict]:
    """Per point: ``{"point", "runs", "done", "psnr": Interval, "ssim": Interval}``."""
    stats = []
    for point in _points(spec):
        group = [r for r in rows if tuple((a.name, r[a.name]) for a in spec.axes) == point]
        done = [r for r in group if r["status"] == "done"]
        stats.append(
            {
                "point": point,
                "runs": len(group),
                "done": len(done),
                **{m: interval([r[m] for r in done]) for m in METRICS},
            }
        )
    return stats


def paired_differences(spec: SweepSpec, rows: list[dict]) -> list[dict]:
    """Against ``spec.baseline``: per non-baseline point, the per-seed differences and their intervals.

    Returns ``{"point", "against", "seeds", "psnr": (per-seed list, Interval), "ssim": ...}``."""
    if spec.baseline is None:
        return []
    axis_name, base_label = spec.baseline
    by_key = {(tuple((a.name, r[a.name]) for a in spec.axes), r["seed"]): r for r in rows}
    result = []
    for point in _points(spec):
        values = dict(point)
        if values[axis_name] == base_label:
            continue
        against = tuple((name, base_label if name == axis_name else label) for name, label in point)
        seeds, diffs = [], {m: [] for m in METRICS}
        for seed in spec.seeds:
            a, b = by_key.get((point, seed)), by_key.get((against, seed))
            if not a or not b or a["status"] != "done" or b["status"] != "done":
                continue
            seeds.append(seed)
            for m in METRICS:
                diffs[m].append(None if a[m] is None or b[m] is None else a[m] - b[m])
        result.append(
            {"point": point, "against": against, "seeds": seeds, **{m: (diffs[m], interval(diffs[m])) for m in METRICS}}
        )
    return result


def _fmt(value: Optional[float], digits: int, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _cell(stat: Optional[Interval], digits: int, sign: bool = False) -> str:
    if stat is None:
        return "n/a"
    text = _fmt(stat.mean, digits, sign)
    if stat.std is not None:
        text += f" ± {stat.std:.{digits}f} [{_fmt(stat.low, digits, sign)}, {_fmt(stat.high, digits, sign)}]"
    return text


def summary_markdown(spec: SweepSpec, rows: list[dict]) -> str:
    names = [axis.name for axis in spec.axes]
    lines = [
        f"# Sweep {spec.name}",
        "",
        f"{len(rows)} runs ({sum(r['status'] == 'done' for r in rows)} done), seeds "
        f"{', '.join(map(str, spec.seeds))}. Cells: mean ± sample std [95% CI, Student t] over seeds.",
        "",
        "## Per point",
        "",
        "| " + " | ".join(names + ["runs done", "held-out PSNR (dB)", "SSIM"]) + " |",
        "|" + "---|" * len(names) + "---:|---:|---:|",
    ]
    for stat in point_stats(spec, rows):
        labels = [label for _, label in stat["point"]]
        lines.append(
            "| "
            + " | ".join(labels + [f"{stat['done']}/{stat['runs']}", _cell(stat["psnr"], 2), _cell(stat["ssim"], 4)])
            + " |"
        )
    pairs = paired_differences(spec, rows)
    if pairs:
        axis_name, base_label = spec.baseline
        lines += [
            "",
            f"## Paired differences against {axis_name} = {base_label} (same seed)",
            "",
            "| " + " | ".join(names + ["pairs", "Δ PSNR (dB)", "Δ SSIM", "Δ PSNR per seed", "Δ SSIM per seed"]) + " |",
            "|" + "---|" * len(names) + "---:|---:|---:|---|---|",
        ]
        for pair in pairs:
            labels = [label for _, label in pair["point"]]
            per_seed = {
                m: ", ".join(f"{s}: {_fmt(d, digits, True)}" for s, d in zip(pair["seeds"], pair[m][0])) or "n/a"
                for m, digits in (("psnr", 2), ("ssim", 4))
            }
            lines.append(
                "| "
                + " | ".join(
                    labels
                    + [
                        str(len(pair["seeds"])),
                        _cell(pair["psnr"][1], 2, True),
                        _cell(pair["ssim"][1], 4, True),
                        per_seed["psnr"],
                        per_seed["ssim"],
                    ]
                )
                + " |"
            )
    failed = [r for r in rows if r["status"] not in ("done",)]
    if failed:
        lines += ["", "## Not finished", ""]
        lines += [f"- {r['run_id']}: {r['status']}" + (f" ({r['error']})" if r["error"] else "") for r in failed]
    return "\n".join(lines) + "\n"


def plot_curves(spec: SweepSpec, rows: list[dict], out: Path) -> Optional[Path]:
    """``psnr_curves.png``: held-out PSNR over steps per point (mean over the finished seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.set_prop_cycle(color=plt.cm.tab20.colors)  # 20 distinguishable colours (the default cycle has 10)
    drawn = 0
    for point in _points(spec):
        histories = [
            r["history"] for r in rows if tuple((a.name, r[a.name]) for a in spec.axes) == point and r["history"]
        ]
        steps = sorted({h["step"] for history in histories for h in history})
        if not steps:
            continue
        means = [statistics.fmean(h["psnr"] for history in histories for h in history if h["step"] == s) for s in steps]
        ax.plot(
            steps,
            means,
            marker="o",
            markersize=3,
            label=", ".join(f"{name.rsplit('.', 1)[-1]}={label}" for name, label in point) or "base",
        )
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out PSNR (dB)")
    ax.set_title(f"sweep {spec.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6 if drawn > 6 else 8)
    fig.tight_layout()
    path = Path(out) / "psnr_curves.png"
    try:
        with atomic_path(path, fsync=False) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return path


def write_results(spec: SweepSpec, out: Path) -> list[dict]:
    """Write ``results.csv``, ``summary.md`` and ``psnr_curves.png`` from what is on disk; return the rows."""
    rows = collect(spec, out)
    write_csv(spec, rows, out)
    write_text_atomic(Path(out) / "summary.md", summary_markdown(spec, rows))
    plot_curves(spec, rows, out)
    return rows
