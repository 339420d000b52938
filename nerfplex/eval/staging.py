"""Output folders that appear whole or not at all (staging folder, then rename)."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``final``; when the block succeeds it becomes ``final``
    (an existing ``final`` is replaced), when it raises it is removed, so nothing half-written stays."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = final.with_name(f".{final.name}.partial-{token}")
    staging.mkdir()
    try:
        yield staging
        old = final.with_name(f".{final.name}.old-{token}")
        if final.exists():
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
