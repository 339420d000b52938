"""Debian's headless Chromium, driven by Playwright, kept on 127.0.0.1: for the viewer's browser tests,
its benchmark and the docs' screenshots (never Playwright's own browser download, which cannot work
offline; ``scripts/setup.sh`` installs the ``chromium`` package with apt-get); and how to tell, from the
page's side, that a picture arrived.

    from headless_chromium import launch   # scripts/ on sys.path
    browser = launch(playwright)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: carries_picture(p) and ...))
"""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
"""Playwright's own switches plus these keep Chromium off the network: everything stays on 127.0.0.1."""


def chromium_path() -> str | None:
    """The system Chromium's executable, or None when it is not installed."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium")


def launch(playwright):
    """A headless Chromium (Playwright ``Browser``) with background services off."""
    path = chromium_path()
    if path is None:
        raise SystemExit("Debian's chromium is not installed: apt-get install -y chromium (scripts/setup.sh does it)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


def carries_picture(payload) -> bool:
    """Whether a websocket frame from the viewer's server (viser: two 8-byte sizes, then zstd-compressed
    msgpack) carries a background image, i.e. a frame the page will draw."""
    import msgspec
    import zstandard

    if not isinstance(payload, bytes | bytearray) or len(payload) < 16:
        return False
    size, compressed = int.from_bytes(payload[:8], "little"), int.from_bytes(payload[8:16], "little")
    inner = zstandard.ZstdDecompressor().decompress(bytes(payload[16 : 16 + compressed]), max_output_size=size)
    messages = msgspec.msgpack.decode(inner).get("messages", ())
    return any(isinstance(m, dict) and m.get("type") == "BackgroundImageMessage" for m in messages)
