#!/usr/bin/env bash
# Set up nerfplex on a fresh machine: the system library open3d needs, and a virtual environment
# in .venv with nerfplex (editable) and the test tools. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  echo "setup: installing libusb-1.0-0 (needed by open3d)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if ! $SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1 \
      || echo "setup: WARNING could not install libusb-1.0-0; mesh export (open3d) will not work" >&2
  fi
fi

# Debian's chromium for the viewer's browser test (tests/viewer; Playwright drives it, never downloads one).
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (the viewer's browser test)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if ! $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
      || echo "setup: WARNING could not install chromium; tests/viewer/test_browser.py will be skipped" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch==2.13.0 (CPU) is pinned in pyproject.toml; see docs/install.md for CUDA builds.
# perceptual: LPIPS / DreamSim packages (their tests run on generated weights; no weights are downloaded);
# video: imageio-ffmpeg for mp4 output. See docs/evaluation.md. viewer: viser (docs/viewer.md);
# browser-test: playwright for Python, pointed at the chromium installed above.
# captures: pycolmap for nerfplex process-data (docs/datasets.md).
EXTRAS="dev,perceptual,video,viewer,browser-test,captures"
# --test (scripts/test.sh, CI): also the ray extra (nerfplex sweep --executor ray, ~285 MB) so the Ray tests run.
if [ "${1:-}" = "--test" ]; then EXTRAS="$EXTRAS,ray"; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
echo "setup: done (.venv/bin/nerfplex)"
