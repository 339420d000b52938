"""Dataclass configs <-> plain YAML, with strict checking.

Unknown keys and values of the wrong type raise :class:`NerfplexError` naming the dotted key, so a
typo in a YAML file never passes silently. Saved files are plain YAML (no Python tags).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from nerfplex.errors import NerfplexError


def to_dict(config: Any) -> Any:
    """A dataclass tree as plain Python (dicts, lists, str for paths)."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [to_dict(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    return config


def from_dict(cls: type, data: Any, *, base: Any = None, key: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, starting from ``base`` (an instance) or the defaults.

    Keys absent from ``data`` keep the base value, so a YAML file may set only what it changes.
    """
    if not isinstance(data, dict):
        raise NerfplexError(f"config {key or '(top level)'}: expected a mapping, got {data!r}")
    base = base if base is not None else cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f" in section '{key}'" if key else ""
        raise NerfplexError(
            f"unknown config key '{_join(key, unknown[0])}'{where}. Valid keys here: "
            f"{', '.join(sorted(names))}. Fix the spelling or remove the key."
        )
    updates = {}
    for name, value in data.items():
        updates[name] = _convert(hints[name], value, getattr(base, name), _join(key, name))
    return dataclasses.replace(base, **updates)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _convert(tp: Any, value: Any, current: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):  # a subclass instance as the base (a method's model section) keeps its class
        cls = type(current) if isinstance(current, tp) else tp
        return from_dict(cls, value, base=current, key=key)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, current if current is not None else None, key)
            except NerfplexError as err:
                errors.append(str(err))
        raise NerfplexError(errors[0])
    if origin is Literal:
        if value not in args:
            raise NerfplexError(f"config {key}: {value!r} is not one of {', '.join(map(repr, args))}.")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise NerfplexError(f"config {key}: expected a list, got {value!r}.")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_convert(args[0], v, None, f"{key}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple:
            if len(value) != len(args):
                raise NerfplexError(f"config {key}: expected {len(args)} values, got {len(value)}.")
            items = [_convert(a, v, None, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value))]
        else:
            items = [_convert(args[0], v, None, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    return _convert_scalar(tp, value, key)


def _convert_scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is float and isinstance(value, str) and _is_number(value):
        value = float(value)  # PyYAML reads 1e-4 (no dot) as a string: YAML 1.1's float rule
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        Path: isinstance(value, (str, Path)),
    }
    if tp not in ok:
        raise TypeError(f"config {key}: unsupported field type {tp}")
    if not ok[tp]:
        raise NerfplexError(f"config {key}: expected {tp.__name__}, got {value!r} ({type(value).__name__}).")
    return tp(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity")


def load_yaml(path: Path) -> dict:
    """Read a YAML mapping; a missing or malformed file raises NerfplexError."""
    path = Path(path)
    if path.is_dir():
        raise NerfplexError(
            f"config file {path} is a folder. Pass a YAML file, e.g. configs/demo.yaml (or "
            f"{path / 'config.yaml'} for a run folder)."
        )
    if not path.is_file():
        raise NerfplexError(f"config file {path} does not exist. Check the path (e.g. configs/demo.yaml).")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as err:
        raise NerfplexError(
            f"config file {path} is not UTF-8 text (byte {err.start}); save it as UTF-8 YAML."
        ) from None
    except yaml.YAMLError as err:
        raise NerfplexError(f"config file {path} is not valid YAML: {' '.join(str(err).split())}") from None
    except (OSError, RecursionError) as err:
        raise NerfplexError(f"cannot read config file {path}: {err}. Check the file.") from None
    if not isinstance(data, dict):
        raise NerfplexError(f"config file {path} must hold a mapping of keys to values.")
    return data


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
