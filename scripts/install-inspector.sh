#!/usr/bin/env bash
# Install the MCP Inspector (CLI mode is used by tests/server/test_inspector.py) into a
# project-local folder, once. Node.js comes from the machine. Prints the CLI's path.
set -euo pipefail
VERSION="${INSPECTOR_VERSION:-2.12.0}"
PREFIX="$("$(dirname "$0")/install-npm.sh" inspector "@modelcontextprotocol/inspector@$VERSION")"
echo "$PREFIX/node_modules/.bin/mcp-inspector"
