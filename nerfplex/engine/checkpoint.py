"""Versioned, atomically written checkpoints that cannot run code and refuse a mismatched config.

A checkpoint is a ``torch.save`` of plain types only (tensors, numbers, strings, lists, dicts), written
through :func:`nerfplex.io.atomic_path` and read with ``torch.load(weights_only=True)``: a ``.pt`` file
from elsewhere can never execute code. Each checkpoint records what it needs to refuse a config that
does not fit its weights (``meta``: the method, the model section of the config and its hash, the
parameter shapes), and is only written when every weight and optimiser value is finite.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import torch

from nerfplex.errors import NerfplexError
from nerfplex.io import atomic_path, os_error_message

CHECKPOINT_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Version 1 (no ``meta``) still loads; its config is then checked only by the shapes of the weights."""
_NAME = re.compile(r"^step-(\d+)\.pt$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:07d}.pt"


# ----------------------------------------------------------------------------- what a checkpoint is for
def model_settings(config: Any) -> dict:
    """The part of an experiment config that fixes the weights: the method and its own section, as
    plain types (``{"method": "tensorf", "tensorf": {...}}``)."""
    from nerfplex.config_io import to_dict

    section = to_dict(config.model)
    method = section.get("method")
    if isinstance(section.get(method), dict):
        return {"method": method, method: section[method]}
    return section


def settings_hash(settings: dict) -> str:
    """A short stable hash of :func:`model_settings`."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def checkpoint_meta(config: Any, model: torch.nn.Module) -> dict:
    """The ``meta`` entry of a checkpoint: method, model settings, their hash and parameter shapes."""
    settings = model_settings(config)
    return {
        "method": settings.get("method"),
        "model_settings": settings,
        "config_hash": settings_hash(settings),
        "shapes": {name: list(value.shape) for name, value in model.state_dict().items()},
    }


def check_matches(meta: Optional[dict], config: Any, path: Path, fix: str) -> None:
    """Raise :class:`NerfplexError` when ``config``'s model settings differ from the checkpoint's.

    ``fix`` finishes the message (what the user should do instead)."""
    if not meta:  # a version-1 checkpoint: loading the weights checks their shapes
        return
    settings = model_settings(config)
    if meta.get("config_hash") == settings_hash(settings):
        return
    saved = meta.get("model_settings") or {}
    if saved.get("method") != settings.get("method"):
        raise NerfplexError(
            f"checkpoint {path} holds a '{saved.get('method')}' model but the config asks "
            f"for '{settings.get('method')}'. {fix}"
        )
    differences = sorted(_differences(saved, settings, "model"))
    shown = "; ".join(f"{key}: {old!r} in the checkpoint, {new!r} now" for key, old, new in differences[:3])
    more = f" (and {len(differences) - 3} more)" if len(differences) > 3 else ""
    raise NerfplexError(f"checkpoint {path} was trained with other model settings: {shown or 'changed'}{more}. {fix}")


def _differences(old: Any, new: Any, key: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for name in sorted(set(old) | set(new)):
            yield from _differences(old.get(name), new.get(name), f"{key}.{name}")
    elif old != new:
        yield key, old, new


# ----------------------------------------------------------------------------- finite check
def non_finite_entries(state: dict, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a (nested) state dict that hold NaN or inf."""
    bad = []
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                bad.append(name)
        elif isinstance(value, dict):
            bad += non_finite_entries(value, f"{name}.")
        elif isinstance(value, (list, tuple)):
            bad += non_finite_entries(dict(enumerate(value)), f"{name}.")
    return bad


# ----------------------------------------------------------------------------- files
def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format version) atomically (:func:`nerfplex.io.atomic_path`).

    A full or read-only disk raises :class:`NerfplexError` and leaves the older checkpoints as they were.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            torch.save({"version": CHECKPOINT_VERSION, **state}, tmp)
    except OSError as err:
        raise NerfplexError(f"could not save checkpoint {path}: {os_error_message(err, path.parent)}") from None
    except RuntimeError as err:  # torch's zip writer reports a failed write as RuntimeError
        if "inline_container" not in str(err) and "write" not in str(err).lower():
            raise
        raise NerfplexError(
            f"could not save checkpoint {path}: the write failed ({str(err).splitlines()[0]}); "
            f"the disk is probably full. Free some space and resume the run."
        ) from None


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Optional[Path]:
    paths = list_checkpoints(run_dir)
    return paths[-1] if paths else None


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for path in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        path.unlink(missing_ok=True)


def load_checkpoint(path: Path, map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no code in the file can run). ``mmap``: map the
    tensors instead of reading them (cheap, for looking at ``meta`` only)."""
    path = Path(path)
    if path.is_dir():
        raise NerfplexError(
            f"checkpoint {path} is a folder; pass a checkpoint file such as RUN/checkpoints/step-0000700.pt."
        )
    if not path.is_file():
        raise NerfplexError(f"checkpoint {path} does not exist. Pass a file from a run's checkpoints/ folder.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        reason = str(err).splitlines()[0][:200]
        raise NerfplexError(
            f"checkpoint {path} is not a nerfplex checkpoint: it holds objects other than "
            f"tensors and plain values ({reason}), and nerfplex never runs code from a "
            f"checkpoint. Use a checkpoint that nerfplex wrote."
        ) from None
    except Exception as err:  # a truncated or foreign file
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise NerfplexError(
            f"cannot read checkpoint {path}: {reason}. Use another checkpoint of the run "
            f"(delete this one) or start a new run."
        ) from None
    if not isinstance(state, dict) or state.get("version") not in READABLE_VERSIONS:
        version = state.get("version") if isinstance(state, dict) else None
        raise NerfplexError(
            f"{path} is not a nerfplex checkpoint this version reads (format version "
            f"{version!r}; readable: {', '.join(map(str, READABLE_VERSIONS))})."
        )
    missing = [key for key in ("model", "step") if key not in state]
    if missing:
        raise NerfplexError(
            f"checkpoint {path} lacks {', '.join(missing)}; it is not a nerfplex training "
            f"checkpoint. Use one from a run's checkpoints/ folder."
        )
    return state


def load_model_weights(model: torch.nn.Module, state: dict[str, Any], path: Path, fix: str) -> None:
    """``model.load_state_dict(state["model"])``; weights that do not fit raise :class:`NerfplexError`."""
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as err:
        reason = " ".join(str(err).split())[:300]
        raise NerfplexError(
            f"the weights in checkpoint {path} do not fit the configured model ({reason}). {fix}"
        ) from None
