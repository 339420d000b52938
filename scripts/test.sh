#!/usr/bin/env bash
# Set everything up, check lint and formatting (ruff), then run the whole test suite (slow end-to-end tests
# included).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test  # the test path: also the optional extras CI exercises (ray)
# Lint and format first (ruff, configured in pyproject.toml): a style slip fails fast, before the long suite.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -q "$@"
