//! Memory and scratch hardening: shared memory cannot slip past the memory limit when it falls
//! back to rlimits (the RLIMIT_AS backstop), node and python still run under the default profile
//! with that backstop, and scratch has an inode cap. Every program here caps its own sizes and
//! counts (8 GiB, 70 000 files), so a missing limit cannot hurt the host.

use crate::support::{each_identity, run_for, Ctx};
use serde_json::Value;
use std::time::Duration;

/// Harness bound for one run (each run also gets its own `--timeout`).
const BOUND: Duration = Duration::from_secs(90);

/// `tooljail run --timeout 60s --report … --audit-log … -- ARGS` as `ctx` with the default
/// profile; the run and its JSON report.
fn jail(ctx: &Ctx, args: &[&str]) -> (crate::support::Run, Value) {
    jail_with(ctx, &[], args)
}

/// [`jail`] with extra `tooljail run` options before `--`.
fn jail_with(ctx: &Ctx, opts: &[&str], args: &[&str]) -> (crate::support::Run, Value) {
    let dir = crate::support::records_dir();
    let report = dir.path().join("report.json");
    let audit = dir.path().join("audit.jsonl");
    let mut a: Vec<String> = vec!["run".into(), "--timeout".into(), "60s".into()];
    a.extend(["--report".into(), report.display().to_string()]);
    a.extend(opts.iter().map(|s| s.to_string()));
    a.extend([
        "--audit-log".into(),
        audit.display().to_string(),
        "--".into(),
    ]);
    a.extend(args.iter().map(|s| s.to_string()));
    let run = run_for(ctx.tooljail(a), BOUND);
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report ({e})\n{}", run.dump()));
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad report ({e})\n{}", run.dump()));
    (run, report)
}

/// A balloon of shared anonymous memory (`mmap(-1, N)` is MAP_SHARED|MAP_ANONYMOUS, which
/// RLIMIT_DATA does not count): 512 MiB mappings, every page written, at most 8 GiB in all.
const SHARED_BALLOON: &str = r#"
import mmap, sys
held = []
try:
    for _ in range(16):
        m = mmap.mmap(-1, 512 << 20)
        for off in range(0, 512 << 20, 4096):
            m[off] = 1
        held.append(m)
except OSError as e:
    print("refused after", len(held) * 512, "MiB:", e, flush=True)
    sys.exit(1)
print("no limit: held", len(held) * 512, "MiB", flush=True)
"#;

#[test]
fn a_shared_memory_balloon_is_refused_under_the_default_memory_limit() {
    each_identity(|ctx| {
        let (run, report) = jail(ctx, &["python3", "-c", SHARED_BALLOON]);
        let dump = || {
            format!(
                "{}\n--- report\n{}",
                run.dump(),
                serde_json::to_string_pretty(&report).unwrap()
            )
        };
        assert!(!run.stdout.contains("no limit"), "{}", dump());
        match report["isolation"]["limits"]["memory"].as_str() {
            Some("rlimit") => {
                // Refused by the address-space backstop, below it (4 GiB for memory = 1G).
                assert_eq!(run.code(), 1, "{}", dump());
                let held: u64 = run
                    .stdout
                    .strip_prefix("refused after ")
                    .and_then(|s| s.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("no refusal\n{}", dump()));
                assert!(held < 4096, "held {held} MiB\n{}", dump());
                let rlimits = report["isolation"]["limits"]["rlimits"].to_string();
                assert!(rlimits.contains("\"AS\""), "{}", dump());
                let notes = report["isolation"]["limits"]["notes"].to_string();
                assert!(notes.contains("SysV shared memory"), "{}", dump());
                assert_eq!(
                    report["stopped_by"]["name"].as_str(),
                    Some("memory"),
                    "{}",
                    dump()
                );
            }
            // A cgroup counts shared memory in memory.max: the balloon is OOM-killed.
            Some("cgroup") => assert_ne!(run.code(), 0, "{}", dump()),
            other => panic!("memory mechanism {other:?}\n{}", dump()),
        }
    });
}

#[test]
fn node_with_a_worker_and_python_run_under_the_address_space_backstop() {
    assert!(
        std::path::Path::new("/usr/bin/node").exists(),
        "node is needed for this test: apt-get install -y nodejs"
    );
    // A worker thread is a second V8 isolate with its own reservations; the Buffer is 200 MB.
    let js = "const { Worker } = require('worker_threads'); \
              const b = Buffer.alloc(200 * 1000 * 1000, 1); \
              new Worker('require(\"worker_threads\").parentPort.postMessage(21 * 2)', \
              { eval: true }).on('message', (m) => console.log('worker', m, b.length));";
    each_identity(|ctx| {
        let (run, report) = jail(ctx, &["node", "-e", js]);
        run.expect(0).expect_stdout_contains("worker 42 200000000");
        assert!(report["stopped_by"].is_null(), "{}", run.dump());
        let py = "b = bytearray(200 * 1000 * 1000); import json; print('py', json.dumps(len(b)))";
        let (run, _) = jail(ctx, &["python3", "-c", py]);
        run.expect(0).expect_stdout_contains("py 200000000");
    });
}

