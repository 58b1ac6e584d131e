#!/usr/bin/env bash
# `make run`: MoviePulse on its embedded default — SQLite, SQLite-backed Huey, the fake TMDB/OMDb
# servers and generated demo traffic — on 127.0.0.1:${MOVIEPULSE_PORT:-8000}. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

export MOVIEPULSE_ENV=${MOVIEPULSE_ENV:-local}
export MOVIEPULSE_INSTANCE_PATH=${MOVIEPULSE_INSTANCE_PATH:-$PWD/instance}
PORT=${MOVIEPULSE_PORT:-8000}
TMDB_PORT=${MOVIEPULSE_FAKE_TMDB_PORT:-8701}
OMDB_PORT=${MOVIEPULSE_FAKE_OMDB_PORT:-8702}
export MOVIEPULSE_TMDB_BASE_URL=${MOVIEPULSE_TMDB_BASE_URL:-http://127.0.0.1:$TMDB_PORT/3}
export MOVIEPULSE_OMDB_BASE_URL=${MOVIEPULSE_OMDB_BASE_URL:-http://127.0.0.1:$OMDB_PORT/}
BIN=.venv/bin
mkdir -p "$MOVIEPULSE_INSTANCE_PATH/logs"
LOGS=$MOVIEPULSE_INSTANCE_PATH/logs

pids=()
cleanup() { trap - INT TERM EXIT; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT

wait_http() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "run: $1 did not answer" >&2; return 1; }

echo "== database =="
$BIN/moviepulse db upgrade

echo "== fake upstreams (TMDB :$TMDB_PORT, OMDb :$OMDB_PORT) =="
$BIN/moviepulse upstreams --tmdb-port "$TMDB_PORT" --omdb-port "$OMDB_PORT" >"$LOGS/upstreams.log" 2>&1 &
pids+=($!)

echo "== admin user =="
PWFILE=$MOVIEPULSE_INSTANCE_PATH/admin-password.txt
ADMIN_EMAIL=${MOVIEPULSE_ADMIN_EMAIL:-admin@moviepulse.local}
[ -s "$PWFILE" ] || $BIN/python -c "import secrets; print(secrets.token_urlsafe(12))" >"$PWFILE"
$BIN/moviepulse create-admin --email "$ADMIN_EMAIL" --password-stdin <"$PWFILE"

echo "== Huey consumer =="
$BIN/huey_consumer moviepulse.worker.huey -w 2 -k thread >"$LOGS/huey.log" 2>&1 &
pids+=($!)

echo "== web server =="
$BIN/gunicorn --config gunicorn.conf.py --workers 2 --threads 4 --bind "127.0.0.1:$PORT" wsgi:app >"$LOGS/web.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$PORT/healthz"

echo "== demo catalogue (imported through the fake upstreams) =="
$BIN/moviepulse demo setup

echo "== demo traffic =="
$BIN/moviepulse demo traffic --base-url "http://127.0.0.1:$PORT" --days "${MOVIEPULSE_DEMO_DAYS:-7}" \
  --visitors-per-day "${MOVIEPULSE_DEMO_VISITORS:-120}" --seed 7 >"$LOGS/traffic.log" 2>&1
$BIN/moviepulse rollup --from "$(date -u -d "-${MOVIEPULSE_DEMO_DAYS:-7} days" +%F)" --to "$(date -u +%F)" >/dev/null
$BIN/moviepulse reconcile >/dev/null || true

cat <<TXT

MoviePulse is running ($MOVIEPULSE_ENV)
  site        http://127.0.0.1:$PORT/
  admin       http://127.0.0.1:$PORT/admin/
  login       $ADMIN_EMAIL / $(cat "$PWFILE")
  health      http://127.0.0.1:$PORT/healthz     metrics  http://127.0.0.1:$PORT/metrics
  fake TMDB   $MOVIEPULSE_TMDB_BASE_URL    fake OMDb  $MOVIEPULSE_OMDB_BASE_URL
  logs        $LOGS/
Live demo traffic keeps flowing; press Ctrl-C to stop everything.
TXT
$BIN/moviepulse demo traffic --base-url "http://127.0.0.1:$PORT" --live --seed 11 >>"$LOGS/traffic.log" 2>&1 &
pids+=($!)
wait
