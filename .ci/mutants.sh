#!/usr/bin/env bash
# Mutation check of the security-critical launch steps: each mutation below removes one wall
# from a copy of the tree, and the named tests must then fail. A mutation whose tests still pass
# means the suite no longer proves that wall; a pattern that does not match exactly once in
# src/ means the code moved or changed: both fail this script, loudly.
#
# Mutations are found by code text (a regular expression over every file of src/), never by
# file or line, so they survive code moving between modules. One copy of the tree and one
# target directory serve all mutations (each build is incremental); the original file is put
# back after each mutation.
#
# Usage: bash .ci/mutants.sh   (from anywhere; needs the suite's setup: tests/setup.sh, root)
# TOOLJAIL_MUTANTS_DIR: where the copy lives (default /tmp/tooljail-mutants, reused).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${TOOLJAIL_MUTANTS_DIR:-/tmp/tooljail-mutants}
export CARGO_TERM_COLOR=never
# Each mutant rebuilds one crate: incremental builds pay here, whatever the caller chose.
export CARGO_INCREMENTAL=1

mkdir -p "$work/tree"
# The tree as it is here (local edits included), without the build output or git metadata;
# the copy's target dir is kept from an earlier run, for incremental builds. Files get the
# time of the copy (-m): cargo must rebuild what an earlier mutant left in that target dir.
find "$work/tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
tar -C "$repo" --exclude=./target --exclude=./.git --exclude=./fuzz/target --exclude=./fuzz/corpus \
    --exclude=./fuzz/artifacts -cf - . | tar -C "$work/tree" -xmf -
# A first run starts from the dependencies the suite's own debug build compiled (CI's README
# test command builds them just before): they do not depend on where the tree lies, so cargo
# reuses them and compiles only tooljail's own crates here (about two minutes less in CI).
if [ ! -d "$work/tree/target/debug" ] && [ -d "$repo/target/debug/deps" ]; then
    mkdir -p "$work/tree/target/debug"
    cp -a "$repo/target/debug/deps" "$repo/target/debug/build" "$repo/target/debug/.fingerprint" \
        "$work/tree/target/debug/"
fi
cd "$work/tree"

