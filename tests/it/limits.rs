//! Limits: each one bites, the report names it with its evidence (or says nothing when tooljail
//! cannot know), and none of it can hurt the host: every test program caps its own sizes and
//! counts, so a limit that failed would still leave the machine alone, and every run is bounded
//! by the profile's wall time and by the harness.

use crate::support::{
    each_identity, finish, host_pids_running, profile_file, run_for, spawn, unique, Ctx,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Harness bound for one run (profiles set their own, shorter wall times).
const BOUND: Duration = Duration::from_secs(40);

/// A finished run and its JSON report.
struct Ran {
    run: crate::support::Run,
    report: Value,
}

impl Ran {
    fn stopped_by(&self) -> Option<&str> {
        self.report["stopped_by"]["name"].as_str()
    }

    fn evidence(&self) -> &str {
        self.report["stopped_by"]["evidence"].as_str().unwrap_or("")
    }

    fn outcome(&self) -> &str {
        self.report["outcome"].as_str().unwrap_or("")
    }

    fn dump(&self) -> String {
        format!(
            "{}\n--- report\n{}",
            self.run.dump(),
            serde_json::to_string_pretty(&self.report).unwrap()
        )
    }

    fn expect_limit(&self, code: i32, name: &str) -> &Self {
        assert_eq!(self.run.code(), code, "exit status\n{}", self.dump());
        assert_eq!(self.outcome(), "limit", "outcome\n{}", self.dump());
        assert_eq!(self.stopped_by(), Some(name), "stopped_by\n{}", self.dump());
        self
    }
}

/// The arguments of `tooljail run` that write the report and the audit record where this
/// identity can (the directory is 0777), then `args`.
fn run_args(dir: &Path, profile: Option<&Path>, args: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec!["run".into()];
    if let Some(p) = profile {
        a.extend(["-p".into(), p.display().to_string()]);
    }
    // Every run is bounded by the jail's own wall clock too (below the harness's bound).
    if !args
        .iter()
        .take_while(|a| **a != "--")
        .any(|a| *a == "--timeout")
    {
        a.extend(["--timeout".into(), "20s".into()]);
    }
    a.extend([
        "--report".into(),
        dir.join("report.json").display().to_string(),
        "--audit-log".into(),
        dir.join("audit.jsonl").display().to_string(),
    ]);
    a.extend(args.iter().map(|s| s.to_string()));
    a
}

fn read_report(dir: &Path, run: &crate::support::Run) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json"))
        .unwrap_or_else(|e| panic!("no report ({e})\n{}", run.dump()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad report ({e})\n{}", run.dump()))
}

/// `tooljail run [-p PROFILE] --report … -- ARGS` as `ctx`, bounded by [`BOUND`].
fn jail(ctx: &Ctx, profile: Option<&Path>, args: &[&str]) -> Ran {
    let dir = crate::support::records_dir();
    let run = run_for(ctx.tooljail(run_args(dir.path(), profile, args)), BOUND);
    let report = read_report(dir.path(), &run);
    Ran { run, report }
}

/// A profile extending `default` with `extra` TOML (sections as needed).
fn profile(extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    profile_file(&format!("extends = [\"default\"]\n{extra}\n"))
}

// ---------------------------------------------------------------------------------------------
// Wall time

#[test]
fn wall_time_is_reported_with_and_without_the_grace_kill() {
    each_identity(|ctx| {
        let r = jail(
            ctx,
            None,
            &["--timeout", "1s", "--", "sh", "-c", "while :; do :; done"],
        );
        assert_eq!(r.run.code(), 124, "{}", r.dump());
        assert!(
            r.run.elapsed < Duration::from_secs(1) + crate::support::LOAD_SLACK,
            "{}",
            r.dump()
        );
        assert_eq!(r.outcome(), "timeout", "{}", r.dump());
        assert_eq!(r.stopped_by(), Some("wall_time"), "{}", r.dump());
        assert!(!r.evidence().contains("SIGKILL"), "{}", r.dump());

        // A loop that ignores SIGTERM is killed after kill_after (2 s in the default profile).
        let r = jail(
            ctx,
            None,
            &[
                "--timeout",
                "1s",
                "--",
                "sh",
                "-c",
                "trap '' TERM; while :; do :; done",
            ],
        );
        assert_eq!(r.run.code(), 124, "{}", r.dump());
        assert!(r.run.elapsed >= Duration::from_millis(2500), "{}", r.dump());
        assert!(
            r.run.elapsed < Duration::from_secs(3) + crate::support::LOAD_SLACK,
            "{}",
            r.dump()
        );
        assert_eq!(r.outcome(), "timeout", "{}", r.dump());
        assert_eq!(r.stopped_by(), Some("wall_time"), "{}", r.dump());
        assert!(
            r.evidence().contains("SIGKILL after the 2s grace"),
            "{}",
            r.dump()
        );
    });
}

// ---------------------------------------------------------------------------------------------
// CPU time

/// What the command leaves running is ended by pid 1 before its last word, and reaped there, so
/// the report counts its CPU time: the supervisor no longer waits for pid 1's exit (where the
/// kernel used to reap the rest), and a daemon that had used 300 ms when the command exited must
/// still be in `user_cpu_ms`.
#[test]
fn a_daemon_left_running_is_ended_and_its_cpu_time_counted() {
    each_identity(|ctx| {
        let marker = crate::support::unique("3004.");
        let mut leftovers = crate::support::KillOnDrop::new();
        leftovers.marker(&marker);
        // utime is field 14 of /proc/PID/stat, the 12th after the ")" that ends the name, in
        // ticks of 10 ms.
        let script = format!(
            "(setsid sh -c 'echo $$ > /tmp/busy.pid; while :; do :; done # {marker}' \
               </dev/null >/dev/null 2>&1 &); \
             for i in $(seq 500); do [ -s /tmp/busy.pid ] && break; sleep 0.01; done; \
             pid=$(cat /tmp/busy.pid); \
             for i in $(seq 3000); do \
               set -- $(cut -d')' -f2 /proc/$pid/stat); \
               [ \"${{12}}\" -ge 30 ] && echo BUSY && exit 0; sleep 0.01; \
             done; exit 1"
        );
        let r = jail(ctx, None, &["--", "sh", "-c", &script]);
        r.run.expect(0).expect_stdout_contains("BUSY");
        let cpu = r.report["resources"]["user_cpu_ms"].as_u64().unwrap()
            + r.report["resources"]["system_cpu_ms"].as_u64().unwrap();
        assert!(cpu >= 300, "cpu ms {cpu}\n{}", r.dump());
        let left = crate::support::host_pids_running("sh", &marker);
        assert!(
            left.is_empty(),
            "the daemon survived: {left:?}\n{}",
            r.dump()
        );
    });
}

#[test]
fn a_cpu_burner_is_stopped_by_cpu_time() {
    let (_d, p) = profile("[limits]\ncpu_time = \"1s\"\nwall_time = \"20s\"");
    each_identity(|ctx| {
        let r = jail(ctx, Some(&p), &["--", "sh", "-c", "while :; do :; done"]);
        r.expect_limit(128 + libc::SIGXCPU, "cpu_time");
        assert!(r.evidence().contains("SIGXCPU"), "{}", r.dump());
        let cpu = r.report["resources"]["user_cpu_ms"].as_u64().unwrap()
            + r.report["resources"]["system_cpu_ms"].as_u64().unwrap();
        // RLIMIT_CPU is checked against tick-sampled CPU time, rusage reports the scheduler's
        // exact runtime: on a loaded machine the two differ, so only "about a second".
        assert!((500..5000).contains(&cpu), "cpu ms {cpu}\n{}", r.dump());
        assert!(r.run.elapsed < Duration::from_secs(10), "{}", r.dump());

        // Ignoring SIGXCPU only buys the second until the hard limit: SIGKILL.
        let r = jail(
            ctx,
            Some(&p),
            &["--", "sh", "-c", "trap '' XCPU; while :; do :; done"],
        );
        r.expect_limit(128 + libc::SIGKILL, "cpu_time");
        assert!(r.evidence().contains("hard limit"), "{}", r.dump());
    });
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Python: fork children that exec `sleep MARKER` until a fork fails or `cap` children exist
/// (the cap keeps the host safe even if the limit failed), print `started N errno E`, hold the
/// children for `hold` seconds (or, with a fourth argument `reap`, wait until they have all
/// exited, as make does after a failed fork), then exit 1 when a fork failed (0 otherwise).
const FORKER: &str = r#"
import os, sys, time
marker, cap, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
reap = sys.argv[4:] == ["reap"]
started, err = 0, 0
for _ in range(cap):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        try:
            os.execv("/usr/bin/sleep", ["sleep", marker])
        finally:
            os._exit(127)
    started += 1
print("started", started, "errno", err, flush=True)
time.sleep(hold)
while reap:
    try:
        os.wait()
    except ChildProcessError:
        break
sys.exit(1 if err else 0)
"#;

fn forker_args<'a>(marker: &'a str, cap: &'a str, hold: &'a str) -> Vec<&'a str> {
    vec!["--", "python3", "-c", FORKER, marker, cap, hold]
}

/// `started N errno E` from the forker's stdout.
fn started(r: &Ran) -> (u32, i32) {
    let line = r
        .run
        .stdout
        .lines()
        .find(|l| l.starts_with("started "))
        .unwrap_or_else(|| panic!("no `started` line\n{}", r.dump()));
    let w: Vec<&str> = line.split_whitespace().collect();
    (w[1].parse().unwrap(), w[3].parse().unwrap())
}

#[test]
fn a_fork_bomb_is_contained_attributed_and_the_host_stays_responsive() {
    let (_d, p) = profile("[limits]\nprocesses = 16\nwall_time = \"20s\"");
    each_identity(|ctx| {
        // At most 300 sleepers of ~4 s each, whatever the limit does.
        let marker = unique("4.");
        let dir = crate::support::records_dir();
        let args = run_args(dir.path(), Some(&p), &forker_args(&marker, "300", "1"));
        let child = spawn(&mut ctx.tooljail(args));
        // While it holds its children: the host answers at once, and never sees more of the
        // jail's sleepers than the limit allows (16 minus pid 1 and python).
        let start = Instant::now();
        let mut most = 0;
        let mut slowest = Duration::ZERO;
        while start.elapsed() < Duration::from_millis(1500) {
            most = most.max(host_pids_running("sleep", &marker).len());
            let t = Instant::now();
            let ok = Command::new("true").status().expect("run true on the host");
            assert!(ok.success());
            slowest = slowest.max(t.elapsed());
            std::thread::sleep(Duration::from_millis(20));
        }
        let run = finish(child, BOUND, "fork bomb".into());
        let r = Ran {
            report: read_report(dir.path(), &run),
            run,
        };
        r.expect_limit(1, "processes");
        assert_eq!(started(&r), (14, libc::EAGAIN), "{}", r.dump());
        assert!(
            r.evidence().contains("16 tasks") && r.evidence().contains("RLIMIT_NPROC"),
            "{}",
            r.dump()
        );
        assert_eq!(r.report["resources"]["tasks_at_end"], 16, "{}", r.dump());
        expect_remedy(&r.report["stopped_by"], "--limit processes=", &r);
        assert!(most <= 14, "the host saw {most} sleepers\n{}", r.dump());
        assert!(slowest < Duration::from_secs(1), "host slow: {slowest:?}");
        assert!(
            crate::support::wait_until(Duration::from_secs(5), || host_pids_running(
                "sleep", &marker
            )
            .is_empty()),
            "sleepers outlived the jail"
        );
    });
}

#[test]
fn a_command_that_reaps_its_children_before_failing_is_attributed_from_the_sampled_peak() {
    let (_d, p) = profile("[limits]\nprocesses = 8\nwall_time = \"20s\"");
    each_identity(|ctx| {
        // The children (about 1 s each) are gone when the command exits: only the supervisor's
        // samples saw the jail at its limit.
        let marker = unique("1.");
        let mut args = forker_args(&marker, "50", "0");
        args.push("reap");
        let r = jail(ctx, Some(&p), &args);
        r.expect_limit(1, "processes");
        assert_eq!(started(&r), (6, libc::EAGAIN), "{}", r.dump());
        assert_eq!(r.report["resources"]["tasks_at_end"], 2, "{}", r.dump());
        assert_eq!(r.report["resources"]["tasks_peak"], 8, "{}", r.dump());
        assert!(r.evidence().contains("(sampled)"), "{}", r.dump());
    });
}

#[test]
fn a_command_that_stays_under_its_process_limit_is_not_attributed() {
    let (_d, p) = profile("[limits]\nprocesses = 8\nwall_time = \"20s\"");
    each_identity(|ctx| {
        // pid 1 + sh + 4 children + `sleep 0.3` = 7 of 8; the command then fails on its own.
        let marker = unique("1.");
        let mut args = vec!["--", "sh", "-c"];
        let script = format!("for i in 1 2 3 4; do sleep {marker} & done; sleep 0.3; exit 3");
        args.push(&script);
        let r = jail(ctx, Some(&p), &args);
        assert_eq!(r.run.code(), 3, "{}", r.dump());
        assert_eq!(r.stopped_by(), None, "{}", r.dump());
        assert_eq!(r.outcome(), "exited", "{}", r.dump());
        let peak = r.report["resources"]["tasks_peak"].as_u64().unwrap();
        assert!((6..8).contains(&peak), "peak {peak}\n{}", r.dump());
    });
}

/// The remedy a limit's entry must carry: the flag that lifts it.
fn expect_remedy(entry: &Value, flag: &str, r: &Ran) {
    assert!(
        entry["remedy"].as_str().is_some_and(|s| s.contains(flag)) && entry["liftable"] == true,
        "remedy of {entry}\n{}",
        r.dump()
    );
}

/// Issue 25: `tasks_peak` is at least the tasks that ran at once (sampled every 10 ms: these
/// live 300 ms), and never below `tasks_at_end` (it read 1 beside 2 for /bin/true).
#[test]
fn tasks_peak_counts_every_task_that_ran() {
    each_identity(|ctx| {
        let r = jail(ctx, None, &["--", "true"]);
        r.run.expect(0);
        let res = &r.report["resources"];
        assert!(
            res["tasks_peak"].as_u64() >= res["tasks_at_end"].as_u64(),
            "{}",
            r.dump()
        );
        // pid 1, sh and three sleeps: five at once.
        let r = jail(
            ctx,
            None,
            &[
                "--",
                "sh",
                "-c",
                "for i in 1 2 3; do sleep 0.3 & done; wait",
            ],
        );
        r.run.expect(0);
        let peak = r.report["resources"]["tasks_peak"].as_u64().unwrap();
        assert!(peak >= 5, "peak {peak}\n{}", r.dump());
    });
}

/// Start `n` `sleep MARKER` processes on the host (outside any jail) as `uid`, into `guard`.
fn host_sleepers(ctx: &Ctx, n: usize, marker: &str, guard: &mut crate::support::KillOnDrop) {
    // The jail's uid and group; root's jail runs as a transient uid no host process has, and
    // nobody stands in for it.
    let (uid, gid) = match &ctx.who {
        crate::support::Who::User { uid, gid, .. } => (*uid, *gid),
        crate::support::Who::Current { uid } => (*uid, nix::unistd::getgid().as_raw()),
        crate::support::Who::Root => (65534, 65534),
    };
    (0..n)
        .map(|_| {
            let mut c = if nix::unistd::geteuid().as_raw() == uid {
                Command::new("sleep")
            } else {
                let mut c = Command::new("setpriv");
                c.args([
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--clear-groups".into(),
                    "--".into(),
                    "sleep".into(),
                ]);
                c
            };
            c.arg(marker);
            c.stdin(std::process::Stdio::null());
            c.spawn().expect("start a host sleeper")
        })
        .for_each(|child| guard.child(child));
}

#[test]
fn rlimit_nproc_caps_the_jail_not_the_callers_other_processes() {
    // Linux >= 5.14 counts RLIMIT_NPROC per (user namespace, uid); every jail has its own.
    let (_d, p) = profile("[limits]\nprocesses = 8\nwall_time = \"20s\"");
    each_identity(|ctx| {
        let host_marker = unique("20.");
        // Killed however the test ends, also on a failed assertion.
        let mut sleepers = crate::support::KillOnDrop::new();
        sleepers.marker(&host_marker);
        host_sleepers(ctx, 40, &host_marker, &mut sleepers);
        assert!(crate::support::wait_until(Duration::from_secs(10), || {
            host_pids_running("sleep", &host_marker).len() == 40
        }));
        // 40 processes of the jail's uid already run on the host, far over the jail's 8: the
        // jail still gets its whole budget (8 minus pid 1 and python).
        let marker = unique("3.");
        let r = jail(ctx, Some(&p), &forker_args(&marker, "50", "0"));
        assert_eq!(started(&r), (6, libc::EAGAIN), "{}", r.dump());
        assert_eq!(r.stopped_by(), Some("processes"), "{}", r.dump());
        // And the host's processes of that uid are untouched, and it can still start more.
        assert_eq!(host_pids_running("sleep", &host_marker).len(), 40);
        host_sleepers(ctx, 1, &host_marker, &mut sleepers);
        assert!(crate::support::wait_until(Duration::from_secs(10), || {
            host_pids_running("sleep", &host_marker).len() == 41
        }));
        drop(sleepers);
        assert!(crate::support::wait_until(Duration::from_secs(10), || {
            host_pids_running("sleep", &host_marker).is_empty()
        }));
    });
}

#[test]
fn two_concurrent_jails_of_one_user_each_get_their_own_budget() {
    let (_d, p) = profile("[limits]\nprocesses = 8\nwall_time = \"20s\"");
    each_identity(|ctx| {
        let markers = [unique("4."), unique("4.")];
        let dirs = [crate::support::records_dir(), crate::support::records_dir()];
        // Each holds its children for 2 s, so the two budgets are in use at the same time.
        let children: Vec<_> = (0..2)
            .map(|i| {
                let args = run_args(
                    dirs[i].path(),
                    Some(&p),
                    &forker_args(&markers[i], "50", "2"),
                );
                spawn(&mut ctx.tooljail(args))
            })
            .collect();
        let both = crate::support::wait_until(Duration::from_secs(10), || {
            markers
                .iter()
                .all(|m| host_pids_running("sleep", m).len() == 6)
        });
        for (i, child) in children.into_iter().enumerate() {
            let run = finish(child, BOUND, format!("jail {i}"));
            let r = Ran {
                report: read_report(dirs[i].path(), &run),
                run,
            };
            assert_eq!(started(&r), (6, libc::EAGAIN), "jail {i}\n{}", r.dump());
        }
        assert!(both, "the two jails never held 6 sleepers each at once");
    });
}

// ---------------------------------------------------------------------------------------------
// Memory

#[test]
fn a_memory_balloon_is_stopped_by_the_default_memory_limit() {
    // 64 MiB steps, each written (so it is resident), at most 3 GiB whatever the limit does.
    let balloon = r#"
import sys
held = []
try:
    for _ in range(48):
        held.append(b"\x01" * (64 << 20))
except MemoryError:
    print("MemoryError after", len(held) * 64, "MiB", flush=True)
    sys.exit(1)
print("no limit: held", len(held) * 64, "MiB")
"#;
    each_identity(|ctx| {
        let r = jail(ctx, None, &["--", "python3", "-c", balloon]);
        r.expect_limit(1, "memory");
        r.run.expect_stdout_contains("MemoryError after");
        assert!(r.evidence().contains("RLIMIT_DATA"), "{}", r.dump());
        expect_remedy(&r.report["stopped_by"], "--memory", &r);
        let rss = r.report["resources"]["max_rss_kib"].as_u64().unwrap();
        assert!(
            (768 << 10..=1 << 20).contains(&rss),
            "rss {rss}\n{}",
            r.dump()
        );
        assert_eq!(
            r.report["isolation"]["limits"]["memory"],
            mechanism_here(&r),
            "{}",
            r.dump()
        );

        // node's balloon (Buffers, filled, 64 MiB each, at most 3 GiB) too.
        let js = "const a = []; for (let i = 0; i < 48; i++) a.push(Buffer.alloc(64 << 20, 1)); \
                  console.log('no limit')";
        let r = jail(ctx, None, &["--", "node", "-e", js]);
        assert_ne!(r.run.code(), 0, "{}", r.dump());
        assert!(!r.run.stdout.contains("no limit"), "{}", r.dump());
        assert_eq!(r.outcome(), "limit", "{}", r.dump());
        assert_eq!(r.stopped_by(), Some("memory"), "{}", r.dump());
    });
}

/// Issue 25: one allocation larger than the whole limit fails at once (MemoryError) while the
/// process is tiny, so no resident-set evidence exists; the mapping watch point saw it refused.
#[test]
fn one_large_allocation_past_the_memory_limit_is_attributed() {
    each_identity(|ctx| {
        let r = jail(
            ctx,
            None,
            &[
                "--memory",
                "256M",
                "--",
                "python3",
                "-c",
                "x = bytearray(1 << 30)",
            ],
        );
        if mechanism_here(&r) == "cgroup" {
            // memory.max refuses no mapping (the OOM killer acts on pages in use), and the
            // cgroup's own counter names it: the watch point is compiled only for rlimits.
            crate::support::skip(
                "cgroup-enforcement",
                "a cgroup enforces memory here: the mapping watch point is not in use",
            );
            return;
        }
        r.run.expect_stderr_contains("MemoryError");
        r.expect_limit(1, "memory");
        assert!(
            r.evidence()
                .starts_with("python3 asked to map 1024 MiB at once, more than its RLIMIT_DATA of 256 MiB by itself: refused with ENOMEM"),
            "{}",
            r.dump()
        );
        expect_remedy(&r.report["stopped_by"], "--memory", &r);
        let rss = r.report["resources"]["max_rss_kib"].as_u64().unwrap();
        assert!(rss < 64 << 10, "rss {rss}\n{}", r.dump());
        // The control: the same allocation under 2G succeeds, and nothing is named.
        let r = jail(
            ctx,
            None,
            &[
                "--memory",
                "2G",
                "--",
                "python3",
                "-c",
                "x = bytearray(1 << 30)",
            ],
        );
        r.run.expect(0);
        assert_eq!(r.stopped_by(), None, "{}", r.dump());
    });
}

#[test]
fn python_and_node_run_under_the_default_memory_limit() {
    assert!(
        Path::new("/usr/bin/node").exists(),
        "node is needed for this test: apt-get install -y nodejs"
    );
    each_identity(|ctx| {
        let r = jail(
            ctx,
            None,
            &[
                "--",
                "python3",
                "-c",
                "import json; print('py', json.dumps(sum(range(10**6))))",
            ],
        );
        r.run.expect(0).expect_stdout_contains("py 499999500000");
        assert_eq!(r.stopped_by(), None, "{}", r.dump());
        let r = jail(
            ctx,
            None,
            &[
                "--",
                "node",
                "-e",
                "const a = new Array(1e6).fill(1); console.log('node', a.reduce((x, y) => x + y))",
            ],
        );
        r.run.expect(0).expect_stdout_contains("node 1000000");
        assert_eq!(r.stopped_by(), None, "{}", r.dump());
    });
}

// ---------------------------------------------------------------------------------------------
// Scratch and file size

/// Bytes used on the host's root file system.
fn host_used() -> u64 {
    let v = nix::sys::statvfs::statvfs("/").unwrap();
    (v.blocks() - v.blocks_free()) * v.fragment_size()
}

#[test]
fn writing_past_the_scratch_size_fails_inside_and_leaves_the_host_alone() {
    // The call-state tests' stores write to the same disk: not while it is measured.
    let _disk = crate::support::host_disk_measured();
    let (_d, p) = profile(
        "[filesystem.scratch]\nsize = \"8M\"\n[limits]\nfile_size = \"64M\"\nwall_time = \"20s\"",
    );
    each_identity(|ctx| {
        let name = unique("scratchfill");
        let of = format!("of=/scratch/{name}");
        // Other builds may write to the host disk meanwhile: a growth of 8 MiB (what the jail
        // wrote) must not show, in at least one of three tries.
        let mut growths = Vec::new();
        for _ in 0..3 {
            let before = host_used();
            let r = jail(
                ctx,
                Some(&p),
                &["--", "dd", "if=/dev/zero", &of, "bs=1M", "count=16"],
            );
            let after = host_used();
            r.expect_limit(1, "scratch_full");
            r.run.expect_stderr_contains("No space left on device");
            assert!(r.evidence().contains("ENOSPC"), "{}", r.dump());
            expect_remedy(&r.report["stopped_by"], "--limit scratch=", &r);
            growths
                .push(i64::try_from(after).expect("count") - i64::try_from(before).expect("count"));
            if after < before + (4 << 20) {
                break;
            }
        }
        assert!(
            growths.iter().any(|g| *g < 4 << 20),
            "the host disk grew by {growths:?} bytes"
        );
        for dir in ["/tmp", "/var/tmp", "/dev/shm", "/scratch"] {
            assert!(!Path::new(dir).join(&name).exists(), "{dir}/{name} exists");
        }
        let found = Command::new("timeout")
            .args([
                "10", "find", "/tmp", "/var/tmp", "/dev/shm", "-xdev", "-name", &name,
            ])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&found.stdout).trim().is_empty(),
            "the file appeared on the host: {}",
            String::from_utf8_lossy(&found.stdout)
        );
    });
}

