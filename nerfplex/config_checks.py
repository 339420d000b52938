"""Value checks beside the fields they check (the ``checks()`` protocol), and the walker that runs them.

Any config dataclass may define ``checks(self) -> list[tuple[str, bool, str]]`` returning
``(field_name, ok, "what it must be")`` tuples, field names relative to that dataclass. :func:`run_checks`
walks a whole dataclass tree, calls every ``checks()``, rejects non-finite floats everywhere, and raises
:class:`NerfplexError` naming the command-line flag (``--model.tensorf.n-voxel-init``) and the valid range.
The helpers below build the common tuples.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from typing import Any

from nerfplex.errors import NerfplexError

Check = tuple[str, bool, str]


def positive(obj: Any, *names: str) -> list[Check]:
    """``name > 0`` for each name."""
    return [(name, _number(obj, name) > 0, "a positive number") for name in names]


def non_negative(obj: Any, *names: str) -> list[Check]:
    """``name >= 0`` for each name."""
    return [(name, _number(obj, name) >= 0, "0 or positive") for name in names]


def at_least(obj: Any, name: str, low: float, what: str = "") -> Check:
    return name, _number(obj, name) >= low, what or f"at least {low}"


def within(obj: Any, name: str, low: float, high: float, closed_high: bool = True) -> Check:
    """``low <= name <= high`` (or ``< high``)."""
    value = _number(obj, name)
    ok = low <= value <= high if closed_high else low <= value < high
    return name, ok, f"in [{low}, {high}{']' if closed_high else ')'}"


def increasing_steps(obj: Any, name: str, first: int = 0) -> Check:
    steps = list(_get(obj, name))
    return (
        name,
        steps == sorted(set(steps)) and min(steps, default=first) >= first,
        f"strictly increasing steps, none below {first}",
    )


def voxel_bound(obj: Any, name: str, limit: int, need_bytes: float) -> Check:
    """A voxel count with an upper bound; the message says how much memory (``need_bytes``) the value
    would take."""
    value = _number(obj, name)
    need = need_bytes / 2**30
    root = round(limit ** (1 / 3))
    return (
        name,
        0 < value <= limit,
        f"a positive voxel count of at most {limit:,} ({root}^3); {value:,} voxels would take about "
        f"{need:,.1f} GiB for the grid and its optimiser state",
    )


def _number(obj: Any, name: str) -> float:
    value = _get(obj, name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def flag(key: str) -> str:
    """The command-line flag of a dotted config key: ``model.tensorf.n_voxel_init`` ->
    ``--model.tensorf.n-voxel-init``."""
    return "--" + key.replace("_", "-")


def collect(config: Any, prefix: str = "") -> Iterator[tuple[str, bool, str]]:
    """Every check of a dataclass tree, with dotted keys: non-finite floats first, then ``checks()``."""
    if not dataclasses.is_dataclass(config):
        return
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            yield from collect(value, f"{key}.")
        elif isinstance(value, float) or (
            isinstance(value, (list, tuple)) and any(isinstance(v, float) for v in value)
        ):
            values = value if isinstance(value, (list, tuple)) else [value]
            yield key, all(math.isfinite(v) for v in values if isinstance(v, float)), "a finite number"
    checks = getattr(config, "checks", None)
    if callable(checks):
        for name, ok, expected in checks():
            yield f"{prefix}{name}", bool(ok), expected


def run_checks(config: Any, prefix: str = "", extra: Iterable[Check] = ()) -> None:
    """Raise :class:`NerfplexError` for the first failed check of ``config`` (or of ``extra``, whose keys
    are already dotted): the key, its value, what it must be, and the flag that sets it."""
    for key, ok, expected in [*collect(config, prefix), *extra]:
        if not ok:
            try:
                value = _get(config, key[len(prefix) :]) if key.startswith(prefix) else None
            except AttributeError:
                value = None
            raise NerfplexError(
                f"config {key} = {value!r} is invalid: it must be {expected}. Set it with "
                f"{flag(key)} (or in the YAML file)."
            )
