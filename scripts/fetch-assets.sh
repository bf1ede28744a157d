#!/usr/bin/env bash
# Fetch the portal's one third-party script, htmx, pinned by version and checksum.
# It is not kept in the repository: npm's registry serves the release, this script
# checks it against the SHA-256 below and places it where the portal serves it.
set -euo pipefail

HTMX_VERSION=2.0.7
HTMX_SHA256=60231ae6ba9db3825eb15a261122d5f55921c4d53b66bf637dc18b4ee27c79f9
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="$ROOT/src/mamori/web/static/vendor/htmx.min.js"

matches() { [ -f "$1" ] && echo "$HTMX_SHA256  $1" | sha256sum --check --status; }

if matches "$TARGET"; then
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TARBALL="htmx.org-$HTMX_VERSION.tgz"
if command -v npm >/dev/null; then
    (cd "$WORK" && npm pack "htmx.org@$HTMX_VERSION" --silent >/dev/null)
else
    REGISTRY="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}"
    curl -fsSL --retry 3 -o "$WORK/$TARBALL" "$REGISTRY/htmx.org/-/$TARBALL"
fi
tar -xzf "$WORK/$TARBALL" -C "$WORK" package/dist/htmx.min.js
if ! matches "$WORK/package/dist/htmx.min.js"; then
    echo "fetch-assets: htmx $HTMX_VERSION does not match the pinned SHA-256; refusing it" >&2
    exit 1
fi
mkdir -p "$(dirname "$TARGET")"
install -m 0644 "$WORK/package/dist/htmx.min.js" "$TARGET"
echo "fetch-assets: htmx $HTMX_VERSION installed at ${TARGET#"$ROOT"/}"
