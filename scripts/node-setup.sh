#!/usr/bin/env bash
# Install Node.js (Debian package) when missing, then the pinned Trigger.dev SDK for the node checks.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node-setup: installing nodejs and npm ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && apt-get install -y -qq nodejs npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "node-setup: Node $major is too old for @trigger.dev/sdk 4.8 (needs 18+)" >&2; exit 1
fi
for dir in node-checks trigger; do
  if [ ! -d "$ROOT/$dir/node_modules" ] || [ "$ROOT/$dir/package-lock.json" -nt "$ROOT/$dir/node_modules" ]; then
    (cd "$ROOT/$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
done