#[test]
fn a_file_past_the_file_size_limit_is_stopped_by_sigxfsz() {
    let (_d, p) = profile(
        "[filesystem.scratch]\nsize = \"64M\"\n[limits]\nfile_size = \"1M\"\nwall_time = \"20s\"",
    );
    each_identity(|ctx| {
        // dd itself, not a shell around it: the SIGXFSZ death is the command's own.
        let r = jail(
            ctx,
            Some(&p),
            &[
                "--",
                "dd",
                "if=/dev/zero",
                "of=/scratch/f",
                "bs=1M",
                "count=4",
            ],
        );
        r.expect_limit(128 + libc::SIGXFSZ, "file_size");
        assert_eq!(r.report["signal"], "SIGXFSZ", "{}", r.dump());
        expect_remedy(&r.report["stopped_by"], "--limit file_size=", &r);
    });
}

/// Issue 25: with `file_size` at its default (the scratch size), one file that reaches it fills
/// the scratch too: whichever the kernel says first (SIGXFSZ or ENOSPC), the report names the
/// scratch, whose size is what lifts it, not `file_size`.
#[test]
fn a_file_as_large_as_the_scratch_is_named_scratch_full_not_file_size() {
    each_identity(|ctx| {
        let r = jail(
            ctx,
            None,
            &[
                "--limit",
                "scratch=8M",
                "--",
                "dd",
                "if=/dev/zero",
                "of=/scratch/f",
                "bs=1M",
                "count=16",
            ],
        );
        assert_ne!(r.run.code(), 0, "{}", r.dump());
        assert_eq!(r.outcome(), "limit", "{}", r.dump());
        assert_eq!(r.stopped_by(), Some("scratch_full"), "{}", r.dump());
        expect_remedy(&r.report["stopped_by"], "--limit scratch=", &r);
        r.run
            .expect_stderr_contains("to lift it: --limit scratch=SIZE");
    });
}

