#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, then unit -> smoke -> e2e -> visual.
#   scripts/test.sh                     every tier
#   scripts/test.sh --update-snapshots  re-take the visual baselines (then run the visual tier)
# Tiers can be run alone with pytest markers: -m smoke | -m reliability | -m e2e | -m parity | -m visual.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
PYTEST_EXTRA=()
if [ "${1:-}" = "--update-snapshots" ]; then PYTEST_EXTRA+=(--update-snapshots); shift; fi

step() { printf '\n== %s ==\n' "$*"; }

step "python environment"
bash scripts/bootstrap.sh || { echo "test: could not install the Python environment" >&2; exit 1; }

step "system packages (chromium, fonts)"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
dpkg -s fonts-liberation >/dev/null 2>&1 || need+=(fonts-liberation)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || { echo "test: apt-get install ${need[*]} failed" >&2; exit 1; }
  else
    echo "test: missing ${need[*]}; install them (sudo apt-get install ${need[*]})" >&2; exit 1
  fi
fi
/usr/bin/chromium --version 2>/dev/null | head -n1 || true

step "services (PostgreSQL, Redis)"
bash scripts/services.sh || { echo "test: PostgreSQL/Redis unavailable" >&2; exit 1; }

step "lint"
.venv/bin/ruff check . || exit 1

export MOVIEPULSE_ENV=testing
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
failed=()
run_tier() {
  local name=$1; shift
  step "tier: $name"
  .venv/bin/python -m pytest "$@" "${PYTEST_EXTRA[@]}"
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then failed+=("$name"); fi
}
if [ ${#PYTEST_EXTRA[@]} -eq 0 ]; then
  run_tier "unit" -q -m "not smoke and not e2e and not visual and not parity and not reliability"
  run_tier "smoke" -q -m smoke
  run_tier "reliability" -q -m "reliability and not e2e and not visual"
  run_tier "e2e" -q -m "(e2e or parity) and not visual"
fi
run_tier "visual" -q -m visual

elapsed=$(( $(date +%s) - started ))
step "summary"
if [ ${#failed[@]} -eq 0 ]; then
  echo "all tiers passed in ${elapsed}s"
  exit 0
fi
echo "failed tiers: ${failed[*]} (${elapsed}s)"
exit 1
