//! The audit trail: one whole JSON line per run under heavy concurrency (root and the test user
//! appending to the same log), records for refused and failed runs, and `tooljail audit`'s
//! filters, table and JSON output against a log of known records.

use crate::support::api::report::{Outcome, Report};
use crate::support::{
    each_identity, finish, identities, profile_file, run, spawn, tempdir, Ctx, Who,
};
use serde_json::Value;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// An empty audit log in a fresh directory, writable by every identity.
fn shared_log() -> (tempfile::TempDir, PathBuf) {
    let dir = crate::support::records_dir();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    (dir, path)
}

fn records(path: &Path) -> Vec<Report> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "last line is torn");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                let start: String = l.chars().take(300).collect();
                panic!("line {} is not a whole record ({e}): {start}…", i + 1)
            })
        })
        .collect()
}

fn uid_of(ctx: &Ctx) -> u32 {
    match &ctx.who {
        Who::Root => 0,
        Who::User { uid, .. } => *uid,
        Who::Current { uid } => *uid,
    }
}

#[test]
fn two_hundred_concurrent_runs_append_two_hundred_whole_lines() {
    crate::support::init();
    let (_dir, log) = shared_log();
    let log_s = log.to_str().unwrap();
    let who = identities();
    const RUNS: usize = 200;
    const WAVE: usize = 50;
    let mut session_of = Vec::new();
    for wave in 0..RUNS / WAVE {
        // Start a whole wave before waiting for any of it: ~50 tooljails at once, alternating
        // root and the test user, all appending to the same file.
        let children: Vec<_> = (0..WAVE)
            .map(|i| {
                let n = wave * WAVE + i;
                let ctx = &who[n % who.len()];
                let session = format!("wave{wave}-run{i}");
                session_of.push(session.clone());
                let mut cmd = ctx.tooljail([
                    "run",
                    "--audit-log",
                    log_s,
                    "--session",
                    &session,
                    "--",
                    "true",
                ]);
                (spawn(&mut cmd), session)
            })
            .collect();
        for (child, session) in children {
            let r = finish(child, Duration::from_secs(120), session);
            r.expect(0);
        }
    }
    let recs = records(&log);
    assert_eq!(recs.len(), RUNS);
    let ids: HashSet<&str> = recs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids.len(), RUNS, "run ids are not unique");
    let sessions: HashSet<&str> = recs
        .iter()
        .map(|r| r.identity.session.as_deref().unwrap())
        .collect();
    assert_eq!(sessions, session_of.iter().map(String::as_str).collect());
    assert!(recs.iter().all(|r| r.outcome == Outcome::Exited));
    for ctx in &who {
        let n = recs
            .iter()
            .filter(|r| r.identity.caller_uid == uid_of(ctx))
            .count();
        assert_eq!(n, RUNS / who.len(), "records by {:?}", ctx.who);
    }
    // Concurrent appenders still make one unbroken chain (each links under the lock).
    let v = audit(&who[0], &log, &["--verify"]);
    v.expect(0)
        .expect_stdout_contains(&format!("whole: {RUNS} chained record(s)"));
}

/// `log` with its lines passed through `edit`, written to a new file beside it.
fn edited(log: &Path, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let mut lines: Vec<String> = std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    let out = log.with_file_name(name);
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    out
}

/// Issue 13 item 3: every record carries the hash of the one before it, and `tooljail audit
/// --verify` names the first record removed, changed or inserted (exit 1), and says a whole
/// log is whole (exit 0). A log of tooljail 0.1.0 (no chain) is still read, and said to be
/// unchained.
#[test]
fn verify_names_the_first_removed_changed_or_inserted_record() {
    each_identity(|ctx| {
        let (_dir, log) = shared_log();
        for code in 0..5 {
            let cmd = format!("exit {code}");
            run(ctx.tooljail([
                "run",
                "--audit-log",
                log.to_str().unwrap(),
                "--",
                "sh",
                "-c",
                &cmd,
            ]))
            .expect(code);
        }
        let whole = audit(ctx, &log, &["--verify"]);
        whole
            .expect(0)
            .expect_stdout_contains("whole: 5 chained record(s)");
        // The flag's other spelling, as `run` names the log.
        let r = run(ctx.tooljail(["audit", "--verify", "--audit-log", log.to_str().unwrap()]));
        r.expect(0);

        let removed = edited(&log, "removed.jsonl", |l| {
            l.remove(2);
        });
        let r = audit(ctx, &removed, &["--verify"]);
        r.expect(1)
            .expect_stdout_contains("removed.jsonl:3: chain broken: 1 record was removed");
        let changed = edited(&log, "changed.jsonl", |l| {
            l[1] = l[1].replace("\"exit_code\":1", "\"exit_code\":0");
        });
        let r = audit(ctx, &changed, &["--verify"]);
        r.expect(1)
            .expect_stdout_contains("changed.jsonl:2: chain broken: line 2 was changed");
        let inserted = edited(&log, "inserted.jsonl", |l| {
            let forged = l[0].clone();
            l.insert(3, forged);
        });
        let r = audit(ctx, &inserted, &["--verify"]);
        r.expect(1)
            .expect_stdout_contains("inserted.jsonl:4: chain broken: line 4 was inserted");
        // A forged line without a link, as an older tooljail (or a hand) would append it.
        let unlinked = edited(&log, "unlinked.jsonl", |l| {
            let forged = l[0].split_once(',').unwrap().1;
            let forged = format!("{{{forged}");
            l.insert(1, forged);
        });
        let r = audit(ctx, &unlinked, &["--verify"]);
        r.expect(1)
            .expect_stdout_contains("unlinked.jsonl:2: chain broken: line 2 was inserted");
        // Reading is unchanged: the records still list.
        assert_eq!(ids(ctx, &changed, &[]).len(), 5);
    });
}

