"""A sweep spec: a base config, axes over config keys, seeds -> one resolved config per run.

A spec is a YAML mapping (docs/sweeps.md)::

    name: s3im-lego                 # the sweep folder's name (default: the spec file's stem)
    base: configs/tensorf_lego.yaml # base experiment config (default: the built-in demo)
    set: {data.downscale: 4}        # overrides on the base, dotted config keys
    axes:
      loss.s3im.weight: [0, 1, 5]   # a config key and its values
      backbone:                     # or a named axis whose values are labelled groups of settings
        ngp: {model.method: ngp}
        tensorf: {model.method: tensorf, optim.beta2: 0.99}
    seeds: [0, 1, 2]                # every point runs once per seed (written to ``seed_key``)
    baseline: {loss.s3im.weight: 0} # paired differences against this value of one axis
    retries: 2                      # extra attempts of a failed run, each resumed from its checkpoint

Keys are applied through the project's config loader (:func:`nerfplex.config.config_from_dict`), so any
key a config YAML accepts is a valid axis and nothing here knows the config tree. Every mistake (unknown
key, empty axis, duplicate points, a bad value) raises :class:`NerfplexError` before anything runs.
Paths (``base``, ``output``, and those inside configs such as ``data.path``) are relative to the current
folder, as everywhere else in nerfplex.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from nerfplex.config import ExperimentConfig, config_from_dict, load_config
from nerfplex.config_io import load_yaml, to_dict
from nerfplex.errors import NerfplexError

SPEC_KEYS = ("name", "base", "set", "axes", "seeds", "seed_key", "baseline", "retries", "output")


@dataclass(frozen=True)
class Axis:
    """One sweep dimension. ``values`` maps each value's label to the dotted overrides it applies."""

    name: str
    labels: tuple[str, ...]
    overrides: tuple[dict[str, Any], ...]
    short: str = ""
    """Name used in run-folder names (the last part of a dotted key when that is unambiguous)."""

    def value(self, label: str) -> Any:
        """The raw value of a single-key axis (the label's override), else the label itself."""
        overrides = self.overrides[self.labels.index(label)]
        return overrides[self.name] if list(overrides) == [self.name] else label


@dataclass(frozen=True)
class Run:
    """One training run of the sweep: a point of the grid and a seed."""

    run_id: str
    """Folder name under ``runs/``, e.g. ``weight-1_train_fraction-0.1_seed-0``."""
    point: tuple[tuple[str, str], ...]
    """(axis name, value label) for every axis, in the spec's order."""
    seed: int
    config: ExperimentConfig
    """The resolved config this run trains with."""

    @property
    def point_id(self) -> str:
        """The run id without its seed: identifies the point."""
        return self.run_id.rsplit("_seed-", 1)[0]


@dataclass
class SweepSpec:
    """A parsed, validated spec; :attr:`runs` lists every run in a stable order: every point with the
    first seed, then every point with the second, ... (an unfinished sweep has whole seeds to compare)."""

    name: str
    axes: list[Axis]
    seeds: list[int]
    runs: list[Run]
    baseline: Optional[tuple[str, str]] = None
    """(axis name, value label) the paired differences are taken against."""
    retries: int = 2
    output: Optional[Path] = None
    base: ExperimentConfig = field(default_factory=ExperimentConfig)

    def default_output(self) -> Path:
        return self.output or Path(self.base.output_dir) / "sweeps" / self.name


def nested(overrides: dict[str, Any]) -> dict:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}`` (``-`` in keys read as ``_``)."""
    data: dict = {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not key:
            raise NerfplexError(f"sweep spec: config keys are dotted strings such as trainer.max_steps, got {key!r}.")
        node = data
        *parents, leaf = key.replace("-", "_").split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise NerfplexError(f"sweep spec: key {key!r} goes inside {part!r}, which is set to a value.")
            node = child
        node[leaf] = value
    return data


def apply_overrides(config: ExperimentConfig, overrides: dict[str, Any], source: str) -> ExperimentConfig:
    """``config`` with the dotted ``overrides`` applied and validated by the config loader."""
    return config_from_dict(nested(overrides), base=config, source=source)


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return "+".join(_label(v) for v in value)
    return str(value)


def _safe(text: str) -> str:
    """A folder-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._+=-]+", "-", text).strip("-") or "x"


def _parse_axes(raw: Any) -> list[Axis]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise NerfplexError(
            "sweep spec: 'axes' must be a mapping of config keys to lists of values, "
            "e.g. axes: {loss.s3im.weight: [0, 1]}."
        )
    axes = []
    for name, values in raw.items():
        if isinstance(values, dict):  # a named axis: label -> overrides
            if not values:
                raise NerfplexError(f"sweep spec: axis {name!r} has no values; give it at least one.")
            labels, overrides = [], []
            for label, group in values.items():
                if not isinstance(group, dict) or not group:
                    raise NerfplexError(
                        f"sweep spec: axis {name!r} value {label!r} must be a non-empty "
                        f"mapping of config keys to values, e.g. {{model.method: ngp}}."
                    )
                labels.append(_label(label))
                overrides.append(dict(group))
        elif isinstance(values, list):
            if not values:
                raise NerfplexError(f"sweep spec: axis {name!r} is empty; give it at least one value.")
            labels = [_label(v) for v in values]
            overrides = [{name: v} for v in values]
        else:
            raise NerfplexError(
                f"sweep spec: axis {name!r} must be a list of values (or a mapping of "
                f"labels to settings), got {values!r}."
            )
        seen = [label for label in labels if labels.count(label) > 1]
        if seen:
            raise NerfplexError(
                f"sweep spec: axis {name!r} lists the value {seen[0]!r} twice: duplicate points. Remove the repeat."
            )
        axes.append(Axis(str(name), tuple(labels), tuple(overrides)))
    keys: dict[str, str] = {}
    for axis in axes:
        for key in {k for group in axis.overrides for k in group}:
            norm = key.replace("-", "_")
            if norm in keys and keys[norm] != axis.name:
                raise NerfplexError(
                    f"sweep spec: config key {key!r} is set by two axes ({keys[norm]!r} and "
                    f"{axis.name!r}); every key belongs to one axis."
                )
            keys[norm] = axis.name
    shorts = [axis.name.rsplit(".", 1)[-1] for axis in axes]
    return [
        replace(axis, short=_safe(s if shorts.count(s) == 1 else axis.name.replace(".", "-")))
        for axis, s in zip(axes, shorts)
    ]