// ---------------------------------------------------------------------------------------------
// Open files

/// Issue 25: EMFILE leaves no trace, but the process that fails holds every descriptor its
/// limit allows, seen when it closes the last one (python, at exit) or exits non-zero with them
/// (a shell's `exec {fd}<`): a `may_have_been` entry, with why it is not certain.
#[test]
fn open_files_bites_and_the_report_says_it_may_have_been() {
    let (_d, p) = profile("[limits]\nopen_files = 64\nwall_time = \"20s\"");
    let script = r#"
import sys
held = []
try:
    for _ in range(1000):
        held.append(open("/dev/null"))
except OSError as e:
    print("opened", len(held), "errno", e.errno, flush=True)
    sys.exit(1)
print("no limit: opened", len(held))
"#;
    each_identity(|ctx| {
        let r = jail(ctx, Some(&p), &["--", "python3", "-c", script]);
        assert_eq!(r.run.code(), 1, "{}", r.dump());
        // 64 descriptors, minus stdin/out/err and what python holds itself.
        let line = r.run.stdout.lines().find(|l| l.starts_with("opened "));
        let w: Vec<&str> = line
            .unwrap_or_else(|| panic!("{}", r.dump()))
            .split_whitespace()
            .collect();
        let opened: u32 = w[1].parse().unwrap();
        assert!((50..=61).contains(&opened), "{}", r.dump());
        assert_eq!(w[3], libc::EMFILE.to_string(), "{}", r.dump());
        // EMFILE leaves no record: not `stopped_by`, but a typed `may_have_been` entry.
        assert_eq!(r.stopped_by(), None, "{}", r.dump());
        assert_eq!(r.outcome(), "exited", "{}", r.dump());
        let expect_may = |r: &Ran, program: &str| {
            let may = r.report["may_have_been"].as_array().unwrap();
            assert_eq!(may.len(), 1, "{}", r.dump());
            assert_eq!(may[0]["name"], "open_files", "{}", r.dump());
            assert!(
                may[0]["evidence"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{program} held every file descriptor from")),
                "{}",
                r.dump()
            );
            assert!(
                may[0]["uncertain"].as_str().unwrap().contains("EMFILE"),
                "{}",
                r.dump()
            );
            expect_remedy(&may[0], "--limit open_files=", r);
            r.run
                .expect_stderr_contains("tooljail: may have been stopped by limit open_files");
        };
        expect_may(&r, "python3");
        // A shell loop: bash allocates `exec {fd}<` descriptors from 10 up.
        let bash_loop = |n: u32| {
            let script = format!("for i in $(seq {n}); do exec {{fd}}</dev/null || exit 3; done");
            jail(ctx, Some(&p), &["--", "bash", "-c", &script])
        };
        let r = bash_loop(100);
        assert_eq!(r.run.code(), 3, "{}", r.dump());
        r.run.expect_stderr_contains("Too many open files");
        expect_may(&r, "bash");
        // The controls: a script that fails without nearing the limit, and the same loop
        // that stays under it and succeeds, say nothing.
        let r = jail(
            ctx,
            Some(&p),
            &["--", "bash", "-c", "exec 3</dev/null; exit 4"],
        );
        assert_eq!(r.run.code(), 4, "{}", r.dump());
        assert_eq!(
            r.report["may_have_been"],
            serde_json::json!([]),
            "{}",
            r.dump()
        );
        let r = bash_loop(40);
        assert_eq!(r.run.code(), 0, "{}", r.dump());
        assert_eq!(
            r.report["may_have_been"],
            serde_json::json!([]),
            "{}",
            r.dump()
        );
    });
}

// ---------------------------------------------------------------------------------------------
// cgroup v2

/// The mechanism the report must name for memory and processes on this host, for this
/// identity: "cgroup" when the run found a usable delegated cgroup, else "rlimit".
fn mechanism_here(r: &Ran) -> &'static str {
    if r.report["isolation"]["cgroup"]["parent"].is_string() {
        "cgroup"
    } else {
        "rlimit"
    }
}