#[test]
fn a_log_of_0_1_0_is_read_and_verifies_as_unchained() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/audit-0.1.0.jsonl");
    each_identity(|ctx| {
        let r = audit(ctx, &path, &["--verify"]);
        r.expect(0)
            .expect_stdout_contains("whole: 0 chained record(s), after")
            .expect_stdout_contains("unchained record(s) of a tooljail that did not chain");
    });
}

#[test]
fn refused_and_failed_runs_leave_a_record() {
    each_identity(|ctx| {
        let (_dir, log) = shared_log();
        let log_s = log.to_str().unwrap();
        let (_d, bad) = profile_file("[filesystem]\nread_only = 3\n");
        let jail = |args: &[&str]| {
            let mut a = vec!["run", "--audit-log", log_s, "--tool", "t"];
            a.extend_from_slice(args);
            run(ctx.tooljail(a))
        };
        jail(&["-p", bad.to_str().unwrap(), "--", "true"]).expect(125);
        jail(&["--", "no-such-command-xyz"]).expect(127);
        jail(&["--report", "/nonexistent-dir/r.json", "--", "true"]).expect(125);
        // --user is refused for a non-root caller, and refused for root when it names root.
        jail(&[
            "--user",
            if ctx.is_root() { "root" } else { "nobody" },
            "--",
            "true",
        ])
        .expect(125);
        let recs = records(&log);
        let kinds: Vec<(Outcome, i32, String)> = recs
            .iter()
            .map(|r| {
                (
                    r.outcome,
                    r.exit_status,
                    serde_json::to_value(r.error.as_ref().unwrap().kind)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (Outcome::SetupError, 125, "profile".to_string()),
                (Outcome::SetupError, 127, "not_found".to_string()),
                (Outcome::SetupError, 125, "usage".to_string()),
                (Outcome::SetupError, 125, "usage".to_string()),
            ]
        );
        for r in &recs {
            assert_eq!(r.identity.caller_uid, uid_of(ctx));
            assert_eq!(r.identity.tool.as_deref(), Some("t"));
            assert!(!r.retryable);
        }
        // The jail's identity is known once resolved (not found), unknown before (bad --report).
        assert!(recs[1]
            .identity
            .jail_uid
            .is_some_and(|u| ctx.is_jail_uid(u)));
        assert_eq!(recs[2].identity.jail_uid, None);
    });
}

/// The golden records (tests/it/fixtures): lines tooljail 0.1.0 appended, byte for byte.
fn golden() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/audit-0.1.0.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A record with the fields the filters look at: the first golden line (the format as an
/// earlier version wrote it) with those fields replaced, as plain JSON, never through the
/// crate's own types.
#[allow(clippy::too_many_arguments)]
fn known(
    id: &str,
    caller: (&str, u32),
    jail: (&str, u32),
    tool: &str,
    session: &str,
    outcome: &str,
    status: i32,
    at: SystemTime,
) -> String {
    let mut r: Value = serde_json::from_str(&golden()[0]).unwrap();
    r["run_id"] = id.into();
    r["argv"] = serde_json::json!(["echo", id]);
    r["identity"]["caller_user"] = caller.0.into();
    r["identity"]["caller_uid"] = caller.1.into();
    r["identity"]["jail_user"] = jail.0.into();
    r["identity"]["jail_uid"] = jail.1.into();
    r["identity"]["tool"] = tool.into();
    r["identity"]["session"] = session.into();
    r["outcome"] = outcome.into();
    r["exit_status"] = status.into();
    r["started_at"] = humantime::format_rfc3339_millis(at).to_string().into();
    r.to_string()
}

/// Records an earlier version wrote are read as they are: the table a person reads (written
/// out here) and the records themselves through --json.
#[test]
fn records_of_0_1_0_are_read_as_written() {
    // A copy every identity can read (the checkout may be private to its owner).
    let dir = tempdir(0o755);
    let path = dir.path().join("audit-0.1.0.jsonl");
    std::fs::write(&path, golden().join("\n") + "\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    each_identity(|ctx| {
        let r = audit(ctx, &path, &[]);
        r.expect(0);
        assert_eq!(
            r.stdout,
            "STARTED                  USER         AS           TOOL         OUTCOME      EXIT   DURATION  COMMAND\n\
             2026-12-06T01:18:50.068Z root         nobody       lint         exited          3        4ms  sh -c exit 3\n\
             2026-12-06T01:18:50.076Z root         nobody       lint         timeout       124     1001ms  sleep 5\n",
            "{}",
            r.dump()
        );
        assert_eq!(r.stderr, "");
        let r = audit(ctx, &path, &["--json", "--outcome", "timeout"]);
        r.expect(0);
        let got: Vec<Value> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let want: Value = serde_json::from_str(&golden()[1]).unwrap();
        assert_eq!(got, [want], "{}", r.dump());
    });
}

fn audit(ctx: &Ctx, log: &Path, filter: &[&str]) -> crate::support::Run {
    let mut a = vec!["audit", "--log", log.to_str().unwrap()];
    a.extend_from_slice(filter);
    run(ctx.tooljail(a))
}

/// The run ids `tooljail audit --json FILTER…` prints.
fn ids(ctx: &Ctx, log: &Path, filter: &[&str]) -> Vec<String> {
    let mut f = filter.to_vec();
    f.push("--json");
    let r = audit(ctx, log, &f);
    r.expect(0);
    r.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", r.dump()));
            v["run_id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn audit_filters_select_known_records() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        let log = dir.path().join("known.jsonl");
        let t = |s: &str| humantime::parse_rfc3339(s).unwrap();
        let now = SystemTime::now();
        let hours_ago = |h: u64| now - Duration::from_secs(h * 3600);
        let lines = [
            known(
                "r1",
                ("alice", 1001),
                ("nobody", 65534),
                "git",
                "s1",
                "exited",
                0,
                t("2026-01-10T08:00:00Z"),
            ),
            known(
                "r2",
                ("bob", 1002),
                ("bob", 1002),
                "curl",
                "s2",
                "timeout",
                124,
                t("2026-01-10T09:00:00Z"),
            ),
            known(
                "r3",
                ("root", 0),
                ("alice", 1001),
                "curl",
                "s2",
                "setup_error",
                127,
                t("2026-01-10T10:00:00Z"),
            ),
            known(
                "r4",
                ("alice", 1001),
                ("alice", 1001),
                "python",
                "s3",
                "violation",
                137,
                hours_ago(3),
            ),
            known(
                "r5",
                ("bob", 1002),
                ("bob", 1002),
                "git",
                "s3",
                "exited",
                1,
                hours_ago(1),
            ),
        ];
        std::fs::write(&log, lines.join("\n") + "\n").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();

        assert_eq!(ids(ctx, &log, &[]), ["r1", "r2", "r3", "r4", "r5"]);
        // By user: invoking or effective, by name or uid.
        assert_eq!(ids(ctx, &log, &["--user", "alice"]), ["r1", "r3", "r4"]);
        assert_eq!(ids(ctx, &log, &["--user", "1002"]), ["r2", "r5"]);
        assert_eq!(ids(ctx, &log, &["--user", "65534"]), ["r1"]);
        assert!(ids(ctx, &log, &["--user", "carol"]).is_empty());
        // Time: RFC 3339 (Z, numeric offset), --until exclusive, and durations ago.
        assert_eq!(
            ids(
                ctx,
                &log,
                &[
                    "--since",
                    "2026-01-10T08:30:00Z",
                    "--until",
                    "2026-01-10T10:00:00Z"
                ]
            ),
            ["r2"]
        );
        assert_eq!(
            ids(
                ctx,
                &log,
                &[
                    "--since",
                    "2026-01-10T10:00:00+01:00",
                    "--until",
                    "2026-01-11T00:00:00Z"
                ]
            ),
            ["r2", "r3"]
        );
        assert_eq!(ids(ctx, &log, &["--since", "2h"]), ["r5"]);
        assert_eq!(ids(ctx, &log, &["--since", "4h", "--until", "2h"]), ["r4"]);
        assert_eq!(ids(ctx, &log, &["--since", "1day"]), ["r4", "r5"]);
        // Tool, outcome, session, and all of them together.
        assert_eq!(ids(ctx, &log, &["--tool", "curl"]), ["r2", "r3"]);
        assert_eq!(ids(ctx, &log, &["--outcome", "timeout"]), ["r2"]);
        assert_eq!(ids(ctx, &log, &["--outcome", "setup_error"]), ["r3"]);
        assert_eq!(ids(ctx, &log, &["--session", "s3"]), ["r4", "r5"]);
        assert_eq!(
            ids(
                ctx,
                &log,
                &[
                    "--session",
                    "s3",
                    "--tool",
                    "git",
                    "--user",
                    "bob",
                    "--outcome",
                    "exited",
                    "--since",
                    "2h"
                ]
            ),
            ["r5"]
        );
        // A missing log and bad bounds are usage errors, not empty answers.
        audit(ctx, &dir.path().join("missing.jsonl"), &[])
            .expect(125)
            .expect_stderr_contains("pass --log PATH");
        audit(ctx, &log, &["--since", "yesterday"])
            .expect(125)
            .expect_stderr_contains("--since");

        // The table: a header, then one row per record, with both identities.
        let r = audit(ctx, &log, &["--tool", "curl"]);
        r.expect(0);
        let rows: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(rows.len(), 3, "{}", r.dump());
        for col in [
            "STARTED", "USER", "AS", "TOOL", "OUTCOME", "EXIT", "DURATION", "COMMAND",
        ] {
            assert!(rows[0].contains(col), "header lacks {col}\n{}", r.dump());
        }
        assert!(rows[1].starts_with("2026-01-10T09:00:00.000Z") && rows[1].contains("bob"));
        assert!(
            rows[1].contains("timeout") && rows[1].contains("124") && rows[1].contains("echo r2")
        );
        assert!(
            rows[2].contains("root")
                && rows[2].contains("alice")
                && rows[2].contains("setup_error")
        );
        assert_eq!(r.stderr, "");
    });
}

