#!/bin/sh
# Startup cost of a jail: median wall time of N runs of `tooljail run -- /bin/true`, next to bare
# /bin/true, `unshare -Urmpn --fork /bin/true` and (when installed) `bwrap --ro-bind / / /bin/true`,
# all measured in the same run on the same machine.
#
# Usage: benches/startup.sh [N]      (default N=50)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: target/release/tooljail, built if
#   missing). Run it as the user you want to measure; as root, tooljail drops to nobody first.
set -eu

N=${1:-50}
cd "$(dirname "$0")/.."
TOOLJAIL=${TOOLJAIL:-target/release/tooljail}
if [ ! -x "$TOOLJAIL" ]; then
    cargo build --release --quiet
fi

# Median of N wall-clock runs of "$@", in microseconds (date +%s%N has ns resolution).
median_us() {
    i=0
    : > "$samples"
    while [ "$i" -lt "$N" ]; do
        t0=$(date +%s%N)
        "$@" > /dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000 )) >> "$samples"
        i=$((i + 1))
    done
    sort -n "$samples" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

samples=$(mktemp)
trap 'rm -f "$samples"' EXIT

row() {
    name=$1
    shift
    printf '%-40s %8s us\n' "$name" "$(median_us "$@")"
}

echo "median wall time of $N runs ($(uname -r), $(nproc) cpus, uid $(id -u))"
row "/bin/true" /bin/true
row "unshare -Urmpn --fork /bin/true" unshare -Urmpn --fork /bin/true
if command -v bwrap > /dev/null 2>&1; then
    row "bwrap --ro-bind / / /bin/true" bwrap --ro-bind / / /bin/true
else
    echo "bwrap: not installed, skipped"
fi
row "tooljail run -- /bin/true" "$TOOLJAIL" run -- /bin/true
