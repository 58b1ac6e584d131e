#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis that staging/production parity tests use are up on 127.0.0.1.
# Starts them when they are down (commands of this machine kind); exits non-zero if it cannot.
set -uo pipefail

pg_up()    { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { [ "$(printf 'PING\r\n' | timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379; cat >&3; head -c 7 <&3' 2>/dev/null | tr -d '\r\n')" = "+PONG" ]; }

wait_for() { local check=$1; for _ in $(seq 1 30); do $check && return 0; sleep 0.5; done; return 1; }

status=0
if ! pg_up; then
  echo "services: PostgreSQL is down, starting it"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_for pg_up || { echo "services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; status=1; }
fi
if ! redis_up; then
  echo "services: Redis is down, starting it"
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for redis_up || { echo "services: Redis is not reachable on 127.0.0.1:6379" >&2; status=1; }
fi
[ $status -eq 0 ] && echo "services: PostgreSQL and Redis are up"
exit $status