#[test]
fn a_torn_line_is_reported_not_hidden() {
    each_identity(|ctx| {
        let dir = tempdir(0o755);
        let log = dir.path().join("torn.jsonl");
        let now = SystemTime::now();
        let good = known("ok1", ("a", 1), ("a", 1), "t", "s", "exited", 0, now);
        let good2 = known("ok2", ("a", 1), ("a", 1), "t", "s", "exited", 0, now);
        let torn = &good[..good.len() / 2];
        std::fs::write(&log, format!("{good}\n{torn}\n{good2}\n{torn}")).unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
        for json in [false, true] {
            let r = audit(ctx, &log, if json { &["--json"] } else { &[] });
            r.expect(0);
            assert_eq!(
                r.stdout.lines().count(),
                if json { 2 } else { 3 },
                "{}",
                r.dump()
            );
            let warned: Vec<&str> = r.stderr.lines().collect();
            assert_eq!(warned.len(), 2, "{}", r.dump());
            let path = log.display();
            assert!(
                warned[0].starts_with(&format!("tooljail: {path}:2: not an audit record")),
                "{}",
                r.dump()
            );
            assert!(warned[1].starts_with(&format!("tooljail: {path}:4: not an audit record")));
            assert!(warned[1].contains("no newline"), "{}", r.dump());
        }
    });
}

