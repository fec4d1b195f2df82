#!/usr/bin/env bash
# Run the whole test suite: installs the locked environment, starts real Redis and PostgreSQL
# (installing them from Debian packages when missing), prepares the Node realtime-SDK check, then pytest.
# Honours TEST_DATABASE_URL / TEST_REDIS_URL when given (then those servers are used as they are).
# Extra arguments go to pytest; TEST_WORKERS sets how many pytest processes run the tests (below).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
if [ -z "${TEST_DATABASE_URL:-}" ] || [ -z "${TEST_REDIS_URL:-}" ]; then
  eval "$(bash scripts/services.sh)"
fi
if [ -f node-checks/package-lock.json ]; then
  bash scripts/node-setup.sh
fi
# Two pytest processes (pytest-xdist) unless told otherwise: the integration tests mostly wait on servers,
# worker processes and leases, so on a 2-core machine two processes take ~0.7x the wall time of one (a file
# stays on one process: its module fixtures are set up once).
# TEST_WORKERS=N for N processes (0: one, in this process); an -n/--numprocesses argument wins.
workers=${TEST_WORKERS:-2}
if ! [[ "$workers" =~ ^[0-9]+$ ]]; then
  echo "test.sh: TEST_WORKERS must be a whole number of processes (0 for none), not '$workers'" >&2
  exit 2
fi
for arg in "$@"; do
  case "$arg" in -n|-n[0-9]*|--numprocesses|--numprocesses=*) workers="" ;; esac
done
exec "$UV" run --frozen pytest ${workers:+-n "$workers" --dist loadfile} "$@"
