#!/usr/bin/env bash
# Create .venv and install MoviePulse with its dev extras. Idempotent; safe on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import moviepulse, flask, dash, huey" || { echo "bootstrap: install failed" >&2; exit 1; }
.venv/bin/python -c "from moviepulse.ssr.audit import SCANNER; print(f\"bootstrap: HTML audit scanner: {SCANNER}\")"
touch .venv/.installed-stamp
