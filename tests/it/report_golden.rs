//! The report is part of tooljail's contract with orchestrators: for each outcome, the report
//! written today must equal the one kept in tests/fixtures/reports/ (written by an earlier
//! version), except for the fields that differ on every run (ids, times, measured resources).
//! A change that alters a report on purpose re-blesses the fixtures with TOOLJAIL_BLESS=1 and
//! says why in its commit. Runs as root and as the unprivileged test user.

use crate::support::{each_identity, run, Ctx, Who};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One outcome: fixture name, tooljail arguments after `run --report F --audit-log A`, and the
/// exit status it must have.
const CASES: &[(&str, &[&str], i32)] = &[
    ("exited", &["--", "sh", "-c", "exit 3"], 3),
    ("exited-ok", &["--", "true"], 0),
    ("signaled", &["--", "sh", "-c", "kill -KILL $$"], 137),
    ("timeout", &["--timeout", "1s", "--", "sleep", "30"], 124),
    (
        "file-size",
        &["--", "sh", "-c", "head -c 300M /dev/zero > fill"],
        153,
    ),
    (
        "scratch-full",
        &[
            "--",
            "sh",
            "-c",
            "head -c 150M /dev/zero > a; head -c 150M /dev/zero > b",
        ],
        1,
    ),
    (
        "not-found",
        &["--", "/no/such/tooljail-golden-command"],
        127,
    ),
    ("not-executable", &["--", "/etc/passwd"], 126),
    (
        "setup-missing-path",
        &["--ro", "/no/such/tooljail-golden-dir", "--", "true"],
        125,
    ),
    (
        "violation",
        &[
            "-p",
            "@fixtures/kill.toml",
            "--",
            "python3",
            "-c",
            "import ctypes; ctypes.CDLL(None).syscall(153)",
        ],
        137,
    ),
    ("denied", &["--", "unshare", "-U", "true"], 1),
    (
        "refused-budget",
        &[
            "-p",
            "@fixtures/budget.toml",
            "--state",
            "sqlite:@dir/state/state.db",
            "--",
            "true",
        ],
        125,
    ),
    // The export and output sections: a refused symlink (nothing is written to /tmp) and a
    // capped stdout.
    (
        "export-output",
        &[
            "--export-to",
            "/tmp",
            "--export",
            "*.lnk",
            "--stdout-max",
            "10",
            "--",
            "sh",
            "-c",
            "ln -s /etc/passwd x.lnk; echo 0123456789abcdef",
        ],
        0,
    ),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports")
}

/// Replace what differs between runs, machines and checkouts with fixed markers. A Policy made
/// from a profile file records the file's path, so its hash differs between checkouts: only
/// the hashes of built-in profiles are kept.
fn normalize(mut v: Value, profile_file: bool) -> Value {
    if profile_file && !v["policy_sha256"].is_null() {
        v["policy_sha256"] = Value::String("<policy_sha256 of a profile file>".into());
    }
    for key in ["run_id", "started_at", "duration_ms", "cwd"] {
        v[key] = Value::String(format!("<{key}>"));
    }
    for key in [
        "user_cpu_ms",
        "system_cpu_ms",
        "max_rss_kib",
        "tasks_peak",
        "tasks_at_end",
    ] {
        if !v["resources"][key].is_null() {
            v["resources"][key] = Value::String(format!("<{key}>"));
        }
    }
    // Root's jail takes a transient uid of its own, a different one each run.
    if let Some(uid) = v["identity"]["jail_uid"].as_u64() {
        if crate::support::api::transient_uids().contains(&(uid as u32)) {
            v["identity"]["jail_uid"] = Value::String("<transient uid>".into());
        }
    }
    if let Some(e) = v["stopped_by"]["evidence"].as_str() {
        // Evidence quotes measured figures (bytes used): keep its words, not its numbers.
        let words: String = e.chars().filter(|c| !c.is_ascii_digit()).collect();
        v["stopped_by"]["evidence"] = Value::String(words);
    }
    let repo = env!("CARGO_MANIFEST_DIR");
    let text = serde_json::to_string(&v).unwrap().replace(repo, "<repo>");
    serde_json::from_str(&text).unwrap()
}

fn who(ctx: &Ctx) -> &'static str {
    match ctx.who {
        Who::Root => "root",
        _ => "user",
    }
}

#[test]
fn reports_match_the_kept_fixtures_for_every_outcome() {
    let bless = std::env::var_os("TOOLJAIL_BLESS").is_some();
    each_identity(|ctx| {
        for (name, args, status) in CASES {
            let dir = crate::support::records_dir();
            let report = dir.path().join("report.json");
            let audit = dir.path().join("audit.jsonl");
            let mut a: Vec<String> = vec![
                "run".into(),
                "--report".into(),
                report.to_str().unwrap().into(),
                "--audit-log".into(),
                audit.to_str().unwrap().into(),
            ];
            let fx = fixtures();
            a.extend(args.iter().map(|s| match s.strip_prefix("@fixtures/") {
                Some(f) => fx.join(f).to_str().unwrap().to_string(),
                None => s.replace("@dir/", &format!("{}/", dir.path().display())),
            }));
            if name.starts_with("refused") {
                // The call rules refuse only a call after another: make that one first.
                let mut first = ctx.tooljail(&a);
                first.current_dir("/");
                run(first).expect(0);
            }
            let mut cmd = ctx.tooljail(&a);
            cmd.current_dir("/");
            let r = run(cmd);
            r.expect(*status);
            let text = std::fs::read_to_string(&report)
                .unwrap_or_else(|e| panic!("{name}: no report ({e})\n{}", r.dump()));
            let from_file = args.iter().any(|a| a.starts_with("@fixtures/"));
            let got = normalize(serde_json::from_str(&text).unwrap(), from_file);
            let path = fixtures().join(format!("{name}.{}.json", who(ctx)));
            if bless {
                std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
                continue;
            }
            let want: Value = serde_json::from_str(
                &std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            )
            .unwrap();
            assert_eq!(
                got,
                want,
                "{name} as {}: the report differs from {}\n{}\ngot:\n{got:#}",
                who(ctx),
                path.display(),
                r.dump()
            );
        }
    });
}