#[test]
fn the_report_says_which_mechanism_enforced_each_limit() {
    each_identity(|ctx| {
        let r = jail(ctx, None, &["--", "true"]);
        r.run.expect(0);
        let l = &r.report["isolation"]["limits"];
        let cg = &r.report["isolation"]["cgroup"];
        match cg["unavailable"].as_str() {
            Some(why) => {
                crate::support::skip(
                    "cgroup-enforcement",
                    &format!(
                        "cgroup v2 not usable for {:?} here ({why}): checked rlimits only",
                        ctx.who
                    ),
                );
                assert_eq!(l["memory"], "rlimit", "{}", r.dump());
                assert_eq!(l["processes"], "rlimit", "{}", r.dump());
                let names: Vec<&str> = l["rlimits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["resource"].as_str().unwrap())
                    .collect();
                assert!(
                    names.contains(&"DATA") && names.contains(&"NPROC"),
                    "{names:?}"
                );
                // RLIMIT_AS only as the backstop for shared memory: max(4 × 1G, 4 GiB).
                let backstop = l["rlimits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["resource"] == "AS")
                    .unwrap_or_else(|| panic!("no AS backstop\n{}", r.dump()));
                assert_eq!(backstop["soft"], 4u64 << 30, "{}", r.dump());
                assert!(r.report["resources"]["memory_peak_bytes"].is_null());
            }
            None => {
                println!(
                    "cgroup v2 usable for {:?} here: checking the cgroup path",
                    ctx.who
                );
                assert!(cg["parent"].is_string(), "{}", r.dump());
                assert_eq!(l["memory"], "cgroup", "{}", r.dump());
                assert_eq!(l["processes"], "cgroup", "{}", r.dump());
            }
        }
        for (k, v) in [
            ("wall_time", "supervisor"),
            ("cpu_time", "rlimit"),
            ("open_files", "rlimit"),
            ("file_size", "rlimit"),
            ("scratch", "tmpfs"),
        ] {
            assert_eq!(l[k], v, "{k}\n{}", r.dump());
        }
    });
}

#[test]
fn require_cgroup_without_a_usable_cgroup_fails_before_running() {
    let (_d, p) = profile("[limits]\nrequire_cgroup = true\nwall_time = \"20s\"");
    each_identity(|ctx| {
        let marker = unique("ran");
        let r = jail(ctx, Some(&p), &["--", "echo", &marker]);
        if r.report["isolation"]["cgroup"]["parent"].is_string() {
            // A host that delegates cgroup v2 to this identity: the run must use it.
            println!(
                "cgroup v2 usable for {:?} here: require_cgroup was met",
                ctx.who
            );
            r.run.expect(0);
            assert_eq!(r.report["isolation"]["limits"]["memory"], "cgroup");
            return;
        }
        crate::support::skip(
            "cgroup-enforcement",
            &format!(
                "cgroup v2 not usable for {:?} here: checked the refusal, not the cgroup path",
                ctx.who
            ),
        );
        assert_eq!(r.run.code(), 125, "{}", r.dump());
        assert!(
            !r.run.stdout.contains(&marker),
            "the command ran\n{}",
            r.dump()
        );
        let line = r.run.stderr.trim();
        assert_eq!(line.lines().count(), 1, "one line\n{}", r.dump());
        assert!(line.starts_with("tooljail: "), "{}", r.dump());
        assert!(line.contains("require_cgroup"), "{}", r.dump());
        assert!(
            line.contains("cgroup v2 is required but unusable: "),
            "{}",
            r.dump()
        );
        assert!(
            line.contains("systemd-run --user --scope -p Delegate=yes"),
            "{}",
            r.dump()
        );
        assert_eq!(r.report["outcome"], "setup_error", "{}", r.dump());
        if ctx.is_root() {
            assert!(line.contains("started as root"), "{}", r.dump());
        }
    });
}

/// The cgroup protocol against the real cgroupfs, when this host delegates a cgroup v2 subtree
/// with memory and pids to the tests' user; otherwise a recorded `cgroup-enforcement` skip.
#[test]
fn real_cgroup_when_this_host_offers_one() {
    use crate::support::api::cgroup::{host_parent, JailCgroup, Unavailable};
    let parent = match host_parent() {
        Ok(p) => p,
        Err(Unavailable(why)) => {
            crate::support::skip("cgroup-enforcement", &format!("no usable cgroup v2: {why}"));
            return;
        }
    };
    let name = format!("tooljail-test-{}", std::process::id());
    let cg = JailCgroup::create(&parent, &name, Some(64 << 20), Some(8)).unwrap();
    let max = std::fs::read_to_string(cg.dir().join("memory.max")).unwrap();
    assert_eq!(max.trim(), (64u64 << 20).to_string());
    assert_eq!(
        std::fs::read_to_string(cg.dir().join("pids.max"))
            .unwrap()
            .trim(),
        "8"
    );
    assert_eq!(cg.events().oom_kill, 0);
    cg.remove().unwrap();
    assert!(!cg.dir().exists());
}

// ---------------------------------------------------------------------------------------------
// What the kernel charges to the host uid

/// inotify instances are charged to the host uid (128 by default, shared by every process of
/// that uid): the jail's own user namespace caps them at 32, so a jail that takes all it can
/// leaves the rest to the caller's other processes. Queued signals likewise (RLIMIT_SIGPENDING).
#[test]
fn a_jail_cannot_take_the_host_uids_inotify_instances_or_signal_queue() {
    let count = "import ctypes, resource\n\
                 libc = ctypes.CDLL(None, use_errno=True)\n\
                 n = 0\n\
                 while libc.inotify_init() >= 0 and n < 1000:\n    n += 1\n\
                 print(n, ctypes.get_errno(), resource.getrlimit(resource.RLIMIT_SIGPENDING)[0])\n";
    // The control: on the host the same program gets the kernel's per-uid limit, above 32.
    let host = Command::new("python3")
        .args(["-c", count])
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout).to_string();
    let host_n: u64 = host.split(' ').next().unwrap().parse().unwrap();
    assert!(
        host_n > 32,
        "the host allows only {host_n} inotify instances: {host}"
    );
    each_identity(|ctx| {
        let r = jail(ctx, None, &["--", "python3", "-c", count]);
        assert_eq!(r.run.code(), 0, "{}", r.dump());
        // 32 instances, then EMFILE (24); 1024 queued signals.
        assert_eq!(r.run.stdout.trim(), "32 24 1024", "{}", r.dump());
    });
}
