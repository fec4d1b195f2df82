#!/usr/bin/env bash
# Run any `campaign-chat` command in the locked environment (installs it on first use).
# Example: ./scripts/cc.sh keys create
set -euo pipefail
SYNC_ARGS=--no-dev
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$UV" run --frozen --no-dev campaign-chat "$@"
