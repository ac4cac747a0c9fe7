#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: builds the fuzz crate once (nightly, cargo-fuzz,
# debug assertions on so an overflow panics; no AddressSanitizer: the code under test is safe
# Rust, where ASan finds nothing a panic would not, and it slows the build and every run),
# seeds each target from what the project ships (fuzz/seeds.py) and its checked-in regression
# inputs (fuzz/regressions/TARGET/: every input that once failed), then runs it for SECONDS
# (default 30). A crash, a panic or a hang (one input over 10 s) fails the run, and the input
# is left in target/fuzz-artifacts/TARGET/ to be added to fuzz/regressions/. Prints the
# executions per target. The mutations follow a fixed seed (FUZZ_SEED, default 1), so a run
# that passed once passes again on the same code for as long (CI cannot fail on a crash that
# an earlier run of the same commit did not meet); give another seed, or more seconds, to
# explore further. Usage: [FUZZ_SEED=N] bash fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=(profile_load extends_merge size_duration vars_expand policy_resolve audit_read report_roundtrip
         egress_head egress_hello egress_dns)
# The dictionary of profile keys helps the targets that read TOML.
declare -A dict=([profile_load]=1 [extends_merge]=1 [policy_resolve]=1)

(cd fuzz && time cargo +nightly fuzz build --sanitizer none --debug-assertions --codegen-units 2)
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release
work=target/fuzz-corpus
rm -rf "$work" target/fuzz-artifacts
python3 fuzz/seeds.py "$work"
summary=()
status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "fuzz/regressions/$t" "target/fuzz-artifacts/$t"
    args=(-max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 -max_len=65536
          -print_final_stats=1 -artifact_prefix="target/fuzz-artifacts/$t/")
    [ -n "${dict[$t]:-}" ] && args+=(-dict=fuzz/profile.dict)
    log=target/fuzz-artifacts/$t.log
    if "$bin_dir/$t" "${args[@]}" "$work/$t" "fuzz/regressions/$t" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        tail -40 "$log"
        ls -l "target/fuzz-artifacts/$t/"
    fi
    execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log")
    corpus=$(ls "$work/$t" | wc -l)
    summary+=("$(printf '%-18s %-7s %10s executions in %ss, corpus %s' "$t" "$result" "${execs:-?}" "$seconds" "$corpus")")
done
printf '   %s\n' "${summary[@]}"
exit "$status"
