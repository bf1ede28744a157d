#!/usr/bin/env bash
# Run uv, installing it with pip first when this machine has none.
set -euo pipefail

find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
  if [ -x "$HOME/.local/bin/uv" ]; then echo "$HOME/.local/bin/uv"; return 0; fi
  return 1
}

if ! uv_bin=$(find_uv); then
  echo "uv not found: installing it with pip" >&2
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet uv 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages uv
  if ! uv_bin=$(find_uv); then
    # pip put it somewhere off PATH; the package can also run as a module.
    exec python3 -m uv "$@"
  fi
fi
exec "$uv_bin" "$@"
