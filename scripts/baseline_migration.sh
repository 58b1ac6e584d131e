#!/usr/bin/env bash
# Regenerate the single baseline migration from the models (only while no release has shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f moviepulse/migrations/versions/*.py
MOVIEPULSE_ENV=testing MOVIEPULSE_INSTANCE_PATH=$tmp MOVIEPULSE_DATABASE_URL=sqlite:///$tmp/baseline.db \
  .venv/bin/moviepulse db migrate -m "baseline" --rev-id 0001_baseline
rm -rf "$tmp"
ls moviepulse/migrations/versions
