//! The run report (`--report FILE|-|fd:N`, schema tooljail.report/1, docs/report.md): every
//! outcome with its fields and exit status, identity and labels, the three sinks, retryable,
//! and the diagnostics on stderr (-vv spans, --log-format json, TOOLJAIL_LOG).
//! Every case runs as root and as the unprivileged test user (see tests/it/support/mod.rs).

use crate::support::{each_identity, profile_file, run, Ctx, Run};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, SystemTime};

const PYTHON: &str = "/usr/bin/python3";

/// `tooljail run --report DIR/report.json --audit-log DIR/audit.jsonl ARGS…`; the run and the
/// parsed report (panics with the dump when there is none).
fn reported(ctx: &Ctx, args: &[&str]) -> (Run, Value) {
    reported_with(ctx, args, |_| {})
}

use crate::support::reported_with;

/// The fields every report has, whatever happened.
fn check_common(ctx: &Ctx, r: &Run, v: &Value, status: i32) {
    let ctx_dump = || format!("{}\nreport: {v:#}", r.dump());
    r.expect(status);
    assert_eq!(v["schema"], "tooljail.report/1", "{}", ctx_dump());
    assert_eq!(v["exit_status"], status, "{}", ctx_dump());
    let id = v["run_id"].as_str().unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "run_id {id:?}"
    );
    let started = humantime::parse_rfc3339(v["started_at"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("started_at is not RFC 3339 ({e}): {}", ctx_dump()));
    let age = SystemTime::now().duration_since(started).unwrap();
    assert!(age < Duration::from_secs(60), "started_at {age:?} ago");
    let ms = v["duration_ms"].as_u64().unwrap();
    assert!(
        u128::from(ms) <= r.elapsed.as_millis() + 5,
        "duration_ms {ms} > the {:?} the run took\n{}",
        r.elapsed,
        ctx_dump()
    );
    let caller = match &ctx.who {
        crate::support::Who::Root => 0,
        crate::support::Who::User { uid, .. } => *uid,
        crate::support::Who::Current { uid } => *uid,
    };
    assert_eq!(v["identity"]["caller_uid"], caller, "{}", ctx_dump());
    assert!(v["argv"].is_array());
    assert!(v["denied_syscalls"].is_array());
    assert!(v["warnings"].is_array());
}

/// A run that got as far as the jail: the Policy is named and hashed, the jail's uid known.
fn check_ran(ctx: &Ctx, v: &Value) {
    assert_eq!(
        v["profiles"],
        serde_json::json!(["base", "default"]),
        "{v:#}"
    );
    let sha = v["policy_sha256"].as_str().unwrap();
    assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
    let jail_uid = v["identity"]["jail_uid"].as_u64().unwrap() as u32;
    assert!(ctx.is_jail_uid(jail_uid), "{v:#}");
    assert!(v["isolation"]["namespaces"].is_array(), "{v:#}");
}

#[test]
fn exited_passes_the_code_through() {
    each_identity(|ctx| {
        let (r, v) = reported(ctx, &["--", "sh", "-c", "exit 7"]);
        check_common(ctx, &r, &v, 7);
        check_ran(ctx, &v);
        assert_eq!(v["outcome"], "exited");
        assert_eq!(v["exit_code"], 7);
        assert!(v["signal"].is_null() && v["stopped_by"].is_null() && v["error"].is_null());
        assert_eq!(v["retryable"], false);
        assert_eq!(v["argv"], serde_json::json!(["sh", "-c", "exit 7"]));
        if ctx.is_root() {
            assert_eq!(v["identity"]["caller_user"], "root");
            // A transient uid of its own, which no account names.
            assert_eq!(v["identity"]["jail_user"], serde_json::Value::Null);
        }
    });
}

#[test]
fn signaled_names_the_signal() {
    each_identity(|ctx| {
        for (script, status, name) in [
            ("kill -9 $$", 137, "SIGKILL"),
            ("kill -TERM $$", 143, "SIGTERM"),
        ] {
            let (r, v) = reported(ctx, &["--", "sh", "-c", script]);
            check_common(ctx, &r, &v, status);
            check_ran(ctx, &v);
            assert_eq!(v["outcome"], "signaled", "{v:#}");
            assert_eq!(v["signal"], name, "{v:#}");
            assert!(
                v["exit_code"].is_null() && v["stopped_by"].is_null(),
                "{v:#}"
            );
            assert_eq!(v["retryable"], false);
        }
    });
}

