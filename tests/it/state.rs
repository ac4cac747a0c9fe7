//! Call state (`[budget]`): rate limits, the loop guard and session budgets across calls, on the
//! default SQLite store and on a real PostgreSQL (tests/setup.sh starts it and writes its URL to
//! /var/lib/tooljail-test/postgres.url). Each case as root and as the unprivileged user.

use crate::support::{
    each_identity, finish, profile_file, run, run_for, skip, spawn, unique, Ctx, Run, RUN_TIMEOUT,
};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The PostgreSQL URL tests/setup.sh wrote, or a recorded skip.
fn postgres_url() -> Option<String> {
    let file = "/var/lib/tooljail-test/postgres.url";
    match std::fs::read_to_string(file) {
        Ok(u) => Some(u.trim().to_string()),
        Err(e) => {
            skip(
                "postgres",
                &format!("{file}: {e} (tests/setup.sh starts PostgreSQL and writes it)"),
            );
            None
        }
    }
}

/// A SQLite store in a fresh directory the identity can create its store directory in.
fn sqlite_url(dir: &Path) -> String {
    format!("sqlite:{}/state/state.db", dir.display())
}

/// Start `n` calls at once (each made by `make(i)`, with its report's path), each decision held
/// `delay_ms` between its reads and its write (a debug-only knob: a store that does not lock
/// across both would over-admit), and wait for all of them.
fn at_once(
    n: usize,
    delay_ms: &str,
    make: impl Fn(usize) -> (std::process::Command, PathBuf),
) -> Vec<(Run, PathBuf)> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            let (mut cmd, path) = make(i);
            cmd.env("TOOLJAIL_TEST_STATE_DELAY_MS", delay_ms);
            (spawn(&mut cmd), path)
        })
        .collect();
    children
        .into_iter()
        .map(|(child, path)| {
            (
                finish(child, RUN_TIMEOUT, "a call with call rules".into()),
                path,
            )
        })
        .collect()
}

/// A fresh directory, its SQLite store's URL, a new session and the report's path.
fn sqlite_case(tag: &str) -> (tempfile::TempDir, String, String, PathBuf) {
    let dir = crate::support::records_dir();
    let url = sqlite_url(dir.path());
    let path = dir.path().join("r.json");
    (dir, url, unique(tag), path)
}

/// `run --state URL --session S -p PROFILE --report DIR/NAME.json -- argv`.
fn call(
    ctx: &Ctx,
    url: &str,
    session: &str,
    profile: &Path,
    report: &Path,
    argv: &[&str],
) -> std::process::Command {
    let mut a: Vec<OsString> = vec![
        "run".into(),
        "--state".into(),
        url.into(),
        "--session".into(),
        session.into(),
        "-p".into(),
        profile.into(),
        "--report".into(),
        report.into(),
        "--".into(),
    ];
    a.extend(argv.iter().map(OsString::from));
    let mut cmd = ctx.tooljail(a);
    cmd.current_dir("/");
    cmd
}

fn report(path: &Path, r: &Run) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), r.dump()));
    serde_json::from_str(&text).unwrap()
}

/// 200 calls of one session, started 25 at a time (2 cores), against 50 per minute: exactly 50
/// run, and the 150 others are refused as `rate_limit`, retryable, with a retry_after_ms inside
/// the window. Nothing but the store's transaction orders them.
fn two_hundred_against_fifty(url: &dyn Fn(&Path) -> String) {
    let (_p, profile) = profile_file(
        "extends = [\"default\"]\n[[budget.rate]]\nper = [\"session\"]\nlimit = 50\nwindow = \"1m\"\n",
    );
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let url = url(dir.path());
        let session = unique("rate");
        let mut results = Vec::new();
        for batch in 0..8 {
            // Debug builds: each decision held 5 ms between its reads and its write.
            results.extend(at_once(25, "5", |i| {
                let path = dir.path().join(format!("r{batch}-{i}.json"));
                (call(ctx, &url, &session, &profile, &path, &["true"]), path)
            }));
        }
        let ran = results.iter().filter(|(r, _)| r.code() == 0).count();
        let refused: Vec<_> = results.iter().filter(|(r, _)| r.code() == 125).collect();
        assert_eq!(ran, 50, "{}", results[0].0.dump());
        assert_eq!(refused.len(), 150);
        for (r, path) in refused {
            let v = report(path, r);
            assert_eq!(v["outcome"], "refused", "{}", r.dump());
            assert_eq!(v["stopped_by"]["kind"], "rate_limit");
            assert_eq!(v["retryable"], true);
            let after = v["stopped_by"]["retry_after_ms"].as_u64().unwrap();
            assert!(after > 0 && after <= 60_000, "retry_after_ms {after}");
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
            assert!(r.stderr.contains("rate_limit"), "{}", r.dump());
        }
    });
}

