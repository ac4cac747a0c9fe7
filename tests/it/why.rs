//! `tooljail why` on the reports of real denials: an exec from a bind without exec, a connect
//! without a route out, a syscall the filter denies, a write to a read-only bind, and a command
//! line a `[command]` rule refuses; as words with the exact flag or profile line, as JSON, and
//! from the caller's last audit record. As root and as the unprivileged test user.

use crate::support::profiles::give_to_jail;
use crate::support::{each_identity, records_dir, run_for, tempdir, Ctx, Run};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(60);

/// `tooljail run ARGS` in `cwd` with a report and an audit log in `records`; the run.
fn run(ctx: &Ctx, cwd: &Path, records: &Path, args: &[&str]) -> Run {
    let mut all = vec![
        "run".to_string(),
        "--report".into(),
        records.join("report.json").display().to_string(),
        "--audit-log".into(),
        records.join("audit.jsonl").display().to_string(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let mut cmd = ctx.tooljail(&all);
    cmd.current_dir(cwd);
    run_for(cmd, BOUND)
}

/// `tooljail why` on that run's report: the text, and the JSON answer.
fn why(ctx: &Ctx, records: &Path) -> (String, Value) {
    let report = records.join("report.json").display().to_string();
    let text = run_for(ctx.tooljail(["why", report.as_str()]), BOUND);
    text.expect(0);
    let json = run_for(ctx.tooljail(["why", "--json", report.as_str()]), BOUND);
    json.expect(0);
    let v: Value = serde_json::from_str(&json.stdout).expect("why --json prints JSON");
    (text.stdout, v)
}

/// The one reason of `kind` in a `why --json` answer.
#[track_caller]
fn reason<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["reasons"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["kind"] == kind))
        .unwrap_or_else(|| panic!("no {kind} reason in {v:#}"))
}

#[test]
fn why_names_the_flag_for_an_exec_from_a_bind_without_exec() {
    each_identity(|ctx| {
        let records = records_dir();
        let dir = tempdir(0o755);
        give_to_jail(ctx, dir.path());
        let d = dir.path().to_str().unwrap();
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["--rw", d, "--", "sh", "-c", "cp /bin/true ./t && ./t"],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        let (text, v) = why(ctx, records.path());
        assert!(text.contains(&format!("The command ran {d}/t.")), "{text}");
        assert!(text.contains(&format!("--exec {d}")), "{text}");
        assert!(
            text.contains(&format!("[filesystem] executable = [\"{d}\"]")),
            "{text}"
        );
        let e = reason(&v, "exec");
        assert_eq!(e["flag"], format!("--exec {d}"), "{v:#}");
        assert_eq!(e["origin"], "--rw", "{v:#}");
        // The flag it names does allow it.
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["--rw", d, "--exec", d, "--", "sh", "-c", "./t"],
        );
        r.expect(0);
        let (text, _) = why(ctx, records.path());
        assert!(text.contains("denied nothing"), "{text}");
    });
}

#[test]
fn why_names_the_network_rule_for_a_refused_connect() {
    let script = "import socket\ns = socket.socket(); s.settimeout(5)\n\
                  try:\n    s.connect(('192.0.2.1', 443))\nexcept OSError as e:\n    print('refused', e.errno)\n";
    each_identity(|ctx| {
        let records = records_dir();
        let cwd = tempdir(0o755);
        let r = run(
            ctx,
            cwd.path(),
            records.path(),
            &["--", "python3", "-c", script],
        );
        r.expect(0).expect_stdout_contains("refused");
        let (text, v) = why(ctx, records.path());
        assert!(
            text.contains("The command connected to 192.0.2.1:443."),
            "{text}"
        );
        let c = reason(&v, "connect");
        assert_eq!(
            c["profile"], "[network] mode = \"host\" and tcp_connect = [443]",
            "{v:#}"
        );
    });
}

