"""S3IM ablations' tables and plot (the runs themselves are a sweep: nerfplex.cli.ablate, nerfplex.sweep);
``KEY=VALUE`` config overrides."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

import yaml

from nerfplex.config import ExperimentConfig, config_from_dict
from nerfplex.errors import NerfplexError
from nerfplex.io import atomic_path, write_text_atomic


def apply_overrides(config: ExperimentConfig, pairs: list[str]) -> ExperimentConfig:
    """Apply ``section.field=value`` strings (values parsed as YAML) on top of ``config``."""
    data: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise NerfplexError(f"--set expects KEY=VALUE (e.g. trainer.max_steps=500), got {pair!r}.")
        node = data
        *parents, leaf = key.replace("-", "_").split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return config_from_dict(data, base=config, source="--set")


def summary_rows(results: list[dict]) -> list[dict]:
    """Per S3IM weight: mean and standard deviation of held-out PSNR / SSIM over seeds."""
    rows, baseline = [], None
    for weight in sorted({r["weight"] for r in results}):
        group = [r for r in results if r["weight"] == weight]
        psnrs = [r["psnr"] for r in group]
        ssims = [r["ssim"] for r in group if r["ssim"] is not None]
        row = {
            "weight": weight,
            "seeds": len(group),
            "psnr_mean": statistics.fmean(psnrs),
            "psnr_std": statistics.pstdev(psnrs),
            "ssim_mean": statistics.fmean(ssims) if ssims else None,
            "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in group),
        }
        for key in ("chamfer_rel", "fscore"):  # present when the ablation scored geometry
            values = [r[key] for r in group if r.get(key) is not None]
            row[f"{key}_mean"] = statistics.fmean(values) if values else None
        if weight == 0:
            baseline = row["psnr_mean"]
        rows.append(row)
    for row in rows:
        row["delta_psnr_vs_mse_only"] = None if baseline is None else row["psnr_mean"] - baseline
    return rows


def write_tables(results: list[dict], out_dir: Path) -> None:
    """``results.csv`` (one line per run) and ``summary.md`` (one line per weight)."""
    geometry = any("chamfer_rel" in r for r in results)
    fields = [
        "weight",
        "seed",
        "psnr",
        "ssim",
        *(["chamfer_rel", "fscore"] if geometry else []),
        "train_seconds",
        "steps",
        "run_dir",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(results)
    write_text_atomic(out_dir / "results.csv", buffer.getvalue())

    def fmt(value, digits=2):
        return "n/a" if value is None else f"{value:.{digits}f}"

    extra = " Chamfer-L1 / diagonal | F-score |" if geometry else ""
    lines = [
        "| S3IM weight λ | seeds | held-out PSNR (dB) | Δ PSNR vs λ=0 | SSIM |" + extra + " train s |",
        "|---:|---:|---:|---:|---:|" + ("---:|---:|" if geometry else "") + "---:|",
    ]
    for row in summary_rows(results):
        delta = row["delta_psnr_vs_mse_only"]
        shape = f" {fmt(row['chamfer_rel_mean'], 4)} | {fmt(row['fscore_mean'], 3)} |" if geometry else ""
        lines.append(
            f"| {row['weight']:g} | {row['seeds']} | {row['psnr_mean']:.2f} ± {row['psnr_std']:.2f}"
            f" | {'n/a' if delta is None else f'{delta:+.2f}'} | {fmt(row['ssim_mean'], 4)} |"
            f"{shape} {row['train_seconds_mean']:.0f} |"
        )
    write_text_atomic(out_dir / "summary.md", "\n".join(lines) + "\n")


def plot_curves(results: list[dict], out_dir: Path) -> Path:
    """``psnr_curves.png``: held-out PSNR over steps, one line per S3IM weight (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for weight in sorted({r["weight"] for r in results}):
        histories = [r["history"] for r in results if r["weight"] == weight]
        steps = sorted({h["step"] for history in histories for h in history})
        means = [statistics.fmean(h["psnr"] for history in histories for h in history if h["step"] == s) for s in steps]
        ax.plot(steps, means, marker="o", label=f"λ = {weight:g}" + (" (MSE only)" if weight == 0 else ""))
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out PSNR (dB)")
    ax.set_title("S3IM ablation")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out_dir / "psnr_curves.png"
    try:
        with atomic_path(path, fsync=False) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return path