#[test]
fn two_hundred_calls_against_fifty_a_minute_on_sqlite() {
    let _disk = crate::support::host_disk_written();
    two_hundred_against_fifty(&|dir| sqlite_url(dir));
}

#[test]
fn two_hundred_calls_against_fifty_a_minute_on_postgres() {
    let _disk = crate::support::host_disk_written();
    let Some(pg) = postgres_url() else { return };
    two_hundred_against_fifty(&|_| pg.clone());
}

/// Six calls contest the one slot of `limit = 1`, each holding its decision 1 s between its
/// reads and its write (the debug-only knob): the store's lock must make exactly one run. (A
/// release binary has no knob; the case then checks the same with no widened window.)
fn a_contested_slot_goes_to_exactly_one_call(url: &dyn Fn(&Path) -> String) {
    let (_p, profile) = profile_file(
        "extends = [\"default\"]\n[[budget.rate]]\nper = [\"session\"]\nlimit = 1\nwindow = \"1m\"\n",
    );
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let url = url(dir.path());
        let session = unique("slot");
        let mut ran = 0;
        for (r, path) in at_once(6, "1000", |i| {
            let path = dir.path().join(format!("r{i}.json"));
            (call(ctx, &url, &session, &profile, &path, &["true"]), path)
        }) {
            if r.code() == 0 {
                ran += 1;
                continue;
            }
            // Refused by the rule, not failed by the store (a lock error would be `state`).
            r.expect(125);
            assert_eq!(
                report(&path, &r)["stopped_by"]["kind"],
                "rate_limit",
                "{}",
                r.dump()
            );
        }
        assert_eq!(ran, 1);
    });
}

#[test]
fn a_contested_slot_goes_to_exactly_one_call_on_sqlite() {
    let _disk = crate::support::host_disk_written();
    a_contested_slot_goes_to_exactly_one_call(&|dir| sqlite_url(dir));
}

#[test]
fn a_contested_slot_goes_to_exactly_one_call_on_postgres() {
    let _disk = crate::support::host_disk_written();
    let Some(pg) = postgres_url() else { return };
    a_contested_slot_goes_to_exactly_one_call(&|_| pg.clone());
}

/// Two hosts: two state configurations (one by `--state`, one by the profile's `[budget]
/// state`, spelled differently) on one PostgreSQL database share a session's budget exactly.
#[test]
fn two_hosts_on_one_postgres_share_a_session_budget_exactly() {
    let _disk = crate::support::host_disk_written();
    let Some(pg) = postgres_url() else { return };
    let other = pg.replacen("postgres://", "postgresql://", 1);
    let (_p, host_a) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 10\n");
    let (_q, host_b) = profile_file(&format!(
        "extends = [\"default\"]\n[budget]\nsession_calls = 10\nstate = \"{other}\"\n"
    ));
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let session = unique("fleet");
        let mut ran = 0;
        for (r, path) in at_once(16, "5", |i| {
            let path = dir.path().join(format!("r{i}.json"));
            if i % 2 == 0 {
                // Host A: `--state URL`.
                return (call(ctx, &pg, &session, &host_a, &path, &["true"]), path);
            }
            // Host B: the profile's `[budget] state`, spelled `postgresql://`.
            let a: [OsString; 8] = [
                "run".into(),
                "--session".into(),
                session.clone().into(),
                "-p".into(),
                host_b.clone().into(),
                "--report".into(),
                path.clone().into(),
                "--".into(),
            ];
            let mut c = ctx.tooljail(a);
            c.arg("true").current_dir("/").env_remove("TOOLJAIL_STATE");
            (c, path)
        }) {
            match r.code() {
                0 => ran += 1,
                125 => {
                    let v = report(&path, &r);
                    assert_eq!(v["stopped_by"]["kind"], "budget", "{}", r.dump());
                    assert_eq!(v["stopped_by"]["name"], "session_calls");
                    assert_eq!(v["stopped_by"]["limit"], 10);
                    assert_eq!(v["retryable"], false);
                }
                _ => panic!("{}", r.dump()),
            }
        }
        assert_eq!(ran, 10);
    });
}

