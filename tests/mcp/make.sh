#!/bin/bash
# Make what the MCP tests use, pinned here, in target/: make.sh venv DIR (the official MCP Python
# SDK, requirements.txt) or make.sh node DIR (the npm reference server, node/package-lock.json).
# Nothing to do when DIR was made from the same pin. Built beside DIR and renamed into place, so
# a half-made one is never used.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kind=$1 dir=$2
case $kind in
    venv) pin=$here/requirements.txt ;;
    node) pin=$here/node/package-lock.json ;;
    *) echo "usage: make.sh venv|node DIR" >&2; exit 2 ;;
esac
if cmp -s "$pin" "$dir/$(basename "$pin")"; then
    exit 0
fi
tmp="$dir.tmp.$$"
rm -rf "$tmp"
case $kind in
    venv)
        /usr/bin/python3 -m venv "$tmp"
        "$tmp/bin/pip" install --quiet --disable-pip-version-check -r "$pin"
        cp "$pin" "$tmp/"
        ;;
    node)
        mkdir -p "$tmp"
        cp "$here/node/package.json" "$pin" "$tmp/"
        (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        ;;
esac
chmod -R a+rX "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