#[test]
fn timeout_is_124_stopped_by_wall_time_and_terminal() {
    each_identity(|ctx| {
        let (r, v) = reported(ctx, &["--timeout", "1s", "--", "sleep", "30"]);
        check_common(ctx, &r, &v, 124);
        check_ran(ctx, &v);
        assert_eq!(v["outcome"], "timeout");
        assert_eq!(v["stopped_by"]["kind"], "limit");
        assert_eq!(v["stopped_by"]["name"], "wall_time");
        assert_eq!(v["retryable"], false);
        let ms = v["duration_ms"].as_u64().unwrap();
        assert!((900..5000).contains(&ms), "duration_ms {ms}");
    });
}

#[test]
fn not_found_is_127_setup_error_and_terminal() {
    each_identity(|ctx| {
        let (r, v) = reported(ctx, &["--", "no-such-command-xyz"]);
        check_common(ctx, &r, &v, 127);
        check_ran(ctx, &v);
        assert_eq!(v["outcome"], "setup_error");
        assert_eq!(v["error"]["kind"], "not_found", "{v:#}");
        assert_eq!(v["error"]["retryable"], false);
        assert_eq!(v["retryable"], false);
        assert!(v["exit_code"].is_null());
        r.expect_stderr_contains("command not found");
    });
}

#[test]
fn bad_profile_is_125_with_the_position_and_no_policy() {
    each_identity(|ctx| {
        let (_d, profile) =
            profile_file("extends = [\"default\"]\n[filesystem]\nrw_paths = [\"/tmp\"]\n");
        let p = profile.to_str().unwrap();
        let (r, v) = reported(ctx, &["-p", p, "--", "true"]);
        check_common(ctx, &r, &v, 125);
        assert_eq!(v["outcome"], "setup_error");
        assert_eq!(v["error"]["kind"], "profile");
        assert_eq!(v["error"]["where"], format!("{p}:3:1"), "{v:#}");
        assert!(!v["error"]["hint"].as_str().unwrap().is_empty());
        assert_eq!(v["retryable"], false);
        // The Policy was never resolved: no profile list, no hash, no isolation.
        assert_eq!(v["profiles"], serde_json::json!([]));
        assert!(v["policy_sha256"].is_null(), "{v:#}");
        assert!(v["isolation"].is_null(), "{v:#}");
        r.expect_stderr_contains(&format!("tooljail: {p}:3:1: unknown key \"rw_paths\""));
    });
}

#[test]
fn a_denied_syscall_is_reported_by_name_with_one_stderr_line() {
    each_identity(|ctx| {
        // ptrace(PTRACE_TRACEME): always denied (EPERM), so the command goes on and exits 0.
        let (r, v) = reported(
            ctx,
            &[
                "--",
                PYTHON,
                "-c",
                "import ctypes; print(ctypes.CDLL(None).syscall(101, 0, 0, 0, 0))",
            ],
        );
        check_common(ctx, &r, &v, 0);
        check_ran(ctx, &v);
        assert_eq!(v["outcome"], "exited");
        r.expect_stdout_contains("-1");
        let denied = v["denied_syscalls"].as_array().unwrap();
        assert!(
            denied
                .iter()
                .any(|d| d["name"] == "ptrace" && d["arch"] == "x86_64" && d["count"] == 1),
            "{v:#}"
        );
        let summary: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains("denied syscalls"))
            .collect();
        assert_eq!(summary.len(), 1, "{}", r.dump());
        assert!(summary[0].starts_with("tooljail: denied syscalls: ptrace(x86_64) x1"));
    });
}

#[test]
fn seccomp_kill_is_a_violation_naming_the_rule() {
    each_identity(|ctx| {
        // `action = "kill"` applies to the profile's own denials. vhangup (153) is outside the
        // allow-list; ptrace would not do here: it is a hardening denial, which always answers
        // EPERM (docs/seccomp.md), under every action.
        let (_d, profile) =
            profile_file("extends = [\"default\"]\n[syscalls]\naction = \"kill\"\n");
        let (r, v) = reported(
            ctx,
            &[
                "-p",
                profile.to_str().unwrap(),
                "--",
                PYTHON,
                "-c",
                "import ctypes; ctypes.CDLL(None).syscall(153, 0, 0, 0, 0); print('RAN ON')",
            ],
        );
        check_common(ctx, &r, &v, 137);
        assert_eq!(v["outcome"], "violation", "{v:#}");
        assert_eq!(v["signal"], "SIGKILL");
        assert_eq!(v["stopped_by"]["kind"], "rule");
        assert_eq!(v["stopped_by"]["name"], "seccomp:vhangup", "{v:#}");
        assert_eq!(v["denied_syscalls"][0]["name"], "vhangup");
        assert_eq!(v["retryable"], false);
        assert!(!r.stdout.contains("RAN ON"), "{}", r.dump());
    });
}