/// Create up to N empty files in /tmp (scratch); print how many, and the errno that stopped it.
const FILES: &str = r#"
import sys
n = int(sys.argv[1])
made = 0
try:
    for i in range(n):
        open(f"/tmp/f{i}", "w").close()
        made += 1
except OSError as e:
    print("stopped after", made, "errno", e.errno, flush=True)
    sys.exit(1)
print("made", made, flush=True)
"#;

#[test]
fn scratch_has_an_inode_cap() {
    // The default scratch is 256 MiB: 65536 inodes (one per 4 KiB), work/, tmp/ and shm/
    // included.
    each_identity(|ctx| {
        let (run, _) = jail(ctx, &["python3", "-c", FILES, "20000"]);
        run.expect(0).expect_stdout_contains("made 20000");
        let (run, _) = jail(ctx, &["python3", "-c", FILES, "70000"]);
        run.expect(1).expect_stdout_contains("errno 28"); // ENOSPC
        let made: u64 = run
            .stdout
            .strip_prefix("stopped after ")
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count\n{}", run.dump()));
        assert!((60_000..65_536).contains(&made), "{}", run.dump());
    });
}

/// SysV shared memory segments, never attached (so nothing is allocated even without a cap):
/// 1 GiB each, at most 64 GiB. Prints how much the jail's IPC namespace allowed, then tries to
/// raise the cap itself.
const SYSV: &str = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
made = 0
for _ in range(64):
    if libc.shmget(IPC_PRIVATE, ctypes.c_size_t(1 << 30), IPC_CREAT | 0o600) < 0:
        print("shmget refused after", made, "GiB errno", ctypes.get_errno(), flush=True)
        break
    made += 1
else:
    print("no cap: made", made, "GiB", flush=True)
try:
    with open("/proc/sys/kernel/shmall", "w") as f:
        f.write("18446744073692774399\n")
    print("raised shmall", flush=True)
except OSError as e:
    print("shmall stays: errno", e.errno, flush=True)
print("shmmax", open("/proc/sys/kernel/shmmax").read().strip(), flush=True)
print("msgmni", open("/proc/sys/kernel/msgmni").read().strip(), flush=True)
# Semaphore arrays of 32000 (~2 MB of kernel memory each), at most 100.
arrays = 0
for _ in range(100):
    if libc.semget(IPC_PRIVATE, 32000, IPC_CREAT | 0o600) < 0:
        print("semget refused after", arrays, "arrays errno", ctypes.get_errno(), flush=True)
        break
    arrays += 1
else:
    print("no sem cap:", arrays, "arrays", flush=True)
"#;

#[test]
fn sysv_ipc_is_capped_at_the_memory_limit_for_the_whole_jail() {
    each_identity(|ctx| {
        // The default profile's 1 GiB: one 1 GiB segment fits, the second does not (ENOSPC).
        let (run, report) = jail(ctx, &["python3", "-c", SYSV]);
        run.expect(0)
            .expect_stdout_contains("shmget refused after 1 GiB errno 28")
            .expect_stdout_contains("shmmax 1073741824");
        // The sysctl's own check lets the command's uid write (it is the IPC namespace's uid 0
        // in the kernel's eyes); the read-only mount of /proc/sys refuses first (EROFS), and
        // Landlock's read-only /proc stands behind it.
        run.expect_stdout_contains("shmall stays: errno 30");
        let notes = report["isolation"]["limits"]["notes"].to_string();
        assert!(notes.contains("kernel.shmall"), "{notes}\n{}", run.dump());
        // The cap follows the Policy: 256 MiB leaves no room for a 1 GiB segment.
        let (run, _) = jail_with(ctx, &["--memory", "256M"], &["python3", "-c", SYSV]);
        // Semaphores too: 256 MiB / 128 bytes = 2097152 semaphores = 65 arrays of 32000; and
        // 256 MiB / 16 KiB message queues.
        run.expect(0)
            .expect_stdout_contains("shmget refused after 0 GiB errno 22")
            .expect_stdout_contains("shmmax 268435456")
            .expect_stdout_contains("msgmni 16384")
            .expect_stdout_contains("semget refused after 65 arrays errno 28");
    });
}
