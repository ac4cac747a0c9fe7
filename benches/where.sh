#!/bin/sh
# Where a call's cost goes, against the floor (benches/floor.c: the same kernel work for the
# default profile's walls, asked for by the smallest C program that can). Two tables:
#
# - CPU per call, sampled by `perf record -a -g` over CALLS calls of tooljail's default profile
#   and CALLS calls of the floor (`/bin/true` in both), each sample charged to the syscall it
#   was taken in, to page faults, to user space, or to the rest of the kernel (RCU callbacks,
#   interrupts). Sampling inflates both columns alike: compare them with each other, and take
#   wall and CPU figures from benches/startup.sh.
# - CPU per call by process: each process's time on a CPU (`perf sched`), summed by its part in
#   a call (the supervisor or the floor's parent, root's helper, pid 1, the command), tooljail
#   against the floor.
# - Page faults per call of tooljail, by process (the supervisor, then its children in the
#   order they were made) and by region (the binary's sections, heap, stack).
#
# It runs as the caller (root: perf needs it for the whole-system sampling); the analysis is
# benches/where.py. docs/startup.md ("What is left") shows a run and reads it.
#
# Usage: benches/where.sh [CALLS]      (default 200)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: the static-pie build of
#   packaging/build-static.sh).
set -eu

N=${1:-200}
HZ=20000
cd "$(dirname "$0")/.."
for tool in perf gcc readelf python3; do
    if ! command -v "$tool" > /dev/null 2>&1; then
        echo "where.sh needs $tool (Debian: linux-perf, gcc, binutils, python3)" >&2
        exit 1
    fi
done
if [ -z "${TOOLJAIL:-}" ]; then
    TOOLJAIL=$(bash packaging/build-static.sh)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Named so that perf's command names say which is which.
cp "$TOOLJAIL" "$tmp/tooljail"
gcc -O2 -static-pie -o "$tmp/floor" benches/floor.c

# Runs its arguments N times (perf samples the whole system; the loop's own shell is left out
# by its command name).
printf '#!/bin/sh\ni=0\nwhile [ "$i" -lt %s ]; do "$@"; i=$((i + 1)); done\n' "$N" > "$tmp/loop"
tooljail="$tmp/tooljail run --audit-log $tmp/audit.jsonl -- /bin/true"

# Warm the page cache (binary, profiles, audit log) before sampling.
sh "$tmp/loop" $tooljail
perf record -q -F "$HZ" -a -g -o "$tmp/cpu-tooljail.data" -- sh "$tmp/loop" $tooljail
perf record -q -F "$HZ" -a -g -o "$tmp/cpu-floor.data" -- sh "$tmp/loop" "$tmp/floor" /bin/true
perf script -i "$tmp/cpu-tooljail.data" -F comm,ip,sym,dso > "$tmp/cpu-tooljail.txt" 2> /dev/null
perf script -i "$tmp/cpu-floor.data" -F comm,ip,sym,dso > "$tmp/cpu-floor.txt" 2> /dev/null
python3 benches/where.py cpu "$tmp/cpu-tooljail.txt" "$tmp/cpu-floor.txt" "$N" "$HZ"
echo

perf sched record -q -o "$tmp/sched-tooljail.data" -- sh "$tmp/loop" $tooljail > /dev/null 2>&1
perf sched record -q -o "$tmp/sched-floor.data" -- sh "$tmp/loop" "$tmp/floor" /bin/true > /dev/null 2>&1
perf sched timehist -s -i "$tmp/sched-tooljail.data" > "$tmp/sched-tooljail.txt" 2> /dev/null
perf sched timehist -s -i "$tmp/sched-floor.data" > "$tmp/sched-floor.txt" 2> /dev/null
python3 benches/where.py roles "$tmp/sched-tooljail.txt" "$tmp/sched-floor.txt" "$N"
echo

perf record -q -e page-faults -c 1 -d -o "$tmp/faults.data" -- sh "$tmp/loop" $tooljail
perf script -i "$tmp/faults.data" --show-mmap-events -F comm,pid,addr,dso > "$tmp/faults.txt" 2> /dev/null
python3 benches/where.py faults "$tmp/faults.txt" "$N" "$tmp/tooljail"
