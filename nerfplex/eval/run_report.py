"""A run's report: its metrics as Markdown tables and its training curves as PNG plots.

Sources, all optional except the run folder itself: ``config.yaml`` (method, scene), ``metrics.json``
(what the trainer wrote at the end), the newest ``eval/step_<N>/metrics.json`` (``nerfplex eval``),
``renders/*/render.json`` (``nerfplex render``) and the scalars of ``tensorboard/`` event files
(``loss/*``, ``train/psnr``, ``train/lr``, ``train/rays_per_sec``, ``eval/*``, ``test/*``; see
:mod:`nerfplex.engine.trainer`). Output: ``RUN/report/report.md`` and ``RUN/report/plots/*.png``, written
atomically.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

from nerfplex.data.files import read_json_object
from nerfplex.errors import NerfplexError
from nerfplex.io import staged_output, write_text_atomic

Series = dict[str, list[tuple[int, float]]]

PLOTS = {
    "losses": ("Training losses", lambda tag: tag.startswith("loss/"), True),
    "psnr": ("PSNR (dB)", lambda tag: tag.endswith("/psnr"), False),
    "ssim": ("SSIM", lambda tag: tag.endswith("/ssim"), False),
    "perceptual": (
        "Perceptual distances (lower is better)",
        lambda tag: tag.split("/")[-1].startswith(("lpips", "dreamsim")),
        False,
    ),
    "learning_rate": ("Learning rate", lambda tag: tag == "train/lr", True),
    "throughput": ("Training rays per second", lambda tag: tag == "train/rays_per_sec", False),
}
"""name -> (title, which scalar tags it shows, logarithmic y axis)."""


def read_scalars(tensorboard_dir: Path) -> Series:
    """Every scalar tag of the event files in ``tensorboard_dir``: ``{tag: [(step, value)]}`` sorted by
    step, one value per step (the last written, e.g. after a resume)."""
    tensorboard_dir = Path(tensorboard_dir)
    if not tensorboard_dir.is_dir() or not any(tensorboard_dir.glob("events.out.tfevents.*")):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(tensorboard_dir), size_guidance={"scalars": 0, "images": 1, "tensors": 0})
    accumulator.Reload()
    series = {}
    for tag in accumulator.Tags().get("scalars", []):
        by_step = {event.step: float(event.value) for event in accumulator.Scalars(tag)}
        series[tag] = sorted(by_step.items())
    return series


def read_json(path: Path) -> dict:
    """A JSON object nerfplex wrote into a run (metrics.json, render.json); a corrupt one is an error that
    says which file to remove or regenerate."""
    try:
        return read_json_object(path, "nerfplex output file")
    except NerfplexError as err:
        raise NerfplexError(
            f"{err} It is an output of nerfplex: delete it (or re-run the command that wrote it) and try again."
        ) from None


def latest_evaluation(run_dir: Path) -> Optional[dict]:
    """The newest ``RUN/eval/step_<N>/metrics.json`` (by step), or None."""
    candidates = []
    for path in Path(run_dir, "eval").glob("step_*/metrics.json"):
        match = re.fullmatch(r"step_(\d+)", path.parent.name)
        if match:
            candidates.append((int(match.group(1)), path))
    if not candidates:
        return None
    path = max(candidates)[1]
    data = read_json(path)
    data["path"] = str(path.parent.relative_to(run_dir))
    return data


def plot_series(series: Series, path: Path, title: str, log_y: bool) -> None:
    """One figure with one line per tag (markers when a tag has few points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    try:
        for tag, points in sorted(series.items()):
            steps, values = zip(*points)
            if log_y and any(v <= 0 for v in values):
                log_y = False
            axes.plot(steps, values, label=tag, marker="o" if len(points) <= 20 else None, markersize=3)
        axes.set_xlabel("step")
        axes.set_title(title)
        if log_y:
            axes.set_yscale("log")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3e}" if 0 < abs(value) < 10 ** -(digits - 1) else f"{value:.{digits}f}"
    return str(value)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows),
    ]


def _run_summary(run_dir: Path, final: Optional[dict]) -> list[str]:
    config_path = run_dir / "config.yaml"
    rows = []
    if config_path.is_file():
        from nerfplex.config_io import load_yaml

        config = load_yaml(config_path)
        rows.append(["method", str(config.get("model", {}).get("method", "?"))])
        data = config.get("data", {})
        source = data.get("path") or data.get("scene") or ""
        rows.append(["data", f"{data.get('kind', '?')} {source}".strip()])
        rows.append(["S3IM weight", str(config.get("loss", {}).get("s3im", {}).get("weight", "?"))])
    if final:
        rows += [
            ["steps", str(final.get("step"))],
            ["training time", f"{final.get('train_seconds', 0):.1f} s"],
            ["rays / s", f"{final.get('rays_per_second', 0):,.0f}"],
            ["peak memory", f"{final.get('peak_memory_mb', 0):,.0f} MB ({final.get('peak_memory_kind', '?')})"],
        ]
    return _markdown_table(["", ""], rows) if rows else ["(no config.yaml or metrics.json)"]


