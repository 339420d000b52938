"""The one way nerfplex writes files and folders: atomically, with the user's umask.

Every file nerfplex writes goes through :func:`atomic_path` (or its helpers :func:`write_text_atomic` /
:func:`write_bytes_atomic`): the content is written to a temporary file beside the destination, flushed to
disk, given the permissions a plain ``open()`` would give under the user's umask, and renamed into place.
A crash at any moment leaves either the old file or the new one, never half of one. Folders that must
appear whole (an evaluation, a dataset, a scene) are built in a staging folder by
:func:`staged_directory` and renamed at the end.

Temporaries carry a recognisable name (``.NAME.TOKEN.nerfplex-tmp[.EXT]``, ``.NAME.partial-TOKEN``) so
that :func:`remove_orphan_temporaries` can clean up after a killed process without ever touching a file
nerfplex did not write.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from nerfplex.errors import NerfplexError

_TMP_MARK = "nerfplex-tmp"
_ORPHAN = re.compile(r"^\..+\.[0-9a-f]{8}\.nerfplex-tmp(\.[A-Za-z0-9]+)?$|^\..+\.partial-[0-9a-f]{8}$")


def file_mode(base: int = 0o666) -> int:
    """The permission bits ``open()`` would give a new file: ``base`` minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def _token() -> str:
    return uuid.uuid4().hex[:8]


@contextlib.contextmanager
def atomic_path(path: Path, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same extension, so writers that pick a format by suffix
    work); when the block succeeds the temporary gets the umask's permissions and replaces ``path``.
    When the block raises, the temporary is removed and ``path`` is untouched.

    >>> with atomic_path(Path("out/metrics.json")) as tmp:  # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{_token()}.{_TMP_MARK}{path.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"atomic_path: the block did not write {tmp}")
        os.chmod(tmp, file_mode())
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def staged_directory(final: Path, replace: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder beside ``final``; when the block succeeds it is renamed to ``final``.

    An existing ``final`` is replaced only when ``replace`` is true (the caller has checked that
    nerfplex wrote it); an existing non-empty ``final`` otherwise raises :class:`NerfplexError` before
    anything is renamed, and an existing empty one is replaced. When the block raises, the staging
    folder is removed, so nothing half-written stays.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    token = _token()
    staging = final.with_name(f".{final.name}.partial-{token}")
    staging.mkdir()
    try:
        yield staging
        old = final.with_name(f".{final.name}.old-{token}")
        if final.exists() or final.is_symlink():
            if not final.is_dir() or (any(final.iterdir()) and not replace):
                raise NerfplexError(
                    f"{final} already exists and is not an empty folder; nerfplex does not "
                    f"overwrite it. Choose another output path (or pass --overwrite when "
                    f"the command offers it and the folder is one nerfplex wrote)."
                )
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def is_orphan_temporary(path: Path) -> bool:
    """True for the temporaries :func:`atomic_path` and :func:`staged_directory` create."""
    return bool(_ORPHAN.match(Path(path).name))


def remove_orphan_temporaries(folder: Path) -> list[Path]:
    """Delete temporaries a killed nerfplex process left directly inside ``folder``; return them.

    Only names nerfplex itself generates are touched (:func:`is_orphan_temporary`)."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if not is_orphan_temporary(entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


# ----------------------------------------------------------------------------- output folders
OUTPUT_MARKER = ".nerfplex-output"
"""A small file nerfplex writes into every folder it creates (run folders, evaluations, renders,
reports, datasets); ``--overwrite`` replaces a folder only when it holds this marker."""


def mark_output(folder: Path, kind: str) -> None:
    """Write the marker that says nerfplex wrote ``folder`` (``kind``: run, eval, render, ...)."""
    write_text_atomic(Path(folder) / OUTPUT_MARKER, f"written by nerfplex: {kind}\n")


def written_by_nerfplex(folder: Path) -> bool:
    """True when ``folder`` holds nerfplex's marker (:func:`mark_output`)."""
    return (Path(folder) / OUTPUT_MARKER).is_file()


def check_output_folder(final: Path, overwrite: bool, flag: str = "--output") -> bool:
    """Check, before any work, that ``final`` may become an output folder; return whether an existing
    one will be replaced. A file, a non-empty folder without ``overwrite``, or a non-empty folder that
    nerfplex did not write raise :class:`NerfplexError`."""
    final = Path(final)
    check_can_create(final)
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise NerfplexError(
            f"{flag} {final} is an existing file, not a folder; nerfplex does not replace it. Pass a new folder path."
        )
    if not final.exists() or not any(final.iterdir()):
        return False
    if not written_by_nerfplex(final):
        raise NerfplexError(
            f"{flag} {final} is a non-empty folder that nerfplex did not write (no "
            f"{OUTPUT_MARKER} in it); nerfplex never replaces it. Pass a new folder path."
        )
    if not overwrite:
        raise NerfplexError(
            f"{flag} {final} already exists; pass --overwrite to replace it (it is a "
            f"folder nerfplex wrote) or choose another folder."
        )
    return True


@contextlib.contextmanager
def staged_output(final: Path, kind: str, overwrite: bool = False, flag: str = "--output") -> Iterator[Path]:
    """:func:`staged_directory` for an output folder: checked by :func:`check_output_folder` before and
    after the block, marked with :data:`OUTPUT_MARKER`, replacing only a folder nerfplex wrote."""
    check_output_folder(final, overwrite, flag)
    with staged_directory(final, replace=True) as staging:
        mark_output(staging, kind)
        yield staging
        check_output_folder(final, overwrite, flag)  # it may have appeared while writing


def create_unique_folder(base: Path) -> Path:
    """Create and return ``base`` or, when it exists, ``base-1``, ``base-2``, ...: ``mkdir`` without
    ``exist_ok``, so two processes never get the same folder."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            candidate, n = base.with_name(f"{base.name}-{n}"), n + 1


def os_error_message(err: OSError, path: Path) -> str:
    """One line that says what went wrong writing ``path`` and what to do about it."""
    import errno

    if err.errno == errno.ENOSPC or err.errno == errno.EDQUOT:
        return (
            f"the disk holding {path} is full ({err.strerror}). Free some space (or choose another "
            f"--output-dir / --output) and run again."
        )
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write {path}: {err.strerror}. Choose a folder you can write to (--output-dir / "
            f"--output) or fix its permissions."
        )
    return f"cannot write {path}: {err.strerror or err}. Check the folder and the disk, then run again."


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write and remove a probe file in it; a read-only or full disk
    raises :class:`NerfplexError` with one line that says what to do."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe.{_token()}.{_TMP_MARK}"
        try:
            with open(probe, "wb") as handle:
                handle.write(b"nerfplex")
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            probe.unlink(missing_ok=True)
    except OSError as err:
        raise NerfplexError(os_error_message(err, folder)) from None


def check_can_create(path: Path) -> None:
    """Before any work: probe the nearest existing folder at or above ``path``'s parent (without creating
    anything else), so a read-only or full disk is a one-line :class:`NerfplexError` up front."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_dir():
        check_writable(folder)


def check_free_space(folder: Path, need_bytes: int, what: str) -> None:
    """Raise :class:`NerfplexError` when the disk holding ``folder`` has less than ``need_bytes`` free."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise NerfplexError(
            f"the disk holding {folder} has {free / 2**20:.1f} MiB free, less than the "
            f"{need_bytes / 2**20:.1f} MiB {what} needs. Free some space or choose another "
            f"--output-dir."
        )