/// `max_identical_calls = 3`: the fourth identical call is refused as `loop_guard` and runs
/// nothing; a different argv still runs.
#[test]
fn the_fourth_identical_call_is_refused_a_different_one_is_not() {
    let _disk = crate::support::host_disk_written();
    let (_p, profile) =
        profile_file("extends = [\"default\"]\n[budget]\nmax_identical_calls = 3\n");
    each_identity(|ctx| {
        let (_dir, url, session, path) = sqlite_case("loop");
        for _ in 0..3 {
            run(call(
                ctx,
                &url,
                &session,
                &profile,
                &path,
                &["echo", "same"],
            ))
            .expect(0)
            .expect_stdout_contains("same");
        }
        let r = run(call(
            ctx,
            &url,
            &session,
            &profile,
            &path,
            &["echo", "same"],
        ));
        r.expect(125);
        assert!(!r.stdout.contains("same"), "the command ran\n{}", r.dump());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
        let v = report(&path, &r);
        assert_eq!(v["outcome"], "refused");
        assert_eq!(v["stopped_by"]["kind"], "loop_guard");
        assert_eq!(v["retryable"], false);
        run(call(
            ctx,
            &url,
            &session,
            &profile,
            &path,
            &["echo", "other"],
        ))
        .expect(0)
        .expect_stdout_contains("other");
    });
}

/// `session_cpu = "2s"`: a CPU burner is stopped at what is left of the budget (its CPU limit
/// clamped from the profile's 60 s), and the next call is refused as `budget`.
#[test]
fn a_cpu_budget_stops_the_burner_and_refuses_the_next_call() {
    let _disk = crate::support::host_disk_written();
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_cpu = \"2s\"\n");
    each_identity(|ctx| {
        let (_dir, url, session, path) = sqlite_case("cpu");
        let r = run(call(
            ctx,
            &url,
            &session,
            &profile,
            &path,
            &["sh", "-c", "while :; do :; done"],
        ));
        let v = report(&path, &r);
        assert_eq!(v["stopped_by"]["name"], "cpu_time", "{}", r.dump());
        let cpu = v["resources"]["user_cpu_ms"].as_u64().unwrap()
            + v["resources"]["system_cpu_ms"].as_u64().unwrap();
        // rusage may count a little less than the kernel's RLIMIT_CPU clock.
        assert!((1500..3500).contains(&cpu), "cpu {cpu} ms\n{}", r.dump());
        let r = run(call(ctx, &url, &session, &profile, &path, &["true"]));
        r.expect(125);
        let v = report(&path, &r);
        assert_eq!(v["stopped_by"]["kind"], "budget", "{}", r.dump());
        assert_eq!(v["stopped_by"]["name"], "session_cpu");
        assert_eq!(v["stopped_by"]["limit"], 2000);
        assert!(v["stopped_by"]["used"].as_u64().unwrap() >= 2000);
    });
}

/// SIGKILL of tooljail mid-call: the store stays consistent (SQLite's integrity check, and the
/// next calls are decided from it) and the killed call counts as started.
#[test]
fn sigkill_mid_call_keeps_the_store_consistent_and_the_call_counted() {
    let _disk = crate::support::host_disk_written();
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 2\n");
    each_identity(|ctx| {
        let (dir, url, session, path) = sqlite_case("kill");
        let mut child = spawn(&mut call(
            ctx,
            &url,
            &session,
            &profile,
            &path,
            &["sleep", "30"],
        ));
        let counted = crate::support::wait_until(Duration::from_secs(10), || {
            usage(ctx, &url, &session) == Some(1)
        });
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let _ = child.wait();
        assert!(counted, "the call was not recorded as started");
        let db = dir.path().join("state/state.db");
        let check = std::process::Command::new("python3")
            .arg("-c")
            .arg("import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])")
            .arg(&db)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
        assert_eq!(usage(ctx, &url, &session), Some(1));
        run(call(ctx, &url, &session, &profile, &path, &["true"])).expect(0);
        let r = run(call(ctx, &url, &session, &profile, &path, &["true"]));
        r.expect(125).expect_stderr_contains("session_calls");
    });
}

/// `tooljail state --json --session S`: the session's calls, or None.
fn usage(ctx: &Ctx, url: &str, session: &str) -> Option<u64> {
    let r = run(ctx.tooljail(["state", "--state", url, "--session", session, "--json"]));
    let v: Value = serde_json::from_str(&r.stdout).ok()?;
    v["sessions"][0]["calls"].as_u64()
}