def build_report(
    run_dir: Path,
    series: Series,
    final: Optional[dict],
    evaluation: Optional[dict],
    plots: list[str],
    renders: list[dict],
) -> str:
    """The Markdown text of the report."""
    lines = [f"# Run report: {run_dir.name}", "", f"Run folder: `{run_dir}`", "", "## Run", ""]
    lines += _run_summary(run_dir, final)
    lines += ["", "## Held-out metrics", ""]
    if evaluation:
        lines.append(
            f"`nerfplex eval` at step {evaluation.get('step')} over {evaluation.get('num_views')} "
            f"test views ({evaluation['path']}); means of per-image values:"
        )
        lines.append("")
        lines += _markdown_table(
            ["metric", "mean", "convention"],
            [
                [name, _fmt(value), evaluation.get("conventions", {}).get(name, "")]
                for name, value in evaluation.get("metrics", {}).items()
            ],
        )
        for name, reason in evaluation.get("skipped", {}).items():
            lines += ["", f"- **{name} skipped**: {reason}"]
        per_image = evaluation.get("per_image", [])
        if per_image:
            names = list(evaluation.get("metrics", {}))
            lines += ["", "<details><summary>Per image</summary>", ""]
            lines += _markdown_table(
                ["image", *names], [[row["name"], *(_fmt(row.get(n)) for n in names)] for row in per_image]
            )
            lines += ["", "</details>"]
    elif final:
        lines.append(
            f"From training's final evaluation (metrics.json) over {final.get('num_test_views')} "
            f"test views; run `nerfplex eval --load-config {run_dir / 'config.yaml'}` for LPIPS / "
            f"DreamSim and images."
        )
        lines += [""] + _markdown_table(
            ["metric", "mean"], [["psnr", _fmt(final.get("psnr"))], ["ssim", _fmt(final.get("ssim"))]]
        )
    else:
        lines.append("No evaluation yet (no metrics.json, no eval/ folder).")
    history = (final or {}).get("eval_history") or []
    if len(history) > 1:
        lines += ["", "Evaluations during training:", ""]
        lines += _markdown_table(
            ["step", "psnr", "ssim"], [[str(h.get("step")), _fmt(h.get("psnr")), _fmt(h.get("ssim"))] for h in history]
        )
    lines += ["", "## Training curves", ""]
    if plots:
        lines += [f"![{name}](plots/{name}.png)" for name in plots]
    else:
        lines.append("No TensorBoard scalars found in tensorboard/.")
    if series:
        lines += ["", "Last logged values:", ""]
        lines += _markdown_table(
            ["tag", "step", "value"],
            [[tag, str(points[-1][0]), _fmt(points[-1][1], 6)] for tag, points in sorted(series.items())],
        )
    if renders:
        lines += ["", "## Renders", ""]
        lines += _markdown_table(
            ["folder", "path", "frames", "size", "format", "seconds / frame"],
            [
                [
                    r["folder"],
                    str(r.get("path")),
                    str(r.get("frames")),
                    f"{r.get('width')}x{r.get('height')}",
                    str(r.get("format")),
                    _fmt(r.get("seconds_per_frame"), 2),
                ]
                for r in renders
            ],
        )
    return "\n".join(lines) + "\n"


def write_run_report(run_dir: Path, output: Optional[Path] = None, overwrite: bool = False) -> Path:
    """Write ``RUN/report/`` (or ``output``): report.md and plots/*.png; returns the report.md path. The
    default folder replaces the report nerfplex wrote before; an existing non-empty ``output`` is replaced
    only with ``overwrite`` and only when nerfplex wrote it."""
    run_dir = Path(run_dir)
    if run_dir.is_file() and run_dir.name == "config.yaml":
        run_dir = run_dir.parent
    if not run_dir.is_dir():
        raise NerfplexError(
            f"{run_dir} is not a run folder. Pass the folder that training printed, e.g. outputs/demo/20260101-120000."
        )
    final_path = run_dir / "metrics.json"
    final = read_json(final_path) if final_path.is_file() else None
    evaluation = latest_evaluation(run_dir)
    series = read_scalars(run_dir / "tensorboard")
    renders = []
    for info_path in sorted(run_dir.glob("renders/*/render.json")):
        folder = str(info_path.parent.relative_to(run_dir))
        renders.append({"folder": folder, **read_json(info_path)})
    if final is None and evaluation is None and not series:
        raise NerfplexError(
            f"{run_dir} has nothing to report yet: no metrics.json, eval/ or tensorboard/ "
            f"events. Train (or evaluate) the run first."
        )
    replace = overwrite or output is None  # the default folder is the report nerfplex wrote before
    output = Path(output) if output is not None else run_dir / "report"
    with staged_output(output, "report", replace) as staging:
        (staging / "plots").mkdir()
        plots = []
        for name, (title, selects, log_y) in PLOTS.items():
            chosen = {tag: points for tag, points in series.items() if selects(tag) and points}
            if chosen:
                plot_series(chosen, staging / "plots" / f"{name}.png", title, log_y)
                plots.append(name)
        text = build_report(run_dir, series, final, evaluation, plots, renders)
        write_text_atomic(staging / "report.md", text)
    return output / "report.md"


def report_after_training(run_dir: Path, echo: bool = True) -> Optional[Path]:
    """:func:`write_run_report` for the end of ``nerfplex train``: prints where the report is; a failure
    is printed as a warning and returns None instead of failing the finished training."""
    try:
        path = write_run_report(run_dir)
    except Exception as err:  # noqa: BLE001 - the run itself is complete and saved
        print(
            f"warning: no run report ({type(err).__name__}: {err}); retry with: nerfplex report {run_dir}",
            file=sys.stderr,
        )
        return None
    if echo:
        print(f"report: {path}")
    return path