#[test]
fn a_file_size_limit_is_named() {
    each_identity(|ctx| {
        let (_d, profile) = profile_file("extends = [\"default\"]\n[limits]\nfile_size = \"1M\"\n");
        let (r, v) = reported(
            ctx,
            &[
                "-p",
                profile.to_str().unwrap(),
                "--",
                "dd",
                "if=/dev/zero",
                "of=/tmp/big",
                "bs=1M",
                "count=4",
            ],
        );
        // dd does not catch SIGXFSZ: it dies of it (128 + 25).
        check_common(ctx, &r, &v, 153);
        assert_eq!(v["signal"], "SIGXFSZ", "{v:#}");
        assert_eq!(v["stopped_by"]["kind"], "limit");
        assert_eq!(v["stopped_by"]["name"], "file_size", "{v:#}");
        assert_eq!(v["outcome"], "limit");
        assert_eq!(v["retryable"], false);
    });
}

/// `prlimit --nproc=1:1` right before tooljail (after setpriv, so it binds the user's own
/// processes): clone3 of the jail then fails with EAGAIN, the textbook transient failure.
fn with_one_process(ctx: &Ctx, args: &[&str]) -> Command {
    let inner = ctx.tooljail(args);
    let prog = inner.get_program().to_owned();
    let mut rest: Vec<std::ffi::OsString> = inner.get_args().map(|a| a.to_owned()).collect();
    let mut cmd = if prog == "setpriv" {
        // setpriv OPTS -- BIN ARGS → setpriv OPTS -- prlimit --nproc=1:1 -- BIN ARGS
        let at = rest.iter().position(|a| a == "--").unwrap() + 1;
        rest.splice(
            at..at,
            ["prlimit".into(), "--nproc=1:1".into(), "--".into()],
        );
        let mut c = Command::new(prog);
        c.args(rest);
        c
    } else {
        let mut c = Command::new("prlimit");
        c.args(["--nproc=1:1", "--"]).arg(prog).args(rest);
        c
    };
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

#[test]
fn only_transient_setup_errors_are_retryable() {
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let report = dir.path().join("r.json");
        let audit = dir.path().join("a.jsonl");
        let args = [
            "run",
            "--report",
            report.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
            "--",
            "true",
        ];
        let r = run(with_one_process(ctx, &args));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        check_common(ctx, &r, &v, 125);
        assert_eq!(v["outcome"], "setup_error", "{v:#}");
        assert_eq!(v["error"]["kind"], "setup");
        assert_eq!(v["error"]["errno"], libc::EAGAIN, "{v:#}");
        assert_eq!(v["retryable"], true, "{v:#}");
        assert_eq!(v["error"]["retryable"], true);
    });
}

