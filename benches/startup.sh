#!/bin/sh
# Start-up cost of a jail, side by side in one run: bare `/bin/true`, `unshare -Urmpn --fork`
# (the kernel's price for the namespaces alone), bubblewrap (when installed) twice — the minimal
# `bwrap --ro-bind / /` and a jail close to tooljail's default profile (every namespace, a new
# root of /usr and /etc read-only, fresh /proc, minimal /dev, tmpfs /tmp; no Landlock, no
# seccomp) — and tooljail's default profile (namespaces, new root, Landlock, the seccomp filter
# and its supervisor, rlimits, the audit record to a scratch file), with audit off, and with
# `--isolation landlock` (no namespaces); and the floor (benches/floor.c): the same kernel work
# for the default profile's walls, asked for by the smallest C program that can, so the bench
# shows how much of a call is the kernel's and how much is tooljail's own.
#
# The runs are interleaved (examples/spawn_timer: round 1 runs every row once, then round 2,
# ...; timed in-process from spawn to reaped exit, no shell or `date` in the measurement), so
# load that changes during the bench skews every row alike. It prints medians and quartiles,
# then each tooljail row's overhead over bare as a ratio of bubblewrap's and unshare's.
#
# Then, from one run each: the launcher's memory (the supervisor and the jail's pid 1 while the
# command runs, VmHWM summed; root's id-map helper too when there is one) and the size of the
# stripped binary.
#
# It runs as the caller, and again as an unprivileged user when started as root and that user
# exists (BENCH_USER, default tooljail-test, which tests/setup.sh creates).
#
# Usage: benches/startup.sh [ROUNDS]      (default 200)
#   TOOLJAIL=path/to/tooljail overrides the binary (default: the shipped build, static-pie, by
#   packaging/build-static.sh: target/release/tooljail, relinked when the sources changed). TOOLJAIL_BASE=path/to/another/tooljail adds a row for that
#   binary (e.g. a release build of the previous commit), so a change is measured before and
#   after in the same run.
set -eu

N=${1:-200}
cd "$(dirname "$0")/.."
cargo build --release --quiet --example spawn_timer
if [ -z "${TOOLJAIL:-}" ]; then
    TOOLJAIL=$(bash packaging/build-static.sh)
fi

# Everything the rows run, in a directory every user can read (root's jail and the bench user
# must reach the binaries).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp target/release/examples/spawn_timer "$tmp/spawn_timer"
cp "$TOOLJAIL" "$tmp/tooljail"
if [ -n "${TOOLJAIL_BASE:-}" ]; then
    cp "$TOOLJAIL_BASE" "$tmp/tooljail-base"
fi
# The kernel's floor for the default profile's walls (benches/floor.c), where a C compiler is.
if ! command -v gcc > /dev/null 2>&1; then
    echo "(no gcc: no floor row)"
elif ! gcc -O2 -static-pie -o "$tmp/floor" benches/floor.c; then
    echo "(benches/floor.c did not build, see above: no floor row)"
fi
printf 'extends = ["default"]\n[audit]\nenabled = false\n' > "$tmp/no-audit.toml"
chmod 644 "$tmp/no-audit.toml"

bench() { # $1: a directory the running user may write (audit records)
    out=$1
    set -- \
        "bare=/bin/true" \
        "unshare=unshare -Urmpn --fork /bin/true"
    if command -v bwrap > /dev/null 2>&1; then
        set -- "$@" \
            "bwrap-minimal=bwrap --ro-bind / / /bin/true" \
            "bwrap=bwrap --unshare-all --die-with-parent --new-session --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp --chdir /tmp /bin/true"
    else
        echo "(bubblewrap is not installed: no bwrap rows)"
    fi
    if [ -x "$tmp/floor" ]; then
        set -- "$@" "floor=$tmp/floor /bin/true"
    fi
    set -- "$@" \
        "tooljail=$tmp/tooljail run --audit-log $out/audit.jsonl -- /bin/true" \
        "tooljail-no-audit=$tmp/tooljail run -p $tmp/no-audit.toml -- /bin/true" \
        "tooljail-landlock-only=$tmp/tooljail run --isolation landlock --audit-log $out/audit.jsonl -- /bin/true"
    if [ -n "${TOOLJAIL_BASE:-}" ]; then
        set -- "$@" "tooljail-base=$tmp/tooljail-base run --audit-log $out/audit.jsonl -- /bin/true"
    fi
    "$tmp/spawn_timer" "$N" "$@"
}

# VmHWM (kB) of pid $1, or 0 when it is gone.
hwm() {
    awk '/^VmHWM:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2> /dev/null || echo 0
}

memory() { # $1: audit directory
    "$tmp/tooljail" run --audit-log "$1/audit.jsonl" -- sleep 1 &
    sup=$!
    sleep 0.5
    total=0
    detail=""
    # The supervisor and its children: the jail's pid 1 (and root's id-map helper).
    for pid in $sup $(cat "/proc/$sup/task/$sup/children" 2> /dev/null); do
        kb=$(hwm "$pid")
        total=$((total + kb))
        detail="$detail $pid:${kb}kB"
    done
    wait "$sup"
    echo "launcher memory (VmHWM summed over the supervisor and its children):$detail = ${total} kB"
}

report() { # $1: who, $2: audit directory
    echo "== as $1 ($(uname -r), $(nproc) cpus, $N interleaved rounds)"
    bench "$2"
    memory "$2"
}

report "$(id -un)" "$tmp"
strip -o "$tmp/stripped" "$TOOLJAIL"
echo "binary: $(wc -c < "$TOOLJAIL") bytes, stripped $(wc -c < "$tmp/stripped") bytes"

user=${BENCH_USER:-tooljail-test}
if [ "$(id -u)" = 0 ] && id "$user" > /dev/null 2>&1; then
    mkdir "$tmp/user"
    chown "$user" "$tmp/user"
    # The functions above, again, as the unprivileged user.
    export N tmp TOOLJAIL_BASE="${TOOLJAIL_BASE:-}"
    runuser -u "$user" -- sh -c "set -eu; $(sed -n '/^bench() {/,/^}/p; /^hwm() {/,/^}/p; /^memory() {/,/^}/p; /^report() {/,/^}/p' "$0")
report $user $tmp/user"
fi