/// A call whose Policy has no call rule opens no store: neither the one `--state`
/// (`TOOLJAIL_STATE`) names nor the default one is created.
#[test]
fn a_call_without_rules_opens_no_store() {
    let _disk = crate::support::host_disk_written();
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let xdg = dir.path().join("xdg");
        std::fs::create_dir(&xdg).unwrap();
        std::fs::set_permissions(&xdg, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let mut cmd = ctx.tooljail(["run", "--", "true"]);
        cmd.env("TOOLJAIL_STATE", sqlite_url(dir.path()))
            .env("XDG_STATE_HOME", &xdg);
        run(cmd).expect(0);
        assert!(!dir.path().join("state").exists(), "a store was created");
        // (The directory may hold the default audit log: only the store counts.)
        assert!(
            !xdg.join("tooljail/state.db").exists(),
            "a default store was created"
        );
        // The same call with a rule does create the named store (the test can fail).
        let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 5\n");
        let mut cmd = ctx.tooljail([
            "run".as_ref(),
            "-p".as_ref(),
            profile.as_os_str(),
            "--".as_ref(),
            "true".as_ref(),
        ]);
        cmd.env("TOOLJAIL_STATE", sqlite_url(dir.path()));
        run(cmd).expect(0);
        assert!(dir.path().join("state/state.db").exists());
    });
}

/// A store that is not a database fails closed: exit 125, one line naming the store, nothing
/// runs, not retryable.
#[test]
fn a_corrupt_store_fails_closed() {
    let _disk = crate::support::host_disk_written();
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 5\n");
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let url = sqlite_url(dir.path());
        run(call(
            ctx,
            &url,
            "s",
            &profile,
            &dir.path().join("r.json"),
            &["true"],
        ))
        .expect(0);
        let db: PathBuf = dir.path().join("state/state.db");
        // A store of a newer schema version is refused, not misread.
        let bump = std::process::Command::new("python3")
            .arg("-c")
            .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update tooljail_meta set value='2' where key='schema_version'\"); c.commit()")
            .arg(&db)
            .status()
            .unwrap();
        assert!(bump.success());
        let r = run(call(
            ctx,
            &url,
            "s",
            &profile,
            &dir.path().join("r1.json"),
            &["echo", "RAN"],
        ));
        r.expect(125).expect_stderr_contains("schema version is 2");
        assert!(!r.stdout.contains("RAN"), "{}", r.dump());
        for f in ["state.db-wal", "state.db-shm"] {
            let _ = std::fs::remove_file(dir.path().join("state").join(f));
        }
        std::fs::write(&db, vec![0x5a; 8192]).unwrap();
        let path = dir.path().join("r2.json");
        let r = run(call(ctx, &url, "s", &profile, &path, &["echo", "RAN"]));
        r.expect(125).expect_stderr_contains("state store");
        assert!(!r.stdout.contains("RAN"), "{}", r.dump());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
        let v = report(&path, &r);
        assert_eq!(v["error"]["kind"], "state");
        assert_eq!(v["retryable"], false);
    });
}

/// `tooljail state reset --session S`: the owner of the session's calls may; another user may
/// not (on the shared PostgreSQL store, where both reach the same rows).
#[test]
fn state_reset_is_for_root_or_the_owner() {
    let _disk = crate::support::host_disk_written();
    let Some(pg) = postgres_url() else { return };
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 1\n");
    let ids = crate::support::identities();
    let session = unique("reset");
    let dir = crate::support::records_dir();
    let path = dir.path().join("r.json");
    let owner = &ids[0];
    run(call(owner, &pg, &session, &profile, &path, &["true"])).expect(0);
    run(call(owner, &pg, &session, &profile, &path, &["true"])).expect(125);
    // `state -p PROFILE`: the use beside the profile's limits.
    let mut shown = owner.tooljail(["state", "--state", &pg, "--session", &session, "--json"]);
    shown.arg("-p").arg(&profile);
    let r = run(shown);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}\n{}", r.dump()));
    assert_eq!(v["sessions"][0]["calls"], 1, "{}", r.dump());
    assert_eq!(v["limits"]["calls"], 1, "{}", r.dump());
    if let Some(other) = ids.get(1) {
        // The root-owned session, reset by the unprivileged user: refused.
        let r = run(other.tooljail(["state", "reset", "--state", &pg, "--session", &session]));
        r.expect(125).expect_stderr_contains("other users");
    }
    run(owner.tooljail(["state", "reset", "--state", &pg, "--session", &session])).expect(0);
    run(call(owner, &pg, &session, &profile, &path, &["true"])).expect(0);
}

