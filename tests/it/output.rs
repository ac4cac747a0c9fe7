//! `[output]` and `--stdout-max`/`--stderr-max` (src/relay/): the caller receives exactly the
//! cap and one marker line, the report's counts are exact, tooljail's memory stays bounded
//! whatever the command writes, and without a cap the command writes to the caller's own
//! descriptors (no relay). Every case runs as root and as the unprivileged test user.

use crate::support::{each_identity, profile_file, run, spawn, Ctx, Run};
use serde_json::Value;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// `tooljail run --report … ARGS… -- sh -c SCRIPT`, its stdout as bytes, and the report.
fn capped(ctx: &Ctx, args: &[&str], script: &str) -> (Run, Vec<u8>, Value) {
    let dir = crate::support::records_dir();
    let report = dir.path().join("report.json");
    let mut a: Vec<&str> = vec!["run", "--report", report.to_str().unwrap()];
    a.extend_from_slice(args);
    a.extend(["--", "sh", "-c", script]);
    let mut cmd = ctx.tooljail(a);
    let mut child = spawn(&mut cmd);
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let r = crate::support::finish(child, crate::support::RUN_TIMEOUT, format!("{cmd:?}"));
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report ({e})\n{}", r.dump()));
    (r, out, serde_json::from_str(&text).unwrap())
}

fn marker(n: u64, stream: &str) -> String {
    format!("[tooljail: {n} bytes of {stream} not shown]\n")
}

#[test]
fn head_cap_forwards_exactly_the_cap_and_one_marker() {
    each_identity(|ctx| {
        // 3000 lines of "0123456789" + newline = 33000 bytes; cap 1000 (not at a line end).
        let (r, out, v) = capped(
            ctx,
            &["--stdout-max", "1000"],
            "i=0; while [ $i -lt 3000 ]; do echo 0123456789; i=$((i+1)); done",
        );
        r.expect(0);
        let all: Vec<u8> = b"0123456789\n".repeat(3000);
        let mut want = all[..1000].to_vec();
        want.extend(format!("\n{}", marker(32000, "stdout")).as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want),
            "{}",
            r.dump()
        );
        let s = &v["output"]["stdout"];
        assert_eq!(
            (s["written"].as_u64(), s["dropped"].as_u64()),
            (Some(1000), Some(32000)),
            "{v:#}"
        );
        assert_eq!(s["mode"], "head");
        assert!(v["output"].get("stderr").is_none(), "stderr was not capped");
    });
}

#[test]
fn stderr_cap_and_head_tail_mode_from_a_profile() {
    let (_d, profile) =
        profile_file("extends = [\"default\"]\n[output]\nmode = \"head+tail\"\nstderr_max = 10\n");
    each_identity(|ctx| {
        let (r, out, v) = capped(
            ctx,
            &["-p", profile.to_str().unwrap()],
            "echo visible; printf 'abcdefghijklmnopqrstuvwxyz' >&2",
        );
        r.expect(0);
        assert_eq!(out, b"visible\n", "stdout is not capped\n{}", r.dump());
        assert_eq!(
            r.stderr,
            format!("abcde\n{}vwxyz", marker(16, "stderr")),
            "{}",
            r.dump()
        );
        let s = &v["output"]["stderr"];
        assert_eq!(
            (s["written"].as_u64(), s["dropped"].as_u64()),
            (Some(10), Some(16))
        );
        assert_eq!(s["mode"], "head+tail");
    });
}

/// Without a cap the jail writes to the caller's pipe itself (the same pipe inode); with one,
/// to the relay's pipe.
#[test]
fn without_a_cap_stdout_is_the_callers_own_descriptor() {
    each_identity(|ctx| {
        for (args, same) in [(&[][..], true), (&["--stdout-max", "1M"][..], false)] {
            let mut a = vec!["run"];
            a.extend_from_slice(args);
            a.extend(["--", "readlink", "/proc/self/fd/1"]);
            let mut cmd = ctx.tooljail(a);
            let mut child = spawn(&mut cmd);
            let ours = std::fs::metadata(format!(
                "/proc/self/fd/{}",
                child.stdout.as_ref().unwrap().as_raw_fd()
            ))
            .unwrap()
            .ino();
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            let r = crate::support::finish(child, crate::support::RUN_TIMEOUT, format!("{cmd:?}"));
            r.expect(0);
            let theirs = format!("pipe:[{ours}]");
            assert_eq!(
                out.trim() == theirs,
                same,
                "{out:?} vs {theirs}\n{}",
                r.dump()
            );
        }
    });
}

