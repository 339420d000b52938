#!/usr/bin/env bash
# Set everything up, then train the built-in demo scene. Extra arguments go to `nerfplex train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/nerfplex train "$@"
