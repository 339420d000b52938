"""Generated bad config values for every field of every config section (each method's own section too):
wrong types, non-finite numbers, values outside the range a field's ``checks()`` declares, unknown keys,
malformed YAML files. Every case must be a NerfplexError naming the dotted key (and, for values, the
flag and what the value must be); a sample also goes through ``nerfplex train`` on the command line.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest
import yaml
from reliability_helpers import assert_user_error, run_cli

from nerfplex.config import ExperimentConfig, config_from_dict, load_config
from nerfplex.config_checks import collect, flag
from nerfplex.errors import NerfplexError
from nerfplex.models.registry import METHODS


def _config(method: str) -> ExperimentConfig:
    return config_from_dict({"model": {"method": method}})


def _leaves(obj: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, value, type) of every non-dataclass field under ``obj``."""
    out = []
    hints = typing.get_type_hints(type(obj))
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            out += _leaves(value, f"{key}.")
        else:
            out.append((key, value, hints[field.name]))
    return out


def _base_type(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _nested(key: str, value: Any, method: str) -> dict:
    """``{"a": {"b": value}}`` for ``"a.b"``, with the model's method when the key is under ``model``."""
    data: dict = {}
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    if parts[0] == "model":
        data["model"]["method"] = method
    return data


def _scopes() -> list[tuple[str, str, Any, Any]]:
    """(method, key, value, type): the general sections once, each method's section for that method."""
    out = []
    for key, value, tp in _leaves(_config("nerf")):
        if not key.startswith("model."):
            out.append(("nerf", key, value, tp))
    for method in METHODS:
        for key, value, tp in _leaves(_config(method)):
            if key.startswith(f"model.{method}."):
                out.append((method, key, value, tp))
    return out


SCOPES = _scopes()


def _wrong_type_cases() -> list:
    cases = []
    for method, key, _, tp in SCOPES:
        base = _base_type(tp)
        origin = typing.get_origin(base)
        if base is bool:
            bad = "maybe"
        elif base in (int, float) or origin in (tuple, list):
            bad = "not-a-number" if base in (int, float) else 7.5
        elif origin is Literal:
            bad = "no-such-choice"
        elif base in (str, Path):
            bad = [1, 2]
        else:
            continue
        cases.append(pytest.param(method, key, bad, id=f"{key}={bad!r}"))
    return cases


def _non_finite_cases() -> list:
    cases = []
    for method, key, _, tp in SCOPES:
        if _base_type(tp) is float:
            for bad in (math.nan, math.inf, -math.inf):
                cases.append(pytest.param(method, key, bad, id=f"{key}={bad}"))
    return cases


CANDIDATES = (-1, 0, -0.5, 1.5, 10**12, 2, 1, 3, 5)


def _replace(config: Any, key: str, value: Any) -> Any:
    head, _, rest = key.partition(".")
    if not rest:
        return dataclasses.replace(config, **{head: value})
    return dataclasses.replace(config, **{head: _replace(getattr(config, head), rest, value)})


def _range_cases() -> list:
    """For every key a ``checks()`` entry guards: a value of the field's type that the check rejects."""
    cases = []
    for method in ["nerf", *[m for m in METHODS if m != "nerf"]]:
        config = _config(method)
        types_by_key = {key: _base_type(tp) for key, _, tp in _leaves(config)}
        seen = set()
        for key, ok, _ in collect(config):
            if not ok or key in seen or key not in types_by_key or types_by_key[key] not in (int, float):
                continue
            if key.startswith("model.") != (method != "nerf" or key.startswith("model.nerf.")):
                continue
            seen.add(key)
            for candidate in CANDIDATES:
                value = types_by_key[key](candidate)
                checks = {k: good for k, good, _ in collect(_replace(config, key, value))}
                if checks.get(key) is False:
                    cases.append(pytest.param(method, key, value, id=f"{method}:{key}={value}"))
                    break
    return cases


WRONG_TYPES, NON_FINITE, OUT_OF_RANGE = _wrong_type_cases(), _non_finite_cases(), _range_cases()


@pytest.mark.parametrize("method, key, value", WRONG_TYPES)
def test_wrong_type_names_the_key(method, key, value):
    with pytest.raises(NerfplexError) as info:
        config_from_dict(_nested(key, value, method))
    assert key.split(".")[-1] in str(info.value)


@pytest.mark.parametrize("method, key, value", NON_FINITE)
def test_non_finite_number_is_rejected_naming_the_flag(method, key, value):
    with pytest.raises(NerfplexError) as info:
        config_from_dict(_nested(key, value, method))
    assert key in str(info.value) and flag(key) in str(info.value) and "finite" in str(info.value)


@pytest.mark.parametrize("method, key, value", OUT_OF_RANGE)
def test_out_of_range_value_names_flag_and_range(method, key, value):
    with pytest.raises(NerfplexError) as info:
        config_from_dict(_nested(key, value, method))
    message = str(info.value)
    assert "must be" in message and "--" in message
    assert key in message or "config " in message  # a check of another field may come first


@pytest.mark.parametrize(
    "section", sorted({key.split(".")[0] for _, key, _, _ in SCOPES if "." in key} | {"model.nerf", "model.tensorf"})
)
def test_unknown_key_in_every_section_is_named(section):
    with pytest.raises(NerfplexError, match="unknown config key|only its method"):
        config_from_dict(_nested(f"{section}.no_such_key", 1, section.split(".")[1] if "." in section else "nerf"))


def test_the_generators_cover_every_section_and_method():
    sections = {key.split(".")[0] for _, key, _, _ in SCOPES}
    assert {"data", "model", "loss", "optim", "trainer", "experiment_name", "output_dir"} <= sections
    assert {p.values[1].split(".")[1] for p in OUT_OF_RANGE if p.values[1].startswith("model.")} == set(METHODS)
    assert len(WRONG_TYPES) + len(NON_FINITE) + len(OUT_OF_RANGE) >= 300


MALFORMED_YAML = {
    "unclosed bracket": b"trainer: [unclosed\n",
    "tab indentation": b"trainer:\n\tmax_steps: 3\n",
    "bad indentation": b"trainer:\n  max_steps: 3\n batch_size: 4\n",
    "not utf-8": "trainer:\n  max_steps: 3 # caf\u00e9\n".encode("latin-1"),
    "binary garbage": bytes(range(256)) * 4,
    "top-level list": b"- 1\n- 2\n",
    "top-level scalar": b"42\n",
    "section is a scalar": b"trainer: 5\n",
    "section is a list": b"data: [1, 2]\n",
    "python tag": b"trainer: !!python/object/apply:os.system ['touch pwned']\n",
    "unknown schema": b"schema_version: 99\n",
    "non-string key": b"trainer:\n  1: 2\n  max_steps: 3\n",
    "duplicate anchor garbage": b"a: &x [*x]\n",
    "nul bytes": b"trainer:\x00 max_steps: 3\n",
    "method not a name": b"model:\n  method: [nerf]\n",
    "unknown method": b"model:\n  method: nerfx\n",
}


@pytest.mark.parametrize("name", list(MALFORMED_YAML))
def test_malformed_yaml_files_are_clear_errors(tmp_path, name):
    path = tmp_path / "bad.yaml"
    path.write_bytes(MALFORMED_YAML[name])
    with pytest.raises(NerfplexError) as info:
        load_config(path)
    assert str(path) in str(info.value) or "config" in str(info.value)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("path_kind", ["folder", "missing", "empty name"])
def test_config_paths_that_are_not_files(tmp_path, path_kind):
    path = {"folder": tmp_path, "missing": tmp_path / "nope.yaml", "empty name": Path("")}[path_kind]
    with pytest.raises(NerfplexError, match="folder|does not exist"):
        load_config(path)


# ----------------------------------------------------------------------------- through the command line
def _cli_sample() -> list:
    """One wrong-range and one non-finite value per section, given as flags to `nerfplex train`."""
    picked, cases = set(), []
    for param in [*OUT_OF_RANGE, *NON_FINITE]:
        method, key, value = param.values
        section = ".".join(key.split(".")[:2]) if key.startswith("model.") else key.split(".")[0]
        kind = "finite" if isinstance(value, float) and not math.isfinite(value) else "range"
        if (section, kind) in picked:
            continue
        picked.add((section, kind))
        cases.append(pytest.param(method, key, value, id=f"{key}={value}"))
    return cases


@pytest.mark.parametrize("method, key, value", _cli_sample())
def test_train_flag_errors_exit_2_without_traceback(tmp_path, capsys, method, key, value):
    args = ["train", "--model.method", method, flag(key), str(value), "--output-dir", tmp_path / "out"]
    code, _, err = run_cli(capsys, args)
    assert_user_error(code, err, flag(key))
    assert not (tmp_path / "out").exists()  # nothing written for a rejected config


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--config="], "--config"),
        (["train", "--resume="], "--resume"),
        (["train", "--config"], "--config"),
        (["train", "--resume", "--trainer.max-steps", "3"], "--resume"),
        (["train", "--config", "."], "folder"),
        (["train", "--resume", "/nonexistent/run"], "/nonexistent/run"),
        (["train", "--experiment-name", "../escape"], "--experiment-name"),
        (["train", "--experiment-name", "/abs/path"], "--experiment-name"),
        (["train", "--experiment-name", ""], "--experiment-name"),
        (["train", "--optim.lr", "0.01"], "--model.tensorf.lr-grid"),
        (["train", "--model.method", "ngp", "--optim.lr", "0.01"], "--model.ngp.learning-rate"),
        (["train", "--model.method", "neus", "--optim.final-factor", "0.5"], "--model.neus"),
        (["train", "--model.tensorf.n-voxel-final", "1000000000000"], "GiB"),
        (["train", "--model.method", "dvgo", "--model.dvgo.fine-num-voxels", "100000000000"], "GiB"),
        (["train", "--model.method", "nerf", "--model.nerf.mlp.skip-layers", "9"], "--model.nerf.mlp.skip-layers"),
        (["train", "--data.near", "-1"], "--data.near"),
        (["train", "--data.near", "2", "--data.far", "1"], "--data.far"),
        (["train", "--data.max-test-views", "0"], "--data.max-test-views"),
        (["train", "--optim.decay-steps", "-5"], "--optim.decay-steps"),
        (["train", "--optim.eps", "0"], "--optim.eps"),
    ],
)
def test_named_command_line_mistakes(tmp_path, capsys, argv, needle):
    code, _, err = run_cli(capsys, [*argv, "--output-dir", tmp_path / "out"] if "--resume" not in argv[1:2] else argv)
    assert_user_error(code, err, needle)
    assert not (tmp_path / "out").exists()


def test_saved_yaml_is_rejected_when_a_value_is_edited_to_nan(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": {"method": "nerf"}, "data": {"near": float("nan")}}))
    with pytest.raises(NerfplexError, match="data.near"):
        load_config(path)