def _comparable(config: ExperimentConfig) -> dict:
    data = to_dict(config)
    data.pop("experiment_name", None)
    data.pop("output_dir", None)
    return data


def parse_spec(
    raw: dict, source: str = "sweep spec", base_dir: Path = Path("."), base: Optional[ExperimentConfig] = None
) -> SweepSpec:
    """Validate ``raw`` (a loaded spec mapping) and resolve every run's config.

    ``base`` replaces the spec's ``base`` file (used by ``nerfplex ablate``). Relative paths in the spec
    (``base``, ``output``) are relative to ``base_dir``."""
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise NerfplexError(f"{source}: unknown key {unknown[0]!r}. Valid keys: {', '.join(SPEC_KEYS)}.")
    if base is None:
        base = load_config(base_dir / raw["base"]) if raw.get("base") else ExperimentConfig()
    settings = raw.get("set") or {}
    if not isinstance(settings, dict):
        raise NerfplexError(f"{source}: 'set' must be a mapping of dotted config keys to values.")
    base = apply_overrides(base, settings, f"{source} 'set'")
    axes = _parse_axes(raw.get("axes"))
    seeds = raw.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise NerfplexError(f"{source}: 'seeds' must be a non-empty list of integers, got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise NerfplexError(f"{source}: 'seeds' repeats a seed ({seeds}): duplicate points.")
    seed_key = raw.get("seed_key", "trainer.seed")
    retries = raw.get("retries", 2)
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise NerfplexError(f"{source}: 'retries' must be 0 or a positive integer, got {retries!r}.")
    name = _safe(str(raw.get("name") or Path(source).stem))
    baseline = _parse_baseline(raw.get("baseline"), axes, source)

    points: list[tuple[str, tuple, ExperimentConfig]] = []
    resolved: dict[str, str] = {}  # comparable config -> point label, to find duplicate points
    for labels in itertools.product(*(axis.labels for axis in axes)):
        point = tuple((axis.name, label) for axis, label in zip(axes, labels))
        overrides: dict[str, Any] = {}
        for axis, label in zip(axes, labels):
            overrides.update(axis.overrides[axis.labels.index(label)])
        where = ", ".join(f"{a}={v}" for a, v in point) or "the base point"
        config = apply_overrides(base, overrides, f"{source} (point {where})")
        key = repr(_comparable(config))
        if key in resolved:
            raise NerfplexError(
                f"{source}: points {resolved[key]} and {where} resolve to the same config: "
                f"duplicate points. Remove one of the values."
            )
        resolved[key] = where
        point_id = "_".join(f"{axis.short}-{_safe(label)}" for axis, label in zip(axes, labels)) or "base"
        points.append((point_id, point, config))
    runs = [
        Run(f"{point_id}_seed-{seed}", point, seed, apply_overrides(config, {seed_key: seed}, f"{source} seed_key"))
        for seed in seeds
        for point_id, point, config in points
    ]  # seed-major: early seeds complete first
    ids = [run.run_id for run in runs]
    clash = next((i for i in ids if ids.count(i) > 1), None)
    if clash:
        raise NerfplexError(
            f"{source}: two points get the folder name {clash!r}; give the values labels "
            f"that differ in letters or digits."
        )
    output = raw.get("output")
    return SweepSpec(
        name=name,
        axes=axes,
        seeds=list(seeds),
        runs=runs,
        baseline=baseline,
        retries=retries,
        output=base_dir / output if output else None,
        base=base,
    )


def _parse_baseline(raw: Any, axes: list[Axis], source: str) -> Optional[tuple[str, str]]:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise NerfplexError(
            f"{source}: 'baseline' must name one axis and its value, e.g. baseline: {{loss.s3im.weight: 0}}."
        )
    ((name, value),) = raw.items()
    axis = next((a for a in axes if a.name == name), None)
    if axis is None:
        raise NerfplexError(
            f"{source}: baseline axis {name!r} is not one of the axes ({', '.join(a.name for a in axes) or 'none'})."
        )
    label = _label(value)
    if label not in axis.labels:
        raise NerfplexError(
            f"{source}: baseline value {value!r} is not a value of axis {name!r} ({', '.join(axis.labels)})."
        )
    return name, label


def load_spec(path: Path) -> SweepSpec:
    """Read and validate a spec file."""
    path = Path(path)
    return parse_spec(load_yaml(path), source=str(path))
