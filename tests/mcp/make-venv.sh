#!/bin/bash
# Make the venv the MCP tests use (the official MCP Python SDK, pinned in requirements.txt):
# make-venv.sh DIR. Nothing to do when DIR was made from the same requirements. Built beside DIR
# and renamed into place, so a half-made venv is never used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
if cmp -s "$here/requirements.txt" "$dir/requirements.txt" && [ -x "$dir/bin/python" ]; then
    exit 0
fi
tmp="$dir.tmp.$$"
rm -rf "$tmp"
/usr/bin/python3 -m venv "$tmp"
"$tmp/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$tmp/requirements.txt"
chmod -R a+rX "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
