//! Lifecycle: the wall-clock timeout, signals, and that nothing of the jail outlives it.

use crate::support::{
    each_identity, finish, host_pids_running, run, spawn, through, unique, wait_until, Ctx,
    LOAD_SLACK,
};
use std::time::{Duration, Instant};

fn jail(ctx: &Ctx, args: &[&str]) -> crate::support::Run {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    run(ctx.tooljail(a))
}

#[test]
fn signals_the_caller_ignored_reach_the_command_with_their_default_action() {
    // SIG_IGN and the signal mask survive fork and execve: the command must start as any
    // program does, whatever its caller ignored (nohup, a shell's background job) and whatever
    // tooljail blocks to forward signals. Both launches: pid 1 resets the actions for the
    // command it forks, the command without namespaces resets its own.
    each_identity(|ctx| {
        for mode in [&[][..], &["--isolation", "landlock"][..]] {
            let mut args = vec!["run"];
            args.extend_from_slice(mode);
            args.extend([
                "--",
                "sh",
                "-c",
                "grep -E '^Sig(Ign|Blk):' /proc/self/status",
            ]);
            let ignoring = [
                "sh",
                "-c",
                "trap '' HUP INT QUIT USR1 USR2 TERM CHLD; exec \"$@\"",
                "sh",
            ];
            let r = run(through(&ignoring, &ctx.tooljail(args)));
            r.expect(0);
            // sh (dash) itself sets nothing: what it shows is what the command was given.
            let mask = |name: &str| {
                let line = r.stdout.lines().find_map(|l| l.strip_prefix(name));
                let hex = line.unwrap_or_else(|| panic!("no {name}\n{}", r.dump()));
                u64::from_str_radix(hex.trim(), 16).unwrap()
            };
            assert_eq!(mask("SigBlk:"), 0, "{mode:?}: {}", r.dump());
            // Signals 32 and 33 are glibc's own (thread cancellation, set*id across threads):
            // no program sets them through signal(), and a libc installs its handlers there.
            let glibc = (1u64 << 31) | (1 << 32);
            assert_eq!(mask("SigIgn:") & !glibc, 0, "{mode:?}: {}", r.dump());
        }
    });
}

#[test]
fn timeout_is_124_and_prompt() {
    each_identity(|ctx| {
        let r = jail(ctx, &["--timeout", "1s", "--", "sleep", "30"]);
        r.expect(124);
        // At the 1 s timeout, not at the end of the 30 s sleep.
        assert!(
            r.elapsed < Duration::from_secs(1) + LOAD_SLACK,
            "{}",
            r.dump()
        );
    });
}

#[test]
fn timeout_kills_a_command_that_ignores_sigterm_after_the_grace() {
    each_identity(|ctx| {
        // The default Policy's kill_after is 2 s.
        let r = jail(
            ctx,
            &[
                "--timeout",
                "1s",
                "--",
                "sh",
                "-c",
                "trap '' TERM; while :; do sleep 0.1; done",
            ],
        );
        r.expect(124);
        assert!(
            r.elapsed >= Duration::from_millis(2500),
            "SIGKILL came before the grace\n{}",
            r.dump()
        );
        // At the end of the grace (1 s + 2 s), not never.
        assert!(
            r.elapsed < Duration::from_secs(3) + LOAD_SLACK,
            "{}",
            r.dump()
        );
    });
}

#[test]
fn sigterm_to_tooljail_is_forwarded_to_the_command() {
    each_identity(|ctx| {
        let marker = unique("3000.");
        let mut cmd = ctx.tooljail(["run", "--", "sleep", &marker]);
        let child = spawn(&mut cmd);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        assert!(wait_until(Duration::from_secs(10), || !host_pids_running(
            "sleep", &marker
        )
        .is_empty()));
        // The pid we spawned is setpriv's, which exec'd tooljail: the same process.
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let r = finish(
            child,
            Duration::from_secs(10),
            "tooljail run -- sleep".into(),
        );
        r.expect(143);
        assert!(
            host_pids_running("sleep", &marker).is_empty(),
            "{}",
            r.dump()
        );
    });
}

#[test]
fn a_daemon_started_by_the_command_dies_with_it() {
    each_identity(|ctx| {
        let marker = unique("3001.");
        let mut leftovers = crate::support::KillOnDrop::new();
        leftovers.marker(&marker);
        // The daemon leaves the command's session and output; the command exits only once the
        // daemon runs (its pid file is written and it answers kill -0).
        let script = format!(
            "(setsid sh -c 'echo $$ > /tmp/daemon.pid; exec sleep {marker}' \
               </dev/null >/dev/null 2>&1 &); \
             for i in $(seq 200); do [ -s /tmp/daemon.pid ] && break; sleep 0.02; done; \
             kill -0 \"$(cat /tmp/daemon.pid)\" && echo DAEMON-RUNNING; exit 0"
        );
        let r = jail(ctx, &["--", "sh", "-c", &script]);
        r.expect(0).expect_stdout_contains("DAEMON-RUNNING");
        let left = host_pids_running("sleep", &marker);
        assert!(left.is_empty(), "daemon survived: {left:?}\n{}", r.dump());
    });
}

#[test]
fn sigkill_of_tooljail_takes_the_jail_down_at_once() {
    each_identity(|ctx| {
        let marker = unique("3002.");
        // Whatever outlives tooljail is killed when the test ends, also when it fails.
        let mut leftovers = crate::support::KillOnDrop::new();
        leftovers.marker(&marker);
        let script = format!("sleep {marker} & (setsid sleep {marker} &); wait");
        let mut cmd = ctx.tooljail(["run", "--", "sh", "-c", &script]);
        let child = spawn(&mut cmd);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        assert!(
            wait_until(Duration::from_secs(10), || host_pids_running(
                "sleep", &marker
            )
            .len()
                >= 2),
            "the jailed sleeps never started"
        );
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        // PR_SET_PDEATHSIG: the kernel kills pid 1 (and with it the pid namespace) at once; the
        // slack is the host's, the jail would otherwise live for ever.
        let gone = wait_until(LOAD_SLACK, || {
            host_pids_running("sleep", &marker).is_empty()
        });
        let r = finish(child, Duration::from_secs(5), "tooljail (SIGKILLed)".into());
        assert!(
            gone,
            "jailed processes {:?} alive {:?} after SIGKILL\n{}",
            host_pids_running("sleep", &marker),
            killed.elapsed(),
            r.dump()
        );
    });
}
