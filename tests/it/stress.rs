//! Load and faults (issue 21): many calls at once, and tooljail killed or starved mid-run.
//! Afterwards nothing is left: no process, no mount, no temporary file, no cgroup, no jail uid
//! in use; every audit record is whole and every report is JSON.
//!
//! Both tests run in the two integration passes (debug and release binary); each is bounded
//! (the load test's calls are short, the kill trials are 1 s at most each).

use crate::support::api::report::Report;
use crate::support::{
    finish, identities, records_dir, run_for, spawn, through, unique, wait_until, Ctx, KillOnDrop,
};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The load and fault tests compare the host's mount table and /tmp before and after: they run
/// one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Host pids whose command line holds `marker` (tooljail's own argv holds it too).
fn pids_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&c).contains(marker) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Host pids running as one of `uids` (real uid).
fn pids_of_uids(uids: &std::ops::RangeInclusive<u32>) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(md) = std::fs::metadata(e.path()) {
            if uids.contains(&md.uid()) {
                out.push((pid, md.uid()));
            }
        }
    }
    out
}

/// What a run may leave on the host, as seen from here.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    mounts: Vec<String>,
    tmp: BTreeSet<(String, u32)>,
    cgroups: BTreeSet<PathBuf>,
    run_dir: BTreeSet<String>,
}

fn host_state() -> HostState {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let tmp = crate::support::tmp_entries();
    let mut cgroups = BTreeSet::new();
    let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) && depth < 6 {
                if e.file_name().to_string_lossy().contains("tooljail") {
                    cgroups.insert(p.clone());
                }
                stack.push((p, depth + 1));
            }
        }
    }
    let run_dir = std::fs::read_dir("/run/tooljail")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    HostState {
        mounts,
        tmp,
        cgroups,
        run_dir,
    }
}

/// `before` and `after` agree, except for /tmp entries of identities other than the jails'
/// (other users of the machine may come and go).
fn assert_nothing_left(before: &HostState, after: &HostState, jail_uid: impl Fn(u32) -> bool) {
    assert_eq!(
        before.mounts, after.mounts,
        "the host's mount table changed"
    );
    let new_tmp: Vec<_> = after
        .tmp
        .difference(&before.tmp)
        .filter(|(_, uid)| jail_uid(*uid))
        .collect();
    assert!(new_tmp.is_empty(), "left in /tmp: {new_tmp:?}");
    assert_eq!(before.cgroups, after.cgroups, "cgroups left");
    assert!(
        after.run_dir.is_subset(&before.run_dir),
        "left in /run/tooljail: {:?}",
        after
            .run_dir
            .difference(&before.run_dir)
            .collect::<Vec<_>>()
    );
}

/// `tooljail run --report REPORT --audit-log AUDIT REST...` as `ctx`.
fn recorded<I, S>(
    ctx: &Ctx,
    report: &std::path::Path,
    audit: &std::path::Path,
    rest: I,
) -> std::process::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = ctx.tooljail(["run", "--report"]);
    cmd.arg(report).arg("--audit-log").arg(audit).args(rest);
    cmd
}

/// The uids root's calls in these tests take (TOOLJAIL_UID_RANGE), no other test's.
const LOAD_UIDS: std::ops::RangeInclusive<u32> = 3_200_000..=3_200_063;