# NAME @@ TESTS THAT MUST FAIL (exact names; `-` on a mutation's further lines) @@ REGEX @@ REPLACEMENT
# One patch a line (python `re`, DOTALL); a mutation may have several lines of the same NAME.
MUTATIONS=$(cat <<'EOF'
setsid @@ jail_net::no_controlling_terminal_to_inject_into @@ nix::unistd::setsid\(\)\.map_err\([^;]*\)\?; @@
capability drop @@ jail::no_capabilities_and_no_new_privileges @@ (?:\w+::)*caps::drop_all\([^;\n]*\)\?;(?=(?:\s*//[^\n]*)*\s*nix::sys::prctl::set_no_new_privs\(\)\.map_err\(\|e\| step\("set no_new_privs"\)) @@
no_new_privs @@ jail::no_capabilities_and_no_new_privileges @@ nix::sys::prctl::set_no_new_privs\(\)\.map_err\(\|e\| step\("set no_new_privs"\)[^;]*\?; @@
supervisor dumpable @@ supervisor_hardening::a_same_uid_process_racing_root_runs_finds_no_secret_and_steals_no_fd @@ let dumpable_clone = maps_cap\.is_none\(\); @@ let dumpable_clone = true;
root capability kept @@ supervisor_hardening::a_root_callers_supervisor_holds_no_capability_once_the_jail_runs @@ if let Err\(e\) = clear_all\(\) \{ @@ if let Err(e) = Ok::<(), Error>(()) {
syslog allowed @@ seccomp_probe::probe_checks_pass_and_every_denial_is_named fulljail_seccomp::probe_checks_pass_in_the_jail_and_every_denial_is_reported @@ deny\("syslog", "[^"]*"\), @@
syslog allowed @@ - @@ (name: "@system-service",.*?members: &\[) @@ \1 "syslog",
fd close @@ jail::caller_fds_are_not_inherited @@ process::close_fds_except\(&keep\)\.map_err\(step\("close inherited fds"\)\)\?; @@
fd close @@ - @@ if let Err\(e\) = process::close_fds_except\(&\[\]\) \{ @@ if let Err(e) = std::io::Result::<()>::Ok(()) {
fd close @@ - @@ process::close_range\(3, libc::CLOSE_RANGE_CLOEXEC\)\.map_err\([^;]*\)\?; @@
bind nosuid @@ jail::binds_are_nosuid_nodev_and_writable_ones_noexec @@ (fn attach_bind\(.*?let mut attrs = )NOSUID \| NODEV; @@ \1NODEV;
rw bind exec @@ jail::binds_are_nosuid_nodev_and_writable_ones_noexec jail::a_writable_bind_runs_nothing_unless_exec_is_asked_for @@ (fn attach_bind\(.*?)if !bind\.exec \{\s*attrs \|= NOEXEC;\s*\} @@ \1
held mount parent @@ jail::binds_side_by_side_inside_a_writable_bind_land_on_top_of_it @@ Some\(h\) if h\.path == parent => h, @@ Some(h) => h,
pdeathsig @@ jail_lifecycle::sigkill_of_tooljail_takes_the_jail_down_at_once @@ nix::sys::prctl::set_pdeathsig\(Signal::SIGKILL\)\s*\.map_err\([^;]*\)\?; @@
export ELF content @@ export::each_refusal_rule_names_the_file_and_writes_nothing_outside_to @@ if head\.starts_with\(b"\\x7fELF"\) \{ @@ if false {
export dots in a name @@ export::each_refusal_rule_names_the_file_and_writes_nothing_outside_to @@ if name\.contains\("\.\."\) \{ @@ if false {
export writer becomes the owner @@ export::root_exports_as_the_directorys_owner @@ nix::unistd::setresuid\(u, u, u\)\?; @@
setid bits @@ root_callers::no_setuid_setgid_file_or_file_capability_can_be_left_through_a_writable_bind @@ Op::Jset\(SETID_BITS, 0, 1\),\s*Op::Ret\(Verdict::Harden\(libc::EPERM\)\), @@ Op::Jset(SETID_BITS, 0, 1), Op::Ret(Verdict::Allow),
rw as owner @@ root_callers::rw_writes_as_the_directorys_owner_and_others_files_stay_unwritable @@ if st\.st_uid == who\.uid \{ @@ if true {
egress address @@ egress::everything_else_fails_and_is_reported @@ if !needs_a_rule\(ip\) \{ @@ if true {
egress sni @@ egress::everything_else_fails_and_is_reported @@ Hello::ServerName\(Some\(name\)\) if name == target\.host => \{ @@ Hello::ServerName(Some(_name)) => {
egress credential @@ egress::a_credential_reaches_only_its_host_and_never_the_jail @@ if listed && name\.eq_ignore_ascii_case\(&s\.header\) \{ @@ if name.eq_ignore_ascii_case(&s.header) {
proc mask flags @@ jail::proc_is_masked_and_its_sysctls_read_only @@ mount::set_attr\(first\.as_fd\(\), RDONLY \| NOSUID \| NOEXEC, 0, false\) @@ mount::set_attr(first.as_fd(), 0, 0, false)
pid 1 ends the rest @@ limits::a_daemon_left_running_is_ended_and_its_cpu_time_counted @@ (if !nothing_left \{\s*)loop \{ @@ \1while all.as_raw() == 0 {
closed stdio @@ sinks::a_closed_stdin_or_stdout_is_dev_null_never_a_file_tooljail_opens @@ if let Err\(e\) = tooljail::sys::process::open_closed_stdio\(\) \{ @@ if let Err(e) = std::io::Result::<()>::Ok(()) {
pid 1 signal actions @@ jail_lifecycle::signals_the_caller_ignored_reach_the_command_with_their_default_action @@ process::default_dispositions\(\);(?=\s*let mut go = \[0u8; 1\];\s*match) @@
EOF
)

# patch NAME: apply every patch line of mutation NAME to the tree; each regex must match exactly
# once in all of src/. Prints the files it changed (to restore them).
patch_tree() {
    python3 - "$1" <<'PY'
import os, pathlib, re, sys
name = sys.argv[1]
rows = [[f.strip() for f in re.split(r" @@(?: |$)", l)] for l in os.environ["MUTATIONS"].splitlines()]
rows = [r + [""] * (4 - len(r)) for r in rows]
changed = []
for row_name, _, pattern, repl in rows:
    if row_name != name:
        continue
    rx = re.compile(pattern, re.S)
    hits = [(p, len(rx.findall(p.read_text()))) for p in sorted(pathlib.Path("src").rglob("*.rs"))]
    hits = [(p, n) for p, n in hits if n]
    total = sum(n for _, n in hits)
    if total != 1:
        sys.exit(f"mutation {name!r}: pattern {pattern!r} matches {total} times in src/ "
                 f"({', '.join(f'{p}: {n}' for p, n in hits) or 'nowhere'}); it must match once")
    path = hits[0][0]
    path.write_text(rx.sub(repl, path.read_text(), count=1))
    changed.append(str(path))
print(" ".join(sorted(set(changed))))
PY
}
export MUTATIONS

field() { awk -F' @@ ' -v f="$1" '{gsub(/^ +| +$/, "", $f); print $f}' <<<"$MUTATIONS"; }
names=$(field 1 | awk '!seen[$0]++')
results=()
failed=0
# The unmutated tree first: the tests named below must pass, or a "caught" means nothing.
all_tests=$(field 2 | tr ' ' '\n' | grep -v '^-$' | sort -u | tr '\n' ' ')
echo "== mutants: baseline (no mutation): $all_tests"
# The examples (the probe, the seccomp launcher) link the library too: rebuilt every time.
cargo build --locked --examples -q
# shellcheck disable=SC2086
cargo test --locked --test it -q -- --exact $all_tests >"$work/baseline.log" 2>&1 </dev/null \
    || { cat "$work/baseline.log"; echo "mutants: the baseline fails"; exit 1; }

while IFS= read -r name; do
    tests=$(awk -F' @@ ' -v n="$name" '$1==n && $2!="-" {print $2}' <<<"$MUTATIONS" | tr '\n' ' ')
    echo "== mutant: $name (expected to fail: $tests)"
    if ! files=$(patch_tree "$name"); then
        results+=("$name|PATTERN NOT FOUND|-")
        failed=1
        # Undo a partly applied mutation (-m: new mtimes, so cargo rebuilds).
        tar -C "$repo" -cf - src | tar -xmf -
        continue
    fi
    log="$work/${name// /-}.log"
    # shellcheck disable=SC2086
    if cargo build --locked --examples -q >"$log" 2>&1 &&
        cargo test --locked --test it -- --exact $tests >>"$log" 2>&1 </dev/null; then
        results+=("$name|SURVIVED (no test failed)|$tests")
        failed=1
    elif grep -q '^error\(\[E[0-9]*\]\)\?: ' "$log" && ! grep -q '^test result' "$log"; then
        results+=("$name|BUILD FAILED (see $log)|-")
        failed=1
    else
        caught=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log" | sort -u | tr '\n' ' ')
        # The first assertion that failed, so the table says how the wall's absence showed.
        how=$(grep -a -A1 ' panicked at ' "$log" | sed -n 2p | cut -c1-110)
        how=${how//|//}
        results+=("$name|caught|$caught|$how")
    fi
    for f in $files; do cp "$repo/$f" "$f"; done
done <<<"$names"

echo
printf '%-20s %-28s %s\n' MUTATION RESULT "FAILING TESTS (first failed assertion)"
for r in "${results[@]}"; do
    IFS='|' read -r n res t how <<<"$r"
    printf '%-20s %-28s %s\n' "$n" "$res" "$t"
    [ -z "${how:-}" ] || printf '%-49s (%s)\n' "" "$how"
done
[ "$failed" -eq 0 ] || { echo "mutants: some wall is not proven by the suite"; exit 1; }
echo "mutants: every mutation was caught"
