//! The supervisor holds what the jail must not have and other host processes must not take:
//! the root caller's environment, the audit log and report descriptors, the seccomp listener.
//! When root starts tooljail, the supervisor becomes the jail's user (nobody, or --user) before
//! making namespaces; every other process of that uid on the host must still be unable to read
//! its memory or environment or take its descriptors (it stays non-dumpable), and the same for
//! the jail's pid 1.

use crate::support::{finish, run_for, spawn, wait_until, Run};
use std::process::Command;
use std::time::Duration;

/// `argv` as `uid:gid` (an attacker sharing the jail's uid on the host), bounded.
fn as_user(uid: u32, gid: u32, argv: &[&str]) -> Run {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".into(),
    ])
    .arg("--")
    .args(argv);
    run_for(cmd, Duration::from_secs(10))
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `pid` exists and is not a zombie: a read refused by a process that is gone proves nothing.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? != "Z"))
        .unwrap_or(false)
}

/// What the attacker tries on `pid`: read its environment, command line and memory, list its
/// descriptors. Each with its result, in this order.
fn attack(uid: u32, gid: u32, pid: i32) -> Vec<(&'static str, Run)> {
    let proc = |f: &str| format!("/proc/{pid}/{f}");
    vec![
        ("environ", as_user(uid, gid, &["cat", &proc("environ")])),
        ("cmdline", as_user(uid, gid, &["cat", &proc("cmdline")])),
        ("mem", as_user(uid, gid, &["cat", &proc("mem")])),
        ("fd", as_user(uid, gid, &["ls", &proc("fd")])),
    ]
}

/// Positive control: the same attacks on an ordinary host process of the same uid (dumpable,
/// holding a secret in its environment) do work, so a refusal below is the supervisor's
/// non-dumpable state, not a broken attack.
fn control(uid: u32, gid: u32) {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        format!("--reuid={uid}"),
        format!("--regid={gid}"),
        "--clear-groups".into(),
    ])
    .args([
        "--",
        "env",
        "TOOLJAIL_TEST_SECRET=hunter2-control",
        "sleep",
        "30",
    ]);
    let victim = spawn(&mut cmd);
    let pid = victim.id() as i32;
    assert!(
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with("sleep\0"))
        }),
        "the control process did not start"
    );
    for (file, r) in attack(uid, gid, pid) {
        match file {
            "environ" => assert!(r.stdout.contains("hunter2-control"), "{}", r.dump()),
            // Reading at offset 0 hits no mapping (EIO): the open itself was allowed.
            "mem" => assert!(!r.stderr.contains("Permission denied"), "{}", r.dump()),
            _ => {
                r.expect(0);
            }
        }
    }
    assert!(alive(pid), "the control died during the attack");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    let r = finish(victim, Duration::from_secs(10), "control sleep".into());
    assert!(!r.timed_out, "{}", r.dump());
}

fn check(user_args: &[&str], pin: Option<&crate::support::Pin>, uid: u32, gid: u32) {
    control(uid, gid);
    let log = tempfile::NamedTempFile::new_in(crate::support::suite_dir()).unwrap();
    let mut cmd = Command::new(crate::support::binary());
    if let Some(pin) = pin {
        pin.apply(&mut cmd);
    }
    cmd.env("TOOLJAIL_TEST_SECRET", "hunter2-supervisor")
        .arg("run")
        .arg("--audit-log")
        .arg(log.path())
        .args(user_args)
        .args(["--", "sleep", "30"]);
    let mut child = spawn(&mut cmd);
    let sup = child.id() as i32;
    assert!(
        wait_until(Duration::from_secs(5), || !children(sup).is_empty()),
        "the jail's pid 1 never appeared"
    );
    let pid1 = children(sup)[0];
    // pid 1 has started the command: the jail is fully built.
    assert!(
        wait_until(Duration::from_secs(5), || !children(pid1).is_empty()),
        "the command never started"
    );
    for (who, pid) in [("supervisor", sup), ("pid 1", pid1)] {
        for (file, r) in attack(uid, gid, pid) {
            // Refused because of who we are, by a process that is still there.
            assert!(
                alive(pid),
                "the {who} is gone: the refusal below proves nothing"
            );
            assert!(
                !r.stdout.contains("hunter2-supervisor"),
                "uid {uid} read the secret from the {who}'s {file}\n{}",
                r.dump()
            );
            if file != "cmdline" {
                assert_ne!(
                    r.code(),
                    0,
                    "uid {uid} could use the {who}'s {file}\n{}",
                    r.dump()
                );
                assert!(
                    r.stderr.contains("Permission denied"),
                    "the {who}'s {file}: not refused for permission\n{}",
                    r.dump()
                );
            }
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "tooljail ended early");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup), nix::sys::signal::SIGTERM);
    let r = finish(
        child,
        Duration::from_secs(10),
        "tooljail run -- sleep 30".into(),
    );
    assert!(!r.timed_out, "{}", r.dump());
}

#[test]
fn same_uid_host_processes_cannot_read_or_take_over_the_supervisor() {
    if !crate::support::root_or_skip("the supervisor changes uid only when root starts it") {
        return;
    }
    // Root without --user: the jail and the supervisor run as a transient uid (pinned here, so
    // the attacker can take it too).
    let root = crate::support::Ctx {
        who: crate::support::Who::Root,
    };
    let pin = root.pin_jail_uid();
    check(&[], Some(&pin), pin.uid, pin.uid);
    // Root with --user: the same for that user's other processes.
    let (name, uid, gid) = crate::support::test_user();
    if uid == 65534 {
        crate::support::skip(
            "test-user",
            "no test user other than nobody (tests/setup.sh)",
        );
    } else {
        check(&["--user", &name], None, uid, gid);
    }
}