fn with_load_uids(ctx: &Ctx, cmd: &mut std::process::Command) {
    if ctx.is_root() {
        cmd.env(
            "TOOLJAIL_UID_RANGE",
            format!("{}-{}", LOAD_UIDS.start(), LOAD_UIDS.end()),
        );
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Success,
    Exit,
    Timeout,
    Memory,
    ForkBomb,
}

const KINDS: [Kind; 5] = [
    Kind::Success,
    Kind::Exit,
    Kind::Timeout,
    Kind::Memory,
    Kind::ForkBomb,
];

/// The call of `kind`: tooljail's arguments after the sinks, and the exit codes it may end with.
fn call(kind: Kind, marker: &str) -> (Vec<String>, &'static [i32]) {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match kind {
        Kind::Success => (s(&["--", "sh", "-c", "echo ok"]), &[0]),
        Kind::Exit => (s(&["--", "sh", "-c", "exit 3"]), &[3]),
        Kind::Timeout => (
            s(&["--timeout", "1s", "--", "sleep", &format!("30.{marker}")]),
            &[124],
        ),
        // One allocation past the limit: MemoryError (1), or the OOM killer under a cgroup.
        Kind::Memory => (
            s(&[
                "--memory",
                "64M",
                "--",
                "python3",
                "-c",
                "x = bytearray(1 << 30)",
            ]),
            &[1, 137],
        ),
        // Forks sleepers until the process limit stops it; the shell fails (2) or is killed.
        Kind::ForkBomb => (
            s(&[
                "--limit",
                "processes=12",
                "--timeout",
                "10s",
                "--",
                "sh",
                "-c",
                &format!("while :; do sleep 30.{marker} & done"),
            ]),
            &[2, 124, 137],
        ),
    }
}