#[test]
fn run_ids_are_unique() {
    each_identity(|ctx| {
        let ids: std::collections::HashSet<String> = (0..3)
            .map(|_| {
                let (r, v) = reported(ctx, &["--", "true"]);
                r.expect(0);
                v["run_id"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(ids.len(), 3);
    });
}

#[test]
fn labels_come_from_flags_and_from_the_environment() {
    each_identity(|ctx| {
        let (r, v) = reported(
            ctx,
            &[
                "--session",
                "s-1",
                "--agent",
                "a-1",
                "--tool",
                "t-1",
                "--",
                "true",
            ],
        );
        r.expect(0);
        assert_eq!(v["identity"]["session"], "s-1");
        assert_eq!(v["identity"]["agent"], "a-1");
        assert_eq!(v["identity"]["tool"], "t-1");

        let env = |c: &mut Command| {
            c.env("TOOLJAIL_SESSION", "s-env")
                .env("TOOLJAIL_AGENT", "a-env")
                .env("TOOLJAIL_TOOL", "t-env");
        };
        let (r, v) = reported_with(ctx, &["--", "true"], env);
        r.expect(0);
        assert_eq!(v["identity"]["session"], "s-env");
        assert_eq!(v["identity"]["agent"], "a-env");
        assert_eq!(v["identity"]["tool"], "t-env");
        // A flag wins over the environment; unset labels are null.
        let (_, v) = reported_with(ctx, &["--tool", "t-flag", "--", "true"], env);
        assert_eq!(v["identity"]["tool"], "t-flag");
        let (_, v) = reported(ctx, &["--", "true"]);
        assert!(v["identity"]["session"].is_null() && v["identity"]["tool"].is_null());
        // The labels are not passed into the jail's environment.
        let (r, _) = reported_with(ctx, &["--", "sh", "-c", "echo \"[$TOOLJAIL_TOOL]\""], env);
        r.expect(0).expect_stdout_contains("[]");
    });
}

#[test]
fn report_to_an_inherited_pipe() {
    each_identity(|ctx| {
        // The shell makes fd 3 a copy of its stdout (our pipe) and sends the command's own
        // stdout to stderr: what arrives on the pipe is the report alone.
        let inner = ctx.tooljail([
            "run",
            "--audit-log",
            "/dev/null",
            "--report",
            "fd:3",
            "--",
            "echo",
            "from-the-command",
        ]);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("exec \"$@\" 3>&1 1>&2")
            .arg("sh")
            .arg(inner.get_program())
            .args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let r = run(cmd);
        r.expect(0).expect_stderr_contains("from-the-command");
        let v: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("fd:3 did not carry a report ({e})\n{}", r.dump()));
        assert_eq!(v["outcome"], "exited");
        assert_eq!(v["exit_code"], 0);
    });
}

#[test]
fn report_to_stdout_follows_the_command_output() {
    each_identity(|ctx| {
        let r = run(ctx.tooljail([
            "run",
            "--audit-log",
            "/dev/null",
            "--report",
            "-",
            "--",
            "echo",
            "hello",
        ]));
        r.expect(0);
        let json = r
            .stdout
            .strip_prefix("hello\n")
            .unwrap_or_else(|| panic!("command output first\n{}", r.dump()));
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["outcome"], "exited");
        // fd:1 is stdout too, and the command keeps its own stdout (and fd:2 its stderr).
        let r = run(ctx.tooljail([
            "run",
            "--audit-log",
            "/dev/null",
            "--report",
            "fd:1",
            "--",
            "echo",
            "hello",
        ]));
        r.expect(0);
        assert!(r.stdout.starts_with("hello\n{"), "{}", r.dump());
        let r = run(ctx.tooljail([
            "run",
            "--audit-log",
            "/dev/null",
            "--report",
            "fd:2",
            "--",
            "sh",
            "-c",
            "echo oops >&2",
        ]));
        r.expect(0);
        assert!(r.stderr.starts_with("oops\n{"), "{}", r.dump());
    });
}

#[test]
fn a_bad_report_destination_is_125_and_nothing_runs() {
    each_identity(|ctx| {
        let dir = crate::support::records_dir();
        let marker = dir.path().join("RAN");
        let touch = format!("touch {}", marker.display());
        let d = dir.path().to_str().unwrap();
        for dest in ["/nonexistent-dir/report.json", "fd:57", "fd:x", ""] {
            let r = run(ctx.tooljail([
                "run",
                "--audit-log",
                "/dev/null",
                "--report",
                dest,
                "--rw",
                d,
                "--",
                "sh",
                "-c",
                &touch,
            ]));
            r.expect(125).expect_stderr_contains("tooljail: --report");
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
            assert!(
                !marker.exists(),
                "the command ran despite --report {dest:?}"
            );
        }
    });
}

#[test]
fn vv_prints_the_duration_of_every_setup_step() {
    each_identity(|ctx| {
        let r = run(ctx.tooljail(["run", "-vv", "--audit-log", "/dev/null", "--", "true"]));
        r.expect(0);
        for step in [
            "resolve policy",
            "preflight",
            "plan",
            "clone and id maps",
            "bind sources",
            "rootfs",
        ] {
            assert!(
                r.stderr
                    .lines()
                    .any(|l| l.contains(&format!("{step}: close")) && l.contains("time.busy=")),
                "no span close line for {step:?}\n{}",
                r.dump()
            );
        }
        // Without -v, a successful run says nothing.
        let r = run(ctx.tooljail(["run", "--audit-log", "/dev/null", "--", "true"]));
        r.expect(0);
        assert_eq!(r.stderr, "", "{}", r.dump());
    });
}

#[test]
fn log_format_json_and_tooljail_log() {
    each_identity(|ctx| {
        let r = run(ctx.tooljail([
            "run",
            "-vv",
            "--log-format",
            "json",
            "--audit-log",
            "/dev/null",
            "--",
            "true",
        ]));
        r.expect(0);
        let lines: Vec<Value> = r
            .stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", r.dump())))
            .collect();
        assert!(
            lines.iter().any(|l| l["span"]["name"] == "preflight"),
            "{}",
            r.dump()
        );
        assert!(lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()));

        let mut cmd = ctx.tooljail(["run", "--audit-log", "/dev/null", "--", "true"]);
        cmd.env("TOOLJAIL_LOG", "tooljail=debug");
        let r = run(cmd);
        r.expect(0);
        assert!(
            r.stderr
                .lines()
                .any(|l| l.contains("DEBUG") && l.contains("jail ended")),
            "{}",
            r.dump()
        );
    });
}
