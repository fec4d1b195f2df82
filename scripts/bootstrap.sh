#!/usr/bin/env bash
# Sourced by serve.sh, cc.sh and test.sh: make sure `uv` is available, then sync the locked environment.
# Puts uv in .tools/ when the machine has none (no system-wide changes beyond python3-venv if missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ -n "${UV:-}" ] && [ -x "$UV" ]; then
  :  # the caller's uv
elif command -v uv >/dev/null 2>&1; then
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
#
# Compiled modules: where PYTHONDONTWRITEBYTECODE is set (this project's machines set it), Python never
# caches what it compiles, so every process compiled every module it imports from source, each time:
# `keys create` took 1.26 s, 0.5-0.58 s with the packages compiled once. So compile them once per
# installed lock (uv, stamped), and our own sources each time (compileall only redoes changed files).
VENV_DIR=${UV_PROJECT_ENVIRONMENT:-$ROOT/.venv}
STAMP="$VENV_DIR/.bytecode-compiled"
if [ -f "$STAMP" ] && [ "$STAMP" -nt uv.lock ]; then
  "$UV" sync --frozen --quiet ${SYNC_ARGS:-} >&2
else
  "$UV" sync --frozen --quiet --compile-bytecode ${SYNC_ARGS:-} >&2
  touch "$STAMP"
fi
"$VENV_DIR/bin/python" -m compileall -q api bridge cli core jobs ops services store >/dev/null || true  # a broken file still reports itself on import