#[test]
fn five_hundred_calls_thirty_two_at_a_time_leave_nothing_behind() {
    const CALLS: usize = 500;
    const PARALLEL: usize = 32;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    crate::support::init();
    if !crate::support::need_python() {
        return;
    }
    let marker = unique("");
    let mut leftovers = KillOnDrop::new();
    leftovers.marker(&marker);
    let ids = identities();
    let records = records_dir();
    // One audit log per identity (a log is its writer's own file), one report per call.
    let audit: Vec<PathBuf> = (0..ids.len())
        .map(|i| records.path().join(format!("audit-{i}.jsonl")))
        .collect();
    let before = host_state();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= CALLS {
                    break;
                }
                let who = i % ids.len();
                let ctx = &ids[who];
                let kind = KINDS[(i / ids.len()) % KINDS.len()];
                let report = records.path().join(format!("report-{i}.json"));
                let (rest, codes) = call(kind, &marker);
                // At the lowest priority: 32 calls on this machine's 2 cores must not starve
                // the timing bounds of the test that runs beside this one.
                let mut cmd = through(
                    &["nice", "-n", "19"],
                    &recorded(ctx, &report, &audit[who], rest),
                );
                with_load_uids(ctx, &mut cmd);
                let r = run_for(cmd, Duration::from_secs(60));
                let code = r.status.and_then(|s| s.code());
                let mut why = Vec::new();
                if r.timed_out || !code.is_some_and(|c| codes.contains(&c)) {
                    why.push(format!("exit {code:?}, wanted one of {codes:?}"));
                }
                match std::fs::read_to_string(&report).map(|t| serde_json::from_str::<Report>(&t)) {
                    Ok(Ok(rep)) => {
                        if Some(rep.exit_status) != code {
                            why.push(format!("report says exit {}", rep.exit_status));
                        }
                        if matches!(kind, Kind::Memory)
                            && rep.stopped_by.as_ref().map(|s| s.name.as_str()) != Some("memory")
                        {
                            why.push(format!("not stopped by memory: {:?}", rep.stopped_by));
                        }
                    }
                    Ok(Err(e)) => why.push(format!("report is not a Report: {e}")),
                    Err(e) => why.push(format!("no report: {e}")),
                }
                if !why.is_empty() {
                    let short: String = r.stderr.chars().take(400).collect();
                    failures.lock().unwrap().push(format!(
                        "call {i} ({kind:?}, {:?}): {}; stderr: {short}",
                        ctx.who,
                        why.join("; ")
                    ));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    eprintln!("{CALLS} calls, {PARALLEL} at a time: {elapsed:?}");
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {CALLS} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing of any call is alive: no jailed process, no tooljail (whose argv holds the
    // marker), no process of a jail uid root's calls took (each call's lock on its uid lives
    // exactly as long as the call's processes hold the lock file open).
    assert!(
        wait_until(Duration::from_secs(5), || pids_with(&marker).is_empty()),
        "processes left: {:?}",
        pids_with(&marker)
    );
    assert_eq!(pids_of_uids(&LOAD_UIDS), vec![], "jail uids still in use");
    let after = host_state();
    assert_nothing_left(&before, &after, |uid| {
        LOAD_UIDS.contains(&uid) || ids.iter().any(|c| !c.is_root() && c.is_jail_uid(uid))
    });
    // Exactly one whole record per call, and an unbroken chain in each log.
    let mut total = 0;
    for (who, log) in audit.iter().enumerate() {
        let text = std::fs::read(log).unwrap();
        let lines = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let (recs, bad) = crate::support::api::audit_records(&text);
        assert!(
            bad.is_empty(),
            "torn audit lines in {}: {bad:?}",
            log.display()
        );
        assert_eq!(recs, lines);
        let want = (0..CALLS).filter(|i| i % ids.len() == who).count();
        assert_eq!(recs, want, "records in {}", log.display());
        crate::support::api::audit_chain_holds(&text)
            .unwrap_or_else(|b| panic!("the chain of {} breaks: {b}", log.display()));
        total += recs;
    }
    assert_eq!(total, CALLS);
}

/// SIGKILL of tooljail mid-run, 100 times (alternating identities): each time the command and
/// all its children are gone within 1 s, and nothing is left.
#[test]
fn a_hundred_sigkills_mid_run_leave_nothing() {
    const TRIALS: usize = 100;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    crate::support::init();
    let ids = identities();
    let before = host_state();
    let mut slowest = Duration::ZERO;
    for t in 0..TRIALS {
        let ctx = &ids[t % ids.len()];
        let marker = unique("30.");
        let mut leftovers = KillOnDrop::new();
        leftovers.marker(&marker);
        // A child, a grandchild in a session of its own and a TERM-ignoring one.
        let script = format!(
            "sleep {marker} & (setsid sleep {marker} &); (trap '' TERM; sleep {marker}) & wait"
        );
        let mut cmd = ctx.tooljail(["run", "--", "sh", "-c", &script]);
        with_load_uids(ctx, &mut cmd);
        let child = spawn(&mut cmd);
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        assert!(
            wait_until(Duration::from_secs(20), || {
                crate::support::host_pids_running("sleep", &marker).len() >= 3
            }),
            "trial {t}: the jailed sleeps never started"
        );
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        let gone = wait_until(Duration::from_secs(1), || {
            crate::support::host_pids_running("sleep", &marker).is_empty()
        });
        let took = killed.elapsed();
        let r = finish(child, Duration::from_secs(5), "tooljail (SIGKILLed)".into());
        assert!(
            gone,
            "trial {t} as {:?}: {:?} still alive {took:?} after SIGKILL\n{}",
            ctx.who,
            crate::support::host_pids_running("sleep", &marker),
            r.dump()
        );
        slowest = slowest.max(took);
    }
    eprintln!("{TRIALS} SIGKILL trials: slowest teardown {slowest:?}");
    assert!(
        wait_until(Duration::from_secs(2), || pids_of_uids(&LOAD_UIDS)
            .is_empty()),
        "jail uids still in use: {:?}",
        pids_of_uids(&LOAD_UIDS)
    );
    let after = host_state();
    assert_nothing_left(&before, &after, |uid| {
        LOAD_UIDS.contains(&uid) || ids.iter().any(|c| !c.is_root() && c.is_jail_uid(uid))
    });
}

/// SIGTERM and SIGINT of tooljail mid-run: the command is stopped, the report is written (with
/// outcome `cancelled`, the outcome docs/report.md gives a call its caller signalled, and the
/// signal named), and the audit log holds the call's record.
#[test]
fn sigterm_and_sigint_still_write_the_report() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    crate::support::init();
    for ctx in identities() {
        for sig in [
            nix::sys::signal::Signal::SIGTERM,
            nix::sys::signal::Signal::SIGINT,
        ] {
            let dir = records_dir();
            let report = dir.path().join("report.json");
            let audit = dir.path().join("audit.jsonl");
            let marker = unique("30.");
            let mut leftovers = KillOnDrop::new();
            leftovers.marker(&marker);
            let mut cmd = recorded(&ctx, &report, &audit, ["--", "sleep", &marker]);
            with_load_uids(&ctx, &mut cmd);
            let child = spawn(&mut cmd);
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
            assert!(wait_until(Duration::from_secs(20), || {
                !crate::support::host_pids_running("sleep", &marker).is_empty()
            }));
            nix::sys::signal::kill(pid, sig).unwrap();
            let r = finish(child, Duration::from_secs(20), format!("tooljail ({sig})"));
            let text = std::fs::read_to_string(&report)
                .unwrap_or_else(|e| panic!("{sig}: no report ({e})\n{}", r.dump()));
            let rep: Report = serde_json::from_str(&text).unwrap();
            assert_eq!(
                serde_json::to_value(rep.outcome).unwrap(),
                "cancelled",
                "{sig}\n{text}\n{}",
                r.dump()
            );
            assert_eq!(rep.signal.as_deref(), Some(sig.as_str()), "{text}");
            assert_eq!(r.code(), 128 + sig as i32, "{}", r.dump());
            let log = std::fs::read(&audit).unwrap();
            let (recs, bad) = crate::support::api::audit_records(&log);
            assert_eq!((recs, bad.len()), (1, 0), "{sig}: audit {bad:?}");
            assert!(crate::support::host_pids_running("sleep", &marker).is_empty());
        }
    }
}

/// A starved or broken host around one call, set up by `setup` (a shell fragment run as root in
/// a mount namespace of the test's own, so no mount it makes is seen by the rest of the suite)
/// before tooljail starts as `ctx` with `args`.
struct Fault {
    name: &'static str,
    setup: String,
    /// What the one line must name when the call is refused (exit 125).
    names: &'static str,
}

/// `cmd` (a tooljail command as built by [`Ctx::tooljail`]) started by `sh -c SETUP; exec` in
/// a private mount namespace.
fn in_fault(f: &Fault, cmd: &std::process::Command) -> std::process::Command {
    let script = format!("set -e; {}; exec \"$@\"", f.setup);
    let prefix = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        &script,
        "sh",
    ];
    through(&prefix, cmd)
}

