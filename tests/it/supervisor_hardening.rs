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

/// The jail's pid 1 under supervisor `sup`, once it has started the command (the jail is fully
/// built): the supervisor's child that has a child.
fn pid1_once_built(sup: i32) -> i32 {
    let mut pid1 = 0;
    assert!(
        wait_until(Duration::from_secs(5), || {
            pid1 = children(sup)
                .into_iter()
                .find(|p| !children(*p).is_empty())
                .unwrap_or(0);
            pid1 != 0
        }),
        "the jail's pid 1 never started the command"
    );
    pid1
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
    let pid1 = pid1_once_built(sup);
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

/// The capability sets other than the bounding set that are not all zero, in every thread of
/// `pid` (capabilities are per thread), and how many threads were read.
fn capabilities_held(pid: i32) -> (Vec<String>, usize) {
    let mut held = Vec::new();
    let mut threads = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        threads += 1;
        for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            let Some(line) = status.lines().find(|l| l.starts_with(set)) else {
                held.push(format!("{}: no {set}", task.path().display()));
                continue;
            };
            let bits = line.split_whitespace().nth(1).unwrap_or("?");
            if u64::from_str_radix(bits, 16) != Ok(0) {
                held.push(format!("{}: {line}", task.path().display()));
            }
        }
    }
    (held, threads)
}

/// Root's supervisor writes the jail's id maps with the capabilities kept from root for that
/// alone (CAP_DAC_OVERRIDE: the maps of a non-dumpable pid 1 belong to root) and holds none by
/// the time the jail runs, in any thread (a capped stdout starts a relay thread), with or
/// without a report file. The helper that stays root exists only for a report file, which it
/// renames into place at the end; a call without one has no other child than pid 1.
#[test]
fn a_root_callers_supervisor_holds_no_capability_once_the_jail_runs() {
    if !crate::support::root_or_skip("the supervisor changes uid only when root starts it") {
        return;
    }
    let dir = tempfile::tempdir_in(crate::support::suite_dir()).unwrap();
    let report = dir.path().join("r.json");
    let report_args = ["--report".to_string(), report.display().to_string()];
    for (with_report, extra) in [(false, &[][..]), (true, &report_args[..])] {
        let mut cmd = Command::new(crate::support::binary());
        cmd.args(["run", "--stdout-max", "1K"])
            .args(extra)
            .args(["--", "sleep", "30"]);
        let child = spawn(&mut cmd);
        let sup = child.id() as i32;
        let pid1 = pid1_once_built(sup);
        let (held, threads) = capabilities_held(sup);
        let others: Vec<i32> = children(sup).into_iter().filter(|p| *p != pid1).collect();
        let uid = std::fs::read_to_string(format!("/proc/{sup}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .map(str::to_string)
            .unwrap();
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(sup), nix::sys::signal::SIGTERM);
        let r = finish(
            child,
            Duration::from_secs(10),
            "tooljail run -- sleep".into(),
        );
        assert!(!r.timed_out, "{}", r.dump());
        assert!(
            !uid.split_whitespace().skip(1).any(|id| id == "0"),
            "the supervisor is still root: {uid}"
        );
        assert!(
            held.is_empty(),
            "report file {with_report}: the supervisor holds {held:?} while the jail runs"
        );
        assert!(
            threads >= 2,
            "no relay thread was read: {threads} thread(s)"
        );
        assert_eq!(
            others.len(),
            usize::from(with_report),
            "report file {with_report}: the supervisor's children beside pid 1: {others:?}"
        );
    }
    // The helper did its one job: the report is in place, root's.
    let meta = std::fs::metadata(&report).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0);
}

/// One race: a thief of `uid` (tests/../examples/probe.rs `thief`) attacks every tooljail
/// process of its uid for a few seconds while root starts jails as that uid, two at a time,
/// with a secret in tooljail's environment and the audit log and report open. Returns what it
/// stole and how many tooljail processes of its uid it saw.
fn race(user_args: &[&str], uid: u32, gid: u32) -> (Vec<String>, u64, usize) {
    const SECRET: &str = "hunter2-race";
    let probe = crate::support::Probe::new();
    let records = crate::support::records_dir();
    let mut thief_cmd = Command::new("setpriv");
    thief_cmd
        .args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".into(),
        ])
        .args(["--", &probe.bin, "thief", "4", SECRET])
        // Only the jails this race starts, marked by their records directory on their command
        // line: other tests run tooljail as the test user at the same time, and a user may of
        // course take the descriptors of its own tooljail.
        .arg(std::process::id().to_string())
        .arg(records.path());
    let thief = spawn(&mut thief_cmd);
    let log = records.path().join("audit.jsonl");
    let started = std::time::Instant::now();
    let mut runs = 0;
    while started.elapsed() < Duration::from_millis(3500) {
        let children: Vec<_> = (0..2)
            .map(|i| {
                let report = records.path().join(format!("r{i}.json"));
                let mut cmd = Command::new(crate::support::binary());
                cmd.env("TOOLJAIL_TEST_SECRET", SECRET)
                    .arg("run")
                    .arg("--audit-log")
                    .arg(&log)
                    .arg("--report")
                    .arg(&report)
                    .args(user_args)
                    .args(["--", "true"]);
                spawn(&mut cmd)
            })
            .collect();
        for c in children {
            finish(c, Duration::from_secs(10), "tooljail run -- true".into()).expect(0);
            runs += 1;
        }
    }
    let r = finish(thief, Duration::from_secs(15), "probe thief".into());
    r.expect(0);
    let stolen: Vec<String> = r
        .stdout
        .lines()
        .filter(|l| l.contains("\"stole\""))
        .map(str::to_owned)
        .collect();
    let done: serde_json::Value = r
        .stdout
        .lines()
        .find(|l| l.contains("\"thief\":\"done\""))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("the thief did not finish\n{}", r.dump()));
    (stolen, done["seen"].as_u64().unwrap(), runs)
}

