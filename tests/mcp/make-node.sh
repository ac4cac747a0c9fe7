#!/bin/bash
# Install the npm MCP server the server-profile tests run (pinned with its lock file in node/):
# make-node.sh DIR. Nothing to do when DIR was made from the same lock file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
if cmp -s "$here/node/package-lock.json" "$dir/package-lock.json" && [ -d "$dir/node_modules" ]; then
    exit 0
fi
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$here/node/package.json" "$here/node/package-lock.json" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
chmod -R a+rX "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
