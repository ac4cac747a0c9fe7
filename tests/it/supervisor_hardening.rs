//! The supervisor holds what the jail must not have and other host processes must not take:
//! the root caller's environment, the audit log and report descriptors, the seccomp listener.
//! When root starts tooljail, the supervisor becomes the jail's user (nobody, or --user) before
//! making namespaces; every other process of that uid on the host must still be unable to read
//! its memory or environment or take its descriptors (it stays non-dumpable), and the same for
//! the jail's pid 1.

use crate::support::{finish, spawn, wait_until};
use std::process::Command;
use std::time::Duration;

/// Read `/proc/PID/FILE` as `uid:gid` (an attacker sharing the jail's uid on the host).
fn read_as(uid: u32, gid: u32, pid: i32, file: &str) -> std::process::Output {
    Command::new("setpriv")
        .args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
        ])
        .arg("--")
        .args(["cat", &format!("/proc/{pid}/{file}")])
        .output()
        .expect("run setpriv")
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn check(user_args: &[&str], uid: u32, gid: u32) {
    let log = tempfile::NamedTempFile::new_in(crate::support::suite_dir()).unwrap();
    let mut cmd = Command::new(crate::support::binary());
    cmd.env("TOOLJAIL_TEST_SECRET", "hunter2-supervisor")
        .arg("run")
        .arg("--audit-log")
        .arg(log.path())
        .args(user_args)
        .args(["--", "sleep", "5"]);
    let child = spawn(&mut cmd);
    let sup = child.id() as i32;
    assert!(
        wait_until(Duration::from_secs(5), || !children(sup).is_empty()),
        "the jail's pid 1 never appeared"
    );
    let pid1 = children(sup)[0];
    for (who, pid) in [("supervisor", sup), ("pid 1", pid1)] {
        for file in ["environ", "cmdline", "mem"] {
            let out = read_as(uid, gid, pid, file);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                !text.contains("hunter2-supervisor"),
                "uid {uid} read the secret from the {who}'s {file}"
            );
            if file != "cmdline" {
                assert!(
                    !out.status.success(),
                    "uid {uid} could read the {who}'s /proc/{pid}/{file}"
                );
            }
        }
        let fds = Command::new("setpriv")
            .args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".into(),
            ])
            .args(["--", "ls", &format!("/proc/{pid}/fd")])
            .output()
            .unwrap();
        assert!(
            !fds.status.success(),
            "uid {uid} could list the {who}'s descriptors"
        );
    }
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup), nix::sys::signal::SIGTERM);
    let r = finish(
        child,
        Duration::from_secs(10),
        "tooljail run -- sleep 5".into(),
    );
    assert!(!r.timed_out, "{}", r.dump());
}

#[test]
fn same_uid_host_processes_cannot_read_or_take_over_the_supervisor() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: the supervisor changes uid only when root starts it");
        return;
    }
    // Root without --user: the jail and the supervisor run as nobody.
    check(&[], 65534, 65534);
    // Root with --user: the same for that user's other processes.
    if let Ok(Some(u)) = nix::unistd::User::from_name("tooljail-test") {
        check(&["--user", "tooljail-test"], u.uid.as_raw(), u.gid.as_raw());
    }
}
