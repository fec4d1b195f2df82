#!/usr/bin/env bash
# Sourced by serve.sh, cc.sh and test.sh: make sure `uv` is available, then sync the locked environment.
# Puts uv in .tools/ when the machine has none (no system-wide changes beyond python3-venv if missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if command -v uv >/dev/null 2>&1; then
  UV=$(command -v uv)
elif [ -x "$ROOT/.tools/bin/uv" ]; then
  UV="$ROOT/.tools/bin/uv"
else
  echo "bootstrap: installing uv into .tools/ ..." >&2
  if ! python3 -m venv "$ROOT/.tools" >/dev/null 2>&1; then
    rm -rf "$ROOT/.tools"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && apt-get install -y -qq python3-venv >/dev/null
    else
      echo "bootstrap: python3 -m venv failed; install python3-venv (sudo apt-get install python3-venv)" >&2; exit 1
    fi
    python3 -m venv "$ROOT/.tools"
  fi
  "$ROOT/.tools/bin/pip" install -q uv >&2
  UV="$ROOT/.tools/bin/uv"
fi
export UV
# Sourcing scripts pass their sync options in SYNC_ARGS (not "$@", which would be their own arguments).
"$UV" sync --frozen --quiet ${SYNC_ARGS:-} >&2
