#!/bin/sh
# Cost of the seccomp filter, in ns per syscall (not a test; run by hand), all in the same run:
#   - getppid (allowed): bare vs under the default filter. Allowed calls never leave the
#     kernel; since Linux 5.11 the per-nr action cache skips the BPF program entirely.
#   - ptrace (always denied): bare (ESRCH from the kernel) vs the USER_NOTIF round trip to the
#     supervisor, which every denied call pays.
#   - mmap(PROT_EXEC) of a file and its munmap (what loading a shared library does): bare vs in
#     the jail, where the filter shows it to the supervisor (observed: a round trip, and a
#     statfs of the file's mount) because the default profile has places without exec.
#   - getppid under the same allow-list compiled by the seccompiler crate instead of tooljail's
#     compiler (examples/seccompiler_launch): the cost of either program per allowed call.
# Three settings: bare (no filter), the filter alone (examples/seccomp_launch supervise), and
# the full jail (`tooljail run`, default profile: namespaces + Landlock + rlimits + the filter,
# served by tooljail's own supervisor). The last line is the filter's cost per allowed call in
# the full jail: jail minus bare.
# Then the limit watch points (src/plan/seccomp/watch.rs): mmap and close in the jail with the
# default limits (watched: rlimits enforce them here) and with them unlimited (not watched),
# alternated; the difference is what the watch points cost each call that does not match.
# Usage: benches/seccomp.sh [CALLS]
#   Builds the release binary and examples first, unless TOOLJAIL=path/to/tooljail is given (then
#   the examples in target/release/examples must exist: use that to run it as another user).
#   ROUNDS=R alternated bare/jail rounds for the cost line (default 9).
set -eu
cd "$(dirname "$0")/.."
n="${1:-1000000}"
if [ -z "${TOOLJAIL:-}" ]; then
    cargo build --release --quiet --bin tooljail --example probe --example seccomp_launch \
        --example seccompiler_launch
    TOOLJAIL=target/release/tooljail
fi
launch=target/release/examples/seccomp_launch
seccompiler=target/release/examples/seccompiler_launch

# The probe in a 0755 directory any user can read (root's jail runs as nobody); the jail gets
# it with --ro. The audit record goes to a scratch file, not the caller's log.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp target/release/examples/probe "$tmp/probe"
chmod 755 "$tmp/probe"
probe="$tmp/probe"
jail() {
    "$TOOLJAIL" run --audit-log "$tmp/audit.jsonl" --ro "$tmp" -- "$@"
}

# ns_per_call from the probe's JSON line.
ns() { sed -n 's/.*"ns_per_call":\([0-9.]*\).*/\1/p'; }

rounds=${ROUNDS:-9}
echo "# $(uname -r), $(nproc) cpus, uid $(id -u), $n calls per run"
echo "# bare"
"$probe" bench "$n"
"$probe" bench-denied "$n"
"$probe" bench-map-exec "$((n / 20))"
echo "# the filter alone (@system-service), served by seccomp_launch supervise"
"$launch" supervise default -- "$probe" bench "$n"
"$launch" supervise default -- "$probe" bench-denied "$((n / 20))" 2>/dev/null
echo "# inside the full jail: tooljail run (default profile)"
jail "$probe" bench "$n"
jail "$probe" bench-denied "$((n / 20))" 2>/dev/null
jail "$probe" bench-map-exec "$((n / 20))"

# The filter's cost per allowed call: getppid bare and in the jail, alternated for $rounds
# rounds so that a change of load hits both sides alike; median and best of each.
: > "$tmp/bare"
: > "$tmp/jail"
: > "$tmp/ours"
: > "$tmp/seccompiler"
r=0
while [ "$r" -lt "$rounds" ]; do
    "$probe" bench "$n" | ns >> "$tmp/bare"
    jail "$probe" bench "$n" | ns >> "$tmp/jail"
    "$launch" supervise default -- "$probe" bench "$n" | ns >> "$tmp/ours"
    "$seccompiler" -- "$probe" bench "$n" 2>/dev/null | ns >> "$tmp/seccompiler"
    r=$((r + 1))
done
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.1f %.1f", v[int((NR + 1) / 2)], v[1] }'; }
set -- $(stats "$tmp/bare") $(stats "$tmp/jail")
echo "# getppid over $rounds alternated rounds (ns per call): median, best"
printf 'bare          %8.1f %8.1f\n' "$1" "$2"
printf 'in the jail   %8.1f %8.1f\n' "$3" "$4"
echo "$@" | awk '{ printf "filter cost   %+8.1f %+8.1f ns per allowed call (jail - bare)\n", $3 - $1, $4 - $2 }'
set -- "$1" "$2" $(stats "$tmp/ours") $(stats "$tmp/seccompiler")
echo "# getppid under the @system-service allow-list alone: tooljail's compiler vs seccompiler's"
echo "$@" | awk '{ printf "tooljail      %8.1f %8.1f  (%+.1f over bare)\n", $3, $4, $3 - $1
                  printf "seccompiler   %8.1f %8.1f  (%+.1f over bare)\n", $5, $6, $5 - $1 }'

# The limit watch points: the same calls with the limits watched (defaults) and unwatched.
unwatched="--limit open_files=unlimited --limit memory=unlimited"
: > "$tmp/w"
for mode in bench-mmap bench-close; do
    calls=$n
    : > "$tmp/on"
    : > "$tmp/off"
    r=0
    while [ "$r" -lt "$rounds" ]; do
        jail "$probe" "$mode" "$calls" | ns >> "$tmp/on"
        # shellcheck disable=SC2086
        "$TOOLJAIL" run --audit-log "$tmp/audit.jsonl" --ro "$tmp" $unwatched -- "$probe" "$mode" "$calls" | ns >> "$tmp/off"
        r=$((r + 1))
    done
    set -- $(stats "$tmp/off") $(stats "$tmp/on")
    echo "$mode $@" >> "$tmp/w"
done
echo "# limit watch points over $rounds alternated rounds (ns per call): median unwatched, watched, cost"
awk '{ printf "%-12s %10.1f %10.1f %+10.1f\n", $1, $2, $4, $4 - $2 }' "$tmp/w"