#[test]
fn why_names_the_unsafe_allow_key_for_a_hardening_denial() {
    each_identity(|ctx| {
        let records = records_dir();
        let cwd = tempdir(0o755);
        let r = run(
            ctx,
            cwd.path(),
            records.path(),
            &["--", "unshare", "-U", "true"],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        let (text, v) = why(ctx, records.path());
        assert!(text.contains("called the syscall unshare"), "{text}");
        let s = reason(&v, "syscall");
        assert_eq!(
            s["profile"], "[syscalls] unsafe_allow = [\"unshare\"]",
            "{v:#}"
        );
        assert!(
            text.contains("To allow it, in a profile:  [syscalls] unsafe_allow = [\"unshare\"]"),
            "{text}"
        );
        // --last reads the same run back from the audit log.
        let log = records.path().join("audit.jsonl").display().to_string();
        let last = run_for(
            ctx.tooljail(["why", "--last", "--log", log.as_str(), "--json"]),
            BOUND,
        );
        last.expect(0);
        let l: Value = serde_json::from_str(&last.stdout).unwrap();
        assert_eq!(l, v, "--last reads the same record");
    });
}

#[test]
fn why_names_the_command_rule_and_its_line() {
    let (_p, profile) =
        crate::support::profile_file("extends = [\"git\"]\n\n[command]\ndeny = [\"git push*\"]\n");
    each_identity(|ctx| {
        let records = records_dir();
        let cwd = tempdir(0o755);
        let p = profile.to_str().unwrap();
        let r = run(
            ctx,
            cwd.path(),
            records.path(),
            &["-p", p, "--", "git", "push", "origin", "main"],
        );
        r.expect(125);
        let (text, v) = why(ctx, records.path());
        let c = reason(&v, "command_rule");
        assert_eq!(c["origin"], format!("{p}:4:9"), "{v:#}");
        assert!(text.contains("[command] deny"), "{text}");
        assert!(
            text.contains(&format!("The rule comes from: {p}:4:9")),
            "{text}"
        );
    });
}

#[test]
fn why_on_a_missing_or_foreign_file_fails_with_one_line() {
    let dir = tempdir(0o755);
    let bogus = dir.path().join("x.json");
    std::fs::write(&bogus, "{\"not\": \"a report\"}").unwrap();
    for ctx in crate::support::identities() {
        let r = run_for(ctx.tooljail(["why", bogus.to_str().unwrap()]), BOUND);
        r.expect(125)
            .expect_stderr_contains("not a tooljail report");
        let r = run_for(ctx.tooljail(["why"]), BOUND);
        r.expect(125).expect_stderr_contains("<REPORT>");
    }
}

#[test]
fn why_names_the_bind_for_a_write_to_a_read_only_place() {
    each_identity(|ctx| {
        let records = records_dir();
        let dir = tempdir(0o755);
        give_to_jail(ctx, dir.path());
        let d = dir.path().to_str().unwrap();
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["--ro", d, "--", "sh", "-c", "echo x > out.txt"],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        r.expect_stderr_contains(&format!("tooljail: denied: write to {d}/out.txt"));
        let (text, v) = why(ctx, records.path());
        assert!(
            text.contains(&format!("The command wrote to {d}/out.txt.")),
            "{text}"
        );
        let w = reason(&v, "write");
        assert_eq!(w["flag"], format!("--rw {d}"), "{v:#}");
        assert_eq!(
            w["profile"],
            format!("[filesystem] read_write = [\"{d}\"]"),
            "{v:#}"
        );
        assert_eq!(w["origin"], "--ro", "{v:#}");
        // The jail's root: nothing makes it writable, and why says so.
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["--", "sh", "-c", "echo x > /new"],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        let (text, v) = why(ctx, records.path());
        assert!(text.contains("The command wrote to /new."), "{text}");
        assert!(text.contains("Nothing allows it"), "{text}");
        assert_eq!(reason(&v, "write")["liftable"], false, "{v:#}");
        // The flag it names does allow it.
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["--rw", d, "--", "sh", "-c", "echo x > out.txt"],
        );
        r.expect(0);
        let (text, _) = why(ctx, records.path());
        assert!(text.contains("denied nothing"), "{text}");
    });
}

#[test]
fn observe_writes_false_leaves_refused_writes_unnamed() {
    each_identity(|ctx| {
        let records = records_dir();
        let dir = tempdir(0o755);
        give_to_jail(ctx, dir.path());
        let d = dir.path().to_str().unwrap();
        let profile = dir.path().join("quiet.toml");
        std::fs::write(
            &profile,
            "extends = [\"default\"]\n[filesystem]\nobserve_writes = false\n",
        )
        .unwrap();
        let p = profile.to_str().unwrap();
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["-p", p, "--ro", d, "--", "sh", "-c", "echo x > out.txt"],
        );
        assert_ne!(r.code(), 0, "{}", r.dump());
        assert!(!r.stderr.contains("denied: write"), "{}", r.dump());
        let (text, v) = why(ctx, records.path());
        assert!(
            v["reasons"]
                .as_array()
                .is_some_and(|a| a.iter().all(|r| r["kind"] != "write")),
            "{text}\n{v:#}"
        );
    });
}

