#!/usr/bin/env bash
# Start the real Redis and PostgreSQL servers the test suite needs, installing them from Debian
# packages when missing. Idempotent: servers already answering are left alone.
# Prints the environment to use, e.g.  eval "$(bash scripts/services.sh)"
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
RUN_DIR=${CAMPAIGN_CHAT_RUN_DIR:-/tmp/campaign-chat-services}
REDIS_PORT=${TEST_REDIS_PORT:-6390}
PG_PORT=${TEST_PG_PORT:-5490}
mkdir -p "$RUN_DIR"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} ..." >&2
  apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log" >&2
fi

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA="$RUN_DIR/pg/data"
if ! pg_isready -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
  id postgres >/dev/null 2>&1 || useradd --system --home "$RUN_DIR/pg" postgres
  install -d -o postgres "$RUN_DIR/pg"
  [ -f "$PGDATA/PG_VERSION" ] || su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGDATA -U app -A trust --no-sync -E UTF8 >/dev/null"
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -l $RUN_DIR/pg/log -w -o \"-p $PG_PORT -k $RUN_DIR/pg \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >/dev/null
fi

for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
psql -h 127.0.0.1 -p "$PG_PORT" -U app -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='campaign_chat_test'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$PG_PORT" -U app -d postgres -qc 'CREATE DATABASE campaign_chat_test' >&2

echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
echo "export TEST_DATABASE_URL=postgresql+asyncpg://app@127.0.0.1:$PG_PORT/campaign_chat_test"
echo "export CAMPAIGN_CHAT_SERVICES_DIR=$RUN_DIR"
