"""Reading a dataset's non-image files (JSON, text matrices, ``.npy`` / ``.npz``) with errors that name
the file and say how to fix it. Parsers build on these; no format knowledge lives here."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nerfplex.errors import NerfplexError

__all__ = ["require_file", "read_json_object", "read_text_numbers", "read_npy", "read_npz", "finite_positive"]


def require_file(path: Path, what: str, hint: str) -> Path:
    """``path`` if it is a file; else a NerfplexError saying ``what`` it should hold and ``hint``."""
    if path.is_file():
        return path
    state = "is a folder" if path.is_dir() else "not found"
    raise NerfplexError(f"{what} {path} {state}; {hint}")


def read_json_object(path: Path, what: str = "JSON file") -> dict:
    """The top-level JSON object of ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NerfplexError(f"{path} is not UTF-8 text ({exc}); is it really the dataset's {what}?") from exc
    except OSError as exc:
        raise NerfplexError(f"could not read {path}: {exc}.") from exc
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NerfplexError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            f"Fix the syntax there (e.g. a missing comma or bracket, a trailing comma, "
            f"NaN) or re-download the dataset."
        ) from exc
    if not isinstance(meta, dict):
        raise NerfplexError(
            f"{path} must hold a JSON object (the {what}), but its top level is a {type(meta).__name__}."
        )
    return meta


def read_text_numbers(path: Path, what: str) -> list[list[float]]:
    """The whitespace-separated numbers of a text file, one list per non-empty line.

    Raises a NerfplexError naming ``path`` for an unreadable file, a non-number or a non-finite one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NerfplexError(f"could not read {what} {path}: {exc}. Restore or re-download the file.") from exc
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            row = [float(p) for p in parts]
        except ValueError:
            raise NerfplexError(
                f"{what} {path} line {lineno} is not a row of numbers: "
                f"{line.strip()[:60]!r}. Restore or re-download the file."
            ) from None
        if not all(np.isfinite(row)):
            raise NerfplexError(
                f"{what} {path} line {lineno} holds NaN or infinite values; restore or re-download the file."
            )
        rows.append(row)
    if not rows:
        raise NerfplexError(f"{what} {path} is empty; restore or re-download the file.")
    return rows


def read_npy(path: Path, what: str) -> np.ndarray:
    """An array from a ``.npy`` file (no pickles)."""
    if not path.is_file():
        raise NerfplexError(f"{what} {path} not found; restore the file or remove the entry that names it.")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise NerfplexError(
            f"could not read {what} {path}: {_reason(exc)}. The file is corrupt or not a "
            f".npy array; re-download or re-create it."
        ) from None


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz`` file (no pickles), as a plain dict."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise NerfplexError(
            f"could not read {what} {path}: {_reason(exc)}. The file is corrupt or not a "
            f".npz archive; re-download the dataset."
        ) from None


def _reason(exc: BaseException) -> str:
    """Why numpy could not read a file, without numpy's advice to allow pickles (nerfplex never does)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "pickle" in text.lower():
        return "it holds Python objects, and nerfplex reads plain numeric arrays only"
    return text


def finite_positive(value: Any) -> bool:
    """A finite number > 0 (bools excluded)."""
    return (
        isinstance(value, (int, float, np.number))
        and not isinstance(value, bool)
        and bool(np.isfinite(value))
        and value > 0
    )
