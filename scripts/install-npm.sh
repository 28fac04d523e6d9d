#!/usr/bin/env bash
# Install npm packages into a project-local folder under .cache/, once, and print that folder.
#   scripts/install-npm.sh NAME PACKAGE@VERSION...
# Node.js and npm come from the machine. Safe to run concurrently: callers wait on a lock, and
# the install lands in place only complete. A changed package list installs afresh.
set -euo pipefail
NAME="$1"; shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="$ROOT/.cache/$NAME"
WANT="$*"
mkdir -p "$ROOT/.cache"
exec 9>"$PREFIX.lock"
flock 9
if [[ "$(cat "$PREFIX/.packages" 2>/dev/null)" != "$WANT" ]]; then
  command -v npm >/dev/null || { echo "npm not found" >&2; exit 3; }
  STAGE="$PREFIX.partial"
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  npm install --prefix "$STAGE" --no-audit --no-fund --loglevel=error "$@" >&2
  echo "$WANT" > "$STAGE/.packages"
  rm -rf "$PREFIX"
  mv "$STAGE" "$PREFIX"
fi
echo "$PREFIX"