/// Where /proc is mounted with `hidepid`, the /proc/PID directory of a non-dumpable task is
/// hidden from a process of the same uid without CAP_SYS_PTRACE: root's supervisor, which writes
/// its non-dumpable pid 1's id maps, keeps that capability for the opens too, so the jail runs.
#[test]
fn a_root_callers_jail_starts_under_a_proc_mounted_with_hidepid() {
    if !crate::support::root_or_skip("only root can mount a /proc of its own") {
        return;
    }
    for hidepid in ["invisible", "noaccess"] {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!(
                "mount -t proc -o hidepid={hidepid} proc /proc && exec \"$0\" run -- sh -c 'id -u; echo ran'"
            ))
            .arg(crate::support::binary());
        let r = run_for(cmd, Duration::from_secs(30));
        r.expect(0);
        assert!(r.stdout.contains("ran"), "hidepid={hidepid}:\n{}", r.dump());
    }
}

/// The `id maps` check in the output of `tooljail doctor --json`: (status, detail).
fn doctor_id_maps(r: &Run) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", r.dump()));
    let check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "id maps")
        .unwrap_or_else(|| panic!("no id maps check\n{}", r.dump()))
        .clone();
    (
        check["status"].as_str().unwrap().to_string(),
        check["detail"].as_str().unwrap().to_string(),
    )
}

/// A root caller without the capabilities that write its jail's id maps (CAP_DAC_OVERRIDE; and
/// CAP_SYS_PTRACE under a `hidepid` /proc) is refused with exit 125 and a line naming what to
/// give, nothing runs, and `doctor` says the same beforehand; with them, doctor says ok.
#[test]
fn a_root_caller_without_what_writes_the_maps_is_refused_and_doctor_says_so() {
    if !crate::support::root_or_skip("only root's jails need a capability for their maps") {
        return;
    }
    let bin = crate::support::binary();
    // tooljail ARGS in a mount namespace of its own after SETUP, without capability DROP.
    let shell = |setup: &str, drop: &str, args: &[&str]| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!(
                "{setup} exec setpriv --bounding-set -{drop} -- \"$0\" \"$@\""
            ))
            .arg(&bin)
            .args(args);
        run_for(cmd, Duration::from_secs(30))
    };
    let hidepid = "mount -t proc -o hidepid=invisible proc /proc &&";
    let cases = [
        ("", "dac_override", "CAP_DAC_OVERRIDE"),
        (hidepid, "sys_ptrace", "CAP_SYS_PTRACE"),
    ];
    for (setup, drop, named) in cases {
        let (status, detail) = doctor_id_maps(&shell(setup, drop, &["doctor", "--json"]));
        assert_eq!(status, "missing", "{setup} -{drop}: {detail}");
        assert!(detail.contains(named), "{setup} -{drop}: {detail}");
        let r = shell(setup, drop, &["run", "--", "sh", "-c", "echo ran"]);
        r.expect(125);
        assert!(!r.stdout.contains("ran"), "{}", r.dump());
        assert!(r.stderr.contains(named), "{setup} -{drop}: {}", r.dump());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
    }
    // With them (and under hidepid, with CAP_SYS_PTRACE too): ok.
    for setup in ["", hidepid] {
        let (status, detail) = doctor_id_maps(&shell(setup, "mknod", &["doctor", "--json"]));
        assert_eq!(status, "ok", "{setup}: {detail}");
    }
}

/// Issue 13 item 1: a host process of the jail's uid racing root's runs for a few seconds finds
/// no secret in any tooljail process's environment and takes no descriptor from any of them
/// (pidfd_getfd, /proc/PID/fd/N): root's environment is zeroed before the drop, the id maps
/// are written with capabilities the supervisor keeps only until then, so neither the supervisor
/// nor the jail's pid 1 is ever dumpable, and what is dumpable for a moment holds nothing of
/// root's.
#[test]
fn a_same_uid_process_racing_root_runs_finds_no_secret_and_steals_no_fd() {
    if !crate::support::root_or_skip("the supervisor changes uid only when root starts it") {
        return;
    }
    // Root's default jail runs as a transient uid no other process has (docs/jail.md), so the
    // races are run where a same-uid process can exist: jails of --user nobody and of the test
    // user.
    let (name, uid, gid) = crate::support::test_user();
    let mut cases = vec![(
        vec!["--user".to_string(), "nobody".to_string()],
        65534,
        65534,
    )];
    if uid != 65534 {
        cases.push((vec!["--user".to_string(), name], uid, gid));
    }
    for (user_args, uid, gid) in cases {
        let args: Vec<&str> = user_args.iter().map(String::as_str).collect();
        let (stolen, seen, runs) = race(&args, uid, gid);
        // The race ran: the thief saw the jails' processes of its uid (supervisor, pid 1,
        // command: at least one per run).
        assert!(
            seen >= runs as u64,
            "uid {uid}: the thief saw {seen} tooljail processes in {runs} runs"
        );
        assert!(
            stolen.is_empty(),
            "uid {uid} took from tooljail ({runs} runs):\n{}",
            stolen.join("\n")
        );
    }
}