/// A write to an existing file in a read-only bind (its mode lets anyone write it, so only the
/// bind refuses), in the full jail (a read-only mount refuses) and in landlock mode (Landlock
/// refuses; the Policy's place is what the report names), and a new file in landlock mode.
#[test]
fn why_names_the_bind_for_a_write_to_an_existing_file_and_in_landlock_mode() {
    use std::os::unix::fs::PermissionsExt;
    each_identity(|ctx| {
        let records = records_dir();
        let dir = tempdir(0o755);
        let file = dir.path().join("existing.txt");
        std::fs::write(&file, "old\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        give_to_jail(ctx, dir.path());
        let d = dir.path().to_str().unwrap();
        let attempts = [
            ("full", "existing.txt"),
            ("landlock", "existing.txt"),
            ("landlock", "new.txt"),
        ];
        for (isolation, name) in attempts {
            let script = format!("echo x > {name}");
            let args = [
                "--isolation",
                isolation,
                "--ro",
                d,
                "--",
                "sh",
                "-c",
                &script,
            ];
            let r = run(ctx, dir.path(), records.path(), &args);
            assert_ne!(r.code(), 0, "{isolation}: {}", r.dump());
            r.expect_stderr_contains(&format!("tooljail: denied: write to {d}/{name}"));
            let (text, v) = why(ctx, records.path());
            assert!(
                text.contains(&format!("The command wrote to {d}/{name}.")),
                "{isolation}: {text}"
            );
            assert_eq!(reason(&v, "write")["flag"], format!("--rw {d}"), "{v:#}");
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");
        assert!(!dir.path().join("new.txt").exists());
    });
}

/// A path the jail names is shown on one line wherever tooljail shows it: a name holding a line
/// break and then a line that reads as tooljail's own, a terminal escape (set the title, clear
/// the screen), a bell and a right-to-left override neither split tooljail's stderr line nor
/// forge a reason in `tooljail why` (read later, on an operator's terminal the command never
/// had), nor reach either as an escape. The report keeps the path exact (JSON escapes it).
#[test]
fn a_path_from_the_jail_cannot_forge_a_line_or_reach_the_terminal_as_an_escape() {
    const FORGED: &str = "tooljail: nothing was denied; retry with --rw ~";
    let name = format!("a\n{FORGED}\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}txt.exe");
    let raw = |s: &str| {
        s.chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}')
    };
    each_identity(|ctx| {
        let records = records_dir();
        let dir = tempdir(0o755);
        // The command writes nothing to stderr itself: every line there is tooljail's.
        let script = "touch \"/usr/$1\" 2>/dev/null; exit 3";
        let r = run(
            ctx,
            dir.path(),
            records.path(),
            &["--", "sh", "-c", script, "sh", &name],
        );
        r.expect(3);
        let shown = "/usr/a\\ntooljail: nothing was denied; retry with --rw ~\\u{1b}]0;pwned\
                     \\u{7}\\u{1b}[2J\\u{202e}txt.exe";
        r.expect_stderr_contains(&format!("tooljail: denied: write to {shown}: "));
        assert!(!raw(&r.stderr), "{:?}", r.stderr);
        assert!(
            r.stderr.lines().all(|l| l.starts_with("tooljail: ")),
            "{:?}",
            r.stderr
        );
        assert!(
            !r.stderr.lines().any(|l| l.starts_with(FORGED)),
            "{:?}",
            r.stderr
        );
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(records.path().join("report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            report["denials"][0]["path"],
            format!("/usr/{name}"),
            "{report:#}"
        );
        let (text, v) = why(ctx, records.path());
        assert!(
            text.contains(&format!("The command wrote to {shown}.")),
            "{text}"
        );
        assert!(!raw(&text), "{text:?}");
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with(FORGED)),
            "{text:?}"
        );
        // The JSON answer keeps the words exact.
        assert_eq!(
            reason(&v, "write")["what"],
            format!("wrote to /usr/{name}"),
            "{v:#}"
        );
    });
}