#[test]
fn real_runs_are_queried_by_session() {
    each_identity(|ctx| {
        let (_dir, log) = shared_log();
        let log_s = log.to_str().unwrap();
        let session = crate::support::unique("sess");
        for (cmd, status) in [
            (&["true"][..], 0),
            (&["sh", "-c", "exit 3"], 3),
            (&["no-such-command-xyz"], 127),
        ] {
            let mut a = vec![
                "run",
                "--audit-log",
                log_s,
                "--session",
                &session,
                "--tool",
                "probe",
                "--",
            ];
            a.extend_from_slice(cmd);
            run(ctx.tooljail(a)).expect(status);
        }
        run(ctx.tooljail([
            "run",
            "--audit-log",
            log_s,
            "--session",
            "other",
            "--",
            "true",
        ]))
        .expect(0);
        let got = ids(ctx, &log, &["--session", &session]);
        assert_eq!(got.len(), 3);
        let failed = audit(
            ctx,
            &log,
            &["--session", &session, "--outcome", "setup-error", "--json"],
        );
        failed.expect(0);
        let v: Value = serde_json::from_str(failed.stdout.trim()).unwrap();
        assert_eq!(v["exit_status"], 127);
        assert_eq!(v["identity"]["caller_uid"], uid_of(ctx));
        assert!(ctx.is_jail_uid(v["identity"]["jail_uid"].as_u64().unwrap() as u32));
        let since = ids(
            ctx,
            &log,
            &["--since", "5m", "--user", &uid_of(ctx).to_string()],
        );
        assert_eq!(since.len(), 4);
    });
}
