#!/bin/sh
# Cost of the seccomp filter, in ns per syscall (not a test; run by hand):
#   - getppid (allowed): bare vs under the default filter. Allowed calls never leave the
#     kernel; since Linux 5.11 the per-nr action cache skips the BPF program entirely.
#   - ptrace (always denied): bare (ESRCH from the kernel) vs the USER_NOTIF round trip to the
#     supervisor, which every denied call pays.
# Usage: benches/seccomp.sh [CALLS]
set -eu
cd "$(dirname "$0")/.."
n="${1:-1000000}"
cargo build --release --quiet --example probe --example seccomp_launch
probe=target/release/examples/probe
launch=target/release/examples/seccomp_launch
echo "# bare"
"$probe" bench "$n"
"$probe" bench-denied "$n"
echo "# under the default filter (@system-service), served by seccomp_launch supervise"
"$launch" supervise default -- "$probe" bench "$n"
"$launch" supervise default -- "$probe" bench-denied "$((n / 20))" 2>/dev/null
