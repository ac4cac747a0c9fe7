//! `[command]` allow and deny with real git: a command line the rules refuse runs nothing
//! (outcome `refused`, exit 125, `stopped_by.kind` `command_rule` with the rule and its line, an
//! audit record); argv[0] is resolved in the jail's PATH, so a `git` in the working directory is
//! not the jail's git. As root and as the unprivileged test user.

use crate::profiles_git::{host_git, test_repo};
use crate::support::profiles::{give_to_jail, TOOL_TIMEOUT};
use crate::support::{each_identity, profile_file, records_dir, run_for, Ctx, Run};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const RULES: &str = r#"extends = ["git-rw"]

[command]
allow = ["git status*", "git log*", "git diff*"]
deny = ["git push*", "* --upload-pack*"]
"#;

/// One call under `profile` in `repo`: its run, its report and the last audit record.
fn call(ctx: &Ctx, repo: &Path, profile: &Path, argv: &[&str]) -> (Run, Value, Value) {
    let out = records_dir();
    let report = out.path().join("report.json");
    let audit = out.path().join("audit.jsonl");
    let mut args = vec![
        "run".to_string(),
        "-p".into(),
        profile.display().to_string(),
        "--report".into(),
        report.display().to_string(),
        "--audit-log".into(),
        audit.display().to_string(),
        "--".into(),
    ];
    args.extend(argv.iter().map(|s| s.to_string()));
    let mut cmd = ctx.tooljail(&args);
    cmd.current_dir(repo)
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.invalid")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.invalid");
    let run = run_for(cmd, TOOL_TIMEOUT);
    let text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let rep = serde_json::from_str(&text(&report)).unwrap_or(Value::Null);
    let rec = text(&audit)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (run, rep, rec)
}

#[track_caller]
fn refused(run: &Run, report: &Value, record: &Value, rule: &str, origin_line: &str) {
    run.expect(125);
    for r in [report, record] {
        assert_eq!(r["outcome"], "refused", "{}\n{r:#}", run.dump());
        assert_eq!(r["stopped_by"]["kind"], "command_rule", "{r:#}");
        assert_eq!(r["stopped_by"]["name"], rule, "{r:#}");
        assert_eq!(r["exit_status"], 125, "{r:#}");
        assert_eq!(r["error"]["kind"], "refused", "{r:#}");
    }
    assert!(
        report["error"]["where"]
            .as_str()
            .is_some_and(|w| w.contains(origin_line)),
        "the refusal names the rule's line {origin_line}: {report:#}"
    );
    assert!(run.stderr.contains("[command]"), "{}", run.dump());
}

#[test]
fn allowed_git_runs_and_refused_git_runs_nothing() {
    let (_pdir, profile) = profile_file(RULES);
    each_identity(|ctx| {
        let repo = test_repo();
        give_to_jail(ctx, repo.path());
        // A program named git in the working directory, which would leave a mark.
        let fake = repo.path().join("git");
        std::fs::write(&fake, "#!/bin/sh\necho FAKE_GIT_RAN\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let head = host_git(repo.path(), &["rev-parse", "HEAD"]);

        let (run, report, _) = call(ctx, repo.path(), &profile, &["git", "log", "--format=%s"]);
        run.expect(0)
            .expect_stdout_contains("second commit\nfirst commit\n");
        assert_eq!(report["outcome"], "exited", "{report:#}");

        // deny: the rule that matched, with its line (deny is line 5 of the profile).
        let (run, report, record) = call(
            ctx,
            repo.path(),
            &profile,
            &["git", "push", "-q", "file:///nowhere", "main"],
        );
        refused(&run, &report, &record, "git push*", ":5:");
        // A deny rule wins over an allow rule that matches too.
        let (run, report, record) = call(
            ctx,
            repo.path(),
            &profile,
            &["git", "log", "--upload-pack=touch /tmp/x"],
        );
        refused(&run, &report, &record, "* --upload-pack*", ":5:");
        // Not in allow: nothing ran, so nothing was committed.
        let (run, report, record) =
            call(ctx, repo.path(), &profile, &["git", "commit", "-qam", "no"]);
        refused(&run, &report, &record, "allow", ":4:");
        // The working directory's git is not the jail's git, and a shell is no way round.
        let (run, report, record) = call(ctx, repo.path(), &profile, &["./git", "status"]);
        refused(&run, &report, &record, "allow", ":4:");
        assert!(!run.stdout.contains("FAKE_GIT_RAN"), "{}", run.dump());
        let (run, report, record) = call(
            ctx,
            repo.path(),
            &profile,
            &["sh", "-c", "git commit -qam no"],
        );
        refused(&run, &report, &record, "allow", ":4:");
        assert_eq!(host_git(repo.path(), &["rev-parse", "HEAD"]), head);
    });
}

#[test]
fn a_bad_rule_is_an_error_with_its_position() {
    let (_pdir, profile) =
        profile_file("extends = [\"git\"]\n\n[command]\nallow = [\"git [status\"]\n");
    each_identity(|ctx| {
        let repo = test_repo();
        let (run, _, _) = call(ctx, repo.path(), &profile, &["git", "status"]);
        run.expect(125)
            .expect_stderr_contains("test-profile.toml:4:10: [command] allow rule \"git [status\"");
    });
}
