#!/bin/sh
# The cost of call state: the extra start-up of a call whose profile has one rate rule, on the
# default SQLite store and on PostgreSQL over loopback. tooljail times each stage with `-vv`
# (tracing spans); this prints the median and 90th percentile of the `state admit` stage (open
# the store, decide and record the call as started, in one transaction: all of it before the
# jail starts) and of `state record` (after the command ended: the call's use and its audit
# record), over N calls of `true`. A call without rules runs neither stage.
#
# Usage: benches/state.sh [N]      (default N=200)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: target/release/tooljail, rebuilt
#   when the sources changed). TOOLJAIL_BENCH_PG=postgres://... names the PostgreSQL database
#   (default: the URL tests/setup.sh wrote to /var/lib/tooljail-test/postgres.url).
set -eu

N=${1:-200}
cd "$(dirname "$0")/.."
if [ -z "${TOOLJAIL:-}" ]; then
    cargo build --release --quiet --bin tooljail
    TOOLJAIL=target/release/tooljail
fi
PG=${TOOLJAIL_BENCH_PG:-$(cat /var/lib/tooljail-test/postgres.url 2>/dev/null || true)}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/rate.toml" <<'TOML'
extends = ["default"]
[[budget.rate]]
per = ["session"]
limit = 1000000
window = "1m"
TOML

# The stage's time.busy in microseconds, one line per call.
stage() {
    sed -n "s/.*DEBUG $1: close time.busy=\([0-9.]*\)\([µm]*s\).*/\1 \2/p" | awk '
        $2 == "ms" { printf "%.1f\n", $1 * 1000; next }
        $2 == "µs" { printf "%.1f\n", $1; next }
        $2 == "s"  { printf "%.1f\n", $1 * 1000000 }'
}

summary() {
    sort -n | awk -v what="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { printf "%-34s no samples\n", what; exit }
        p = int(NR * 0.9); if (p < 1) p = 1
        printf "%-34s median %8.3f ms   p90 %8.3f ms   (%d calls)\n", what,
            v[int((NR + 1) / 2)] / 1000, v[p] / 1000, NR }'
}

run_store() {
    name=$1 url=$2
    : >"$dir/log"
    i=0
    while [ "$i" -lt "$N" ]; do
        "$TOOLJAIL" run -vv -p "$dir/rate.toml" --state "$url" --session "bench-$$" \
            --audit-log "$dir/audit.jsonl" -- true 2>>"$dir/log" >/dev/null
        i=$((i + 1))
    done
    stage "state admit" <"$dir/log" | summary "$name: state admit (start-up)"
    stage "state record" <"$dir/log" | summary "$name: state record (after the call)"
}

echo "tooljail: $("$TOOLJAIL" --version)"
run_store sqlite "sqlite:$dir/state/state.db"
if [ -n "$PG" ]; then
    run_store postgres "$PG"
else
    echo "postgres: no URL (run tests/setup.sh or set TOOLJAIL_BENCH_PG)"
fi