/// Each fault fails closed with one clear line and nothing run, or works with its report and
/// its whole audit record: never a success whose record is missing or torn.
#[test]
fn a_starved_host_fails_closed_or_works_and_keeps_every_record() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    crate::support::init();
    if !crate::support::root_or_skip("the faults are set up as root in a mount namespace") {
        return;
    }
    let mut failures = Vec::new();
    for ctx in identities() {
        let records = records_dir();
        let full = records.path().join("full");
        let ro_reports = crate::support::tempdir(0o555);
        let uid = ctx.own_uid();
        std::os::unix::fs::chown(ro_reports.path(), Some(uid), Some(uid)).unwrap();
        let faults = [
            Fault {
                name: "the audit log on a full file system",
                setup: format!(
                    "mkdir -p {d}; mount -t tmpfs -o size=64k,mode=1777 tmpfs {d}; \
                     head -c 1M /dev/zero > {d}/fill 2>/dev/null || true",
                    d = full.display()
                ),
                names: "audit",
            },
            Fault {
                name: "a report path nobody may write",
                setup: "true".into(),
                names: "--report",
            },
            Fault {
                name: "an fd table with 20 free slots",
                setup: "ulimit -n 23".into(),
                names: "",
            },
            Fault {
                name: "a caller RLIMIT_NPROC of 5",
                setup: "prlimit --pid $$ --nproc=5:5".into(),
                names: "",
            },
            Fault {
                name: "a read-only /tmp",
                setup: "mount --bind /tmp /tmp; mount -o remount,bind,ro /tmp".into(),
                names: "",
            },
        ];
        for f in &faults {
            // The sinks: on the full file system for that fault, in a 0555 directory of the
            // caller's for the report one, else outside /tmp (which one fault makes read-only).
            let (dir, report_dir) = match f.name {
                n if n.contains("full") => (full.clone(), records.path().to_path_buf()),
                n if n.contains("report path") => (
                    records.path().to_path_buf(),
                    ro_reports.path().to_path_buf(),
                ),
                _ => (records.path().to_path_buf(), records.path().to_path_buf()),
            };
            let (dir, report_dir) = if f.name.contains("read-only /tmp") {
                let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("faults-"));
                std::fs::create_dir_all(&d).unwrap();
                std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
                    .unwrap();
                (d.clone(), d)
            } else {
                (dir, report_dir)
            };
            let audit = dir.join(format!("audit-{}.jsonl", unique("")));
            let report = report_dir.join(format!("report-{}.json", unique("")));
            let marker = unique("ran-");
            let echo = format!("echo {marker}");
            let cmd = recorded(&ctx, &report, &audit, ["--", "sh", "-c", &echo]);
            let r = run_for(in_fault(f, &cmd), Duration::from_secs(60));
            let code = r.status.and_then(|s| s.code());
            // The test user may already run 5 processes (the suite's other cases): then the
            // kernel refuses setpriv's execve of tooljail, and tooljail never started.
            if r.stderr.starts_with("setpriv: failed to execute") && f.name.contains("NPROC") {
                eprintln!(
                    "[{:?}] {}: tooljail could not start: {}",
                    ctx.who,
                    f.name,
                    r.stderr.trim()
                );
                continue;
            }
            let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let what = format!("[{:?}] {}: exit {code:?}", ctx.who, f.name);
            eprintln!("{what}; stderr: {}", lines.join(" | "));
            match code {
                Some(125) => {
                    if lines.len() != 1
                        || !lines[0].starts_with("tooljail: ")
                        || !lines[0].contains(f.names)
                    {
                        failures.push(format!("{what}: not one line naming {:?}", f.names));
                    }
                    if r.stdout.contains(&marker) {
                        failures.push(format!("{what}: refused, yet the command ran"));
                    }
                }
                Some(0) => {
                    if !r.stdout.contains(&marker) {
                        failures.push(format!("{what}: success without the command's output"));
                    }
                    let whole = std::fs::read_to_string(&report)
                        .ok()
                        .and_then(|t| serde_json::from_str::<Report>(&t).ok());
                    if whole.is_none() {
                        failures.push(format!("{what}: success without a report"));
                    }
                    let log = std::fs::read(&audit).unwrap_or_default();
                    let (recs, bad) = crate::support::api::audit_records(&log);
                    if recs != 1 || !bad.is_empty() {
                        failures.push(format!(
                            "{what}: success with {recs} audit records, bad lines {bad:?}"
                        ));
                    }
                }
                _ => failures.push(format!("{what}: neither refused (125) nor worked (0)")),
            }
            if f.name.contains("read-only /tmp") {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `doctor` says which path a run takes for memory and processes (a jail cgroup, or rlimits),
/// and a run with `require_cgroup = true` agrees: it runs on the cgroup path, or is refused.
#[test]
fn doctor_names_the_limits_path_a_run_takes() {
    crate::support::each_identity(|ctx| {
        let r = crate::support::run(ctx.tooljail(["doctor"]));
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("limits path"))
            .unwrap_or_else(|| panic!("no limits path line\n{}", r.dump()))
            .to_string();
        let cgroup = crate::support::run_gets_a_cgroup(ctx);
        if cgroup {
            assert!(line.contains("takes the cgroup path"), "{line}");
        } else {
            assert!(line.contains("takes the rlimit path"), "{line}");
            crate::support::skip(
                "cgroup-enforcement",
                &format!(
                    "no delegated cgroup v2 with memory and pids for {:?}: {line}",
                    ctx.who
                ),
            );
        }
    });
}
