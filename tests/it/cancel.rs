//! A call the caller cancels (SIGTERM or SIGINT to tooljail) is reported as `cancelled`, not
//! as the command's own death by that signal; the command's status and signal are kept. As root
//! and as the unprivileged test user.

use crate::support::{each_identity, finish, host_pids_running, spawn, unique, wait_until};
use nix::sys::signal::Signal;
use serde_json::Value;
use std::time::Duration;

fn cancelled_by(sig: Signal, expect_status: i32) {
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let report = dir.path().join("report.json");
        let audit = dir.path().join("audit.jsonl");
        let marker = unique("3000.");
        let mut cmd = ctx.tooljail([
            "run",
            "--report",
            report.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
            "--",
            "sleep",
            &marker,
        ]);
        let child = spawn(&mut cmd);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        assert!(
            wait_until(Duration::from_secs(10), || !host_pids_running(
                "sleep", &marker
            )
            .is_empty()),
            "the command never started"
        );
        nix::sys::signal::kill(pid, sig).unwrap();
        let r = finish(
            child,
            Duration::from_secs(10),
            "tooljail run -- sleep".into(),
        );
        r.expect(expect_status);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(v["outcome"], "cancelled", "{v:#}\n{}", r.dump());
        assert_eq!(v["signal"], sig.as_str(), "{v:#}");
        assert_eq!(v["stopped_by"], Value::Null, "{v:#}");
        assert_eq!(v["exit_status"], expect_status, "{v:#}");
    });
}

#[test]
fn a_callers_sigterm_is_a_cancel() {
    cancelled_by(Signal::SIGTERM, 143);
}

#[test]
fn a_callers_sigint_is_a_cancel() {
    cancelled_by(Signal::SIGINT, 130);
}

#[test]
fn a_command_that_kills_itself_is_not_cancelled() {
    // The positive control: the same signal, sent by the command to itself, is `signaled`.
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let report = dir.path().join("report.json");
        let mut cmd = ctx.tooljail([
            "run",
            "--report",
            report.to_str().unwrap(),
            "--audit-log",
            dir.path().join("audit.jsonl").to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ]);
        let r = finish(spawn(&mut cmd), Duration::from_secs(10), "kill self".into());
        r.expect(143);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(v["outcome"], "signaled", "{v:#}");
    });
}
