#!/usr/bin/env bash
# Run the whole test suite: installs the locked environment, starts real Redis and PostgreSQL
# (installing them from Debian packages when missing), prepares the Node realtime-SDK check, then pytest.
# Honours TEST_DATABASE_URL / TEST_REDIS_URL when given (then those servers are used as they are).
# Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
if [ -z "${TEST_DATABASE_URL:-}" ] || [ -z "${TEST_REDIS_URL:-}" ]; then
  eval "$(bash scripts/services.sh)"
fi
if [ -f node-checks/package-lock.json ]; then
  bash scripts/node-setup.sh
fi
exec "$UV" run --frozen pytest "$@"
