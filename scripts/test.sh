#!/usr/bin/env bash
# Installs everything, then runs the whole test suite (KeOps formulas compile into its cache on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check shapeviewer tests benchmarks
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"
