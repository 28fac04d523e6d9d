#!/usr/bin/env bash
# Install the MCP Inspector (CLI mode is used by tests/server/test_inspector.py) into a
# project-local folder, once. Node.js comes from the machine. Prints the CLI's path.
# Safe to run concurrently: callers wait on a lock, and the install lands in place only complete.
set -euo pipefail
VERSION="${INSPECTOR_VERSION:-2.12.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${INSPECTOR_PREFIX:-$ROOT/.cache/inspector}"
BIN="$PREFIX/node_modules/.bin/mcp-inspector"
installed() {
  [[ -x "$BIN" ]] && grep -q "\"version\": \"$VERSION\"" \
    "$PREFIX/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null
}
mkdir -p "$(dirname "$PREFIX")"
exec 9>"$PREFIX.lock"
flock 9
if ! installed; then
  command -v npm >/dev/null || { echo "npm not found" >&2; exit 3; }
  STAGE="$PREFIX.partial"
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  npm install --prefix "$STAGE" --no-audit --no-fund --loglevel=error "@modelcontextprotocol/inspector@$VERSION" >&2
  rm -rf "$PREFIX"
  mv "$STAGE" "$PREFIX"
fi
echo "$BIN"
