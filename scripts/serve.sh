#!/usr/bin/env bash
# Serve the API on the embedded default: SQLite in .campaign-chat/, in-process tasks, offline model.
# Extra arguments go to `campaign-chat serve` (e.g. --port 9000).
set -euo pipefail
SYNC_ARGS=--no-dev
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$UV" run --frozen --no-dev campaign-chat serve "$@"