/// A store locked past the lock timeout (10 s) fails closed and says the call may be retried:
/// exit 125, `error.kind` `state`, `retryable: true`, nothing ran.
#[test]
fn a_locked_store_fails_closed_and_retryable() {
    let _disk = crate::support::host_disk_written();
    let Some(pg) = postgres_url() else { return };
    // A database of its own (tests/setup.sh makes it): the other tests' calls must not wait.
    let pg = format!("{pg}_lock");
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 5\n");
    // Make sure the tables exist, then hold them.
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let path = dir.path().join("r.json");
        let session = unique("locked");
        run(call(ctx, &pg, &session, &profile, &path, &["true"])).expect(0);
        let mut holder = std::process::Command::new("psql")
            .arg(&pg)
            .arg("-qc")
            .arg("BEGIN; LOCK TABLE tooljail_calls IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(16); COMMIT;")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let r = run_for(
            call(ctx, &pg, &session, &profile, &path, &["echo", "RAN"]),
            Duration::from_secs(40),
        );
        let _ = holder.kill();
        let _ = holder.wait();
        r.expect(125).expect_stderr_contains("retry the call");
        assert!(!r.stdout.contains("RAN"), "{}", r.dump());
        let v = report(&path, &r);
        assert_eq!(v["error"]["kind"], "state", "{}", r.dump());
        assert_eq!(v["retryable"], true);
    });
}

/// `session_wall = "3s"`: after a 2 s call, the next call's wall time is clamped to what is left
/// (about 1 s, from the profile's 60 s): it times out, the report says why, and the call after
/// it is refused as `budget`.
#[test]
fn a_wall_budget_clamps_the_next_calls_timeout() {
    let _disk = crate::support::host_disk_written();
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_wall = \"3s\"\n");
    each_identity(|ctx| {
        let (_dir, url, session, path) = sqlite_case("wall");
        run(call(ctx, &url, &session, &profile, &path, &["sleep", "2"])).expect(0);
        let r = run(call(ctx, &url, &session, &profile, &path, &["sleep", "20"]));
        r.expect(124);
        assert!(r.elapsed < Duration::from_secs(10), "{}", r.dump());
        let v = report(&path, &r);
        assert_eq!(v["outcome"], "timeout", "{}", r.dump());
        assert!(
            v["warnings"].to_string().contains("session_wall"),
            "{}",
            r.dump()
        );
        let r = run(call(ctx, &url, &session, &profile, &path, &["true"]));
        r.expect(125);
        assert_eq!(report(&path, &r)["stopped_by"]["name"], "session_wall");
    });
}

/// A session label is whatever the caller passed (an agent, perhaps): `tooljail state` shows
/// each on one row, escaped, so a label holding a line break and a forged row, or a terminal
/// escape, neither adds a row nor reaches the operator's terminal raw. `--json` keeps it exact.
#[test]
fn a_session_label_cannot_forge_a_row_of_tooljail_state() {
    let _disk = crate::support::host_disk_written();
    let (_p, profile) = profile_file("extends = [\"default\"]\n[budget]\nsession_calls = 5\n");
    each_identity(|ctx| {
        let (_dir, url, tag, path) = sqlite_case("label");
        let label = format!("{tag}\nFORGED 999 1 1\u{1b}[31m");
        run(call(ctx, &url, &label, &profile, &path, &["true"])).expect(0);
        let r = run(ctx.tooljail(["state", "--state", url.as_str()]));
        r.expect(0);
        assert_eq!(r.stdout.lines().count(), 2, "{}", r.dump());
        assert!(
            r.stdout
                .contains(&format!("{tag}\\nFORGED 999 1 1\\u{{1b}}[31m")),
            "{}",
            r.dump()
        );
        assert!(!r.stdout.contains('\u{1b}'), "{}", r.dump());
        let r = run(ctx.tooljail(["state", "--state", url.as_str(), "--json"]));
        let v: Value = serde_json::from_str(&r.stdout).expect("state --json prints JSON");
        assert_eq!(v["sessions"][0]["session"], label, "{}", r.dump());
    });
}
