#!/bin/sh
# Startup cost of a jail: median wall time of N runs of `tooljail run -- /bin/true`, next to bare
# /bin/true, `unshare -Urmpn --fork /bin/true` and (when installed) bubblewrap twice: the
# minimal `bwrap --ro-bind / / /bin/true` (a user and mount namespace only), and a bwrap jail
# close to tooljail's default profile (every namespace, a new root of /usr and /etc read-only,
# fresh /proc, minimal /dev, tmpfs /tmp; no Landlock, no seccomp), all measured in the same run
# on the same machine.
#
# The tooljail rows are the integrated jail: namespaces, new root, Landlock, the seccomp filter
# and its supervisor, rlimits, the report. The audit record (on in the default profile) goes to
# a scratch file; another row turns audit off to show what it costs. One row runs the same
# default profile with `--isolation landlock` (no namespaces: the command forked by the
# supervisor, Landlock, seccomp, rlimits; docs/containers.md), next to the full jail and bare
# exec.
#
# The runs are interleaved (round 1 runs every row once, then round 2, ...), so a machine whose
# load changes during the bench (parallel builds) skews every row alike instead of one row.
#
# Usage: benches/startup.sh [N]      (default N=50)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: target/release/tooljail, rebuilt
#   when the sources changed). TOOLJAIL_BASE=path/to/another/tooljail adds a row for that
#   binary (e.g. a release build of the previous commit), so a change is measured before and
#   after in the same run. Run it as the user you want to measure; as root, tooljail drops
#   to nobody first.
set -eu

N=${1:-50}
cd "$(dirname "$0")/.."
if [ -z "${TOOLJAIL:-}" ]; then
    cargo build --release --quiet --bin tooljail
    TOOLJAIL=target/release/tooljail
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
printf 'extends = ["default"]\n[audit]\nenabled = false\n' > "$tmp/no-audit.toml"
chmod 644 "$tmp/no-audit.toml"

have_bwrap=false
if command -v bwrap > /dev/null 2>&1; then
    have_bwrap=true
fi

ROWS="1 2 3 7 4 5 6 9"
if [ -n "${TOOLJAIL_BASE:-}" ]; then
    ROWS="$ROWS 8"
fi

# Row K: its name, and the command it times.
name() {
    case $1 in
        1) echo "/bin/true" ;;
        2) echo "unshare -Urmpn --fork /bin/true" ;;
        3) echo "bwrap --ro-bind / / /bin/true" ;;
        7) echo "bwrap --unshare-all, new root like default" ;;
        4) echo "tooljail run -- /bin/true (audit to a file)" ;;
        5) echo "tooljail run -p no-audit -- /bin/true" ;;
        6) echo "tooljail run --report FILE -- /bin/true (no audit)" ;;
        8) echo "TOOLJAIL_BASE run -- /bin/true (audit to a file)" ;;
        9) echo "tooljail run --isolation landlock (audit to a file)" ;;
    esac
}
cmd() {
    case $1 in
        1) /bin/true ;;
        2) unshare -Urmpn --fork /bin/true ;;
        3) bwrap --ro-bind / / /bin/true ;;
        7) bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr \
               --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
               --symlink usr/sbin /sbin --ro-bind /etc /etc --proc /proc --dev /dev \
               --tmpfs /tmp --chdir /tmp /bin/true ;;
        4) "$TOOLJAIL" run --audit-log "$tmp/audit.jsonl" -- /bin/true ;;
        5) "$TOOLJAIL" run -p "$tmp/no-audit.toml" -- /bin/true ;;
        6) "$TOOLJAIL" run -p "$tmp/no-audit.toml" --report "$tmp/report.json" -- /bin/true ;;
        8) "$TOOLJAIL_BASE" run --audit-log "$tmp/audit.jsonl" -- /bin/true ;;
        9) "$TOOLJAIL" run --isolation landlock --audit-log "$tmp/audit.jsonl" -- /bin/true ;;
    esac
}

# One timed run of row K, appended to its samples in microseconds (date +%s%N has ns
# resolution). A failed run stops the bench: a jail that fails fast would look cheap.
sample() {
    t0=$(date +%s%N)
    if ! cmd "$1" > /dev/null 2> "$tmp/stderr"; then
        echo "failed: $(name "$1")" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) >> "$tmp/samples.$1"
}

median() {
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

i=0
while [ "$i" -lt "$N" ]; do
    for k in $ROWS; do
        if { [ "$k" = 3 ] || [ "$k" = 7 ]; } && [ "$have_bwrap" = false ]; then
            continue
        fi
        sample "$k"
    done
    i=$((i + 1))
done

echo "median wall time of $N interleaved runs ($(uname -r), $(nproc) cpus, uid $(id -u))"
for k in $ROWS; do
    if [ -s "$tmp/samples.$k" ]; then
        printf '%-52s %8s us\n' "$(name "$k")" "$(median "$tmp/samples.$k")"
    else
        printf '%-52s %8s\n' "$(name "$k")" "skipped (not installed)"
    fi
done
