#!/usr/bin/env bash
# Install the MCP Inspector (CLI mode is used by tests/server/test_inspector.py) into a
# project-local folder, once. Node.js comes from the machine. Prints the CLI's path.
set -euo pipefail
VERSION="${INSPECTOR_VERSION:-2.12.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${INSPECTOR_PREFIX:-$ROOT/.cache/inspector}"
BIN="$PREFIX/node_modules/.bin/mcp-inspector"
if [[ ! -x "$BIN" ]] || ! grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null; then
  command -v npm >/dev/null || { echo "npm not found" >&2; exit 3; }
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "@modelcontextprotocol/inspector@$VERSION" >&2
fi
echo "$BIN"