/// A `/proc/PID/status` figure in KiB: `VmHWM` (the peak resident set), `RssAnon` (resident
/// memory not backed by a file: what the process allocated, not its binary's pages).
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// How much the command writes. The figure is 5 GB; it is measured at pipe speed
/// (a few seconds, splice to /dev/null), so the test writes it all.
const FLOOD: u64 = 5_000_000_000;

/// A command writing 5 GB to a capped stdout: tooljail's own peak RSS stays under 16 MiB, the
/// caller gets exactly the cap and the marker, and the report's dropped count is exact.
#[test]
fn five_gigabytes_to_a_capped_stdout_keep_tooljail_small() {
    each_identity(|ctx| {
        let cap: u64 = 1 << 20;
        let dir = crate::support::records_dir();
        let report = dir.path().join("report.json");
        let script = format!("head -c {FLOOD} /dev/zero");
        let mut cmd = ctx.tooljail([
            "run",
            "--timeout",
            "5m",
            "--report",
            report.to_str().unwrap(),
            "--stdout-max",
            "1M",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        let started = Instant::now();
        let mut child = spawn(&mut cmd);
        let pid = child.id();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).unwrap();
            out
        });
        // setpriv (for the test user) execs tooljail in place: the same pid. Sample the peak
        // until the process is gone; VmHWM only grows, so the last sample is the peak.
        let (mut peak, mut anon) = (0, 0);
        while child.try_wait().unwrap().is_none() {
            if let Some(kib) = status_kib(pid, "VmHWM") {
                peak = peak.max(kib);
            }
            if let Some(kib) = status_kib(pid, "RssAnon") {
                anon = anon.max(kib);
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the flood did not end"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = reader.join().unwrap();
        let r = crate::support::finish(child, Duration::from_secs(5), format!("{cmd:?}"));
        r.expect(0);
        eprintln!(
            "{FLOOD} bytes in {:?}, tooljail peak RSS {peak} KiB, anonymous at most {anon} KiB",
            started.elapsed()
        );
        assert!(peak > 0 && anon > 0, "no RSS sample");
        assert!(peak < 24 * 1024, "tooljail's peak RSS was {peak} KiB");
        // Most of that peak is the binary's own pages (a debug build's are many: 16.3-16.8 MiB
        // once the binary carried SQLite and the PostgreSQL client, 20.8 MiB once it carried
        // rustls, ring and rcgen for the egress proxy's TLS termination); what the relay could
        // grow is anonymous memory, sampled while the flood runs: a few MiB.
        assert!(
            anon < 6 * 1024,
            "tooljail's anonymous memory reached {anon} KiB"
        );
        let want_marker = format!("\n{}", marker(FLOOD - cap, "stdout"));
        assert_eq!(
            out.len() as u64,
            cap + want_marker.len() as u64,
            "{}",
            r.dump()
        );
        assert!(out[..cap as usize].iter().all(|b| *b == 0));
        assert_eq!(&out[cap as usize..], want_marker.as_bytes());
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let s = &v["output"]["stdout"];
        assert_eq!(s["written"].as_u64(), Some(cap));
        assert_eq!(s["dropped"].as_u64(), Some(FLOOD - cap));
    });
}

#[test]
fn a_zero_or_malformed_cap_fails_closed() {
    each_identity(|ctx| {
        let r = run(ctx.tooljail(["run", "--stdout-max", "0", "--", "true"]));
        r.expect(125)
            .expect_stderr_contains("--stdout-max: an output cap of 0");
        let r = run(ctx.tooljail(["run", "--stderr-max", "lots", "--", "true"]));
        r.expect(125)
            .expect_stderr_contains("--stderr-max: invalid size");
    });
}
