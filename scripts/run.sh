#!/usr/bin/env bash
# Installs everything, then starts shapeviewer (the demo pair when no file is given).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/shapeviewer "$@"
