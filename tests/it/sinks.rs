//! The report and audit sinks cannot be turned against the caller: `--report FILE`,
//! `--audit-log FILE` and a profile's `[audit] log` refuse a symbolic link, a hard link, a
//! non-regular file and a file owned by another user (the target stays untouched, exit 125);
//! a named audit log's directory is never created; `-` and `fd:N` are unaffected; a setuid or
//! setgid tooljail refuses to run at all.

use crate::support::{each_identity, identities, profile_file, run, tempdir, through, Ctx, Who};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const PRECIOUS: &str = "precious configuration\n";

/// The unprivileged test user `(uid, gid)` when the tests run as root.
fn test_user() -> Option<(u32, u32)> {
    identities().into_iter().find_map(|c| match c.who {
        Who::User { uid, gid, .. } => Some((uid, gid)),
        _ => None,
    })
}

fn caller_uid(ctx: &Ctx) -> u32 {
    match &ctx.who {
        Who::Root => 0,
        Who::User { uid, .. } | Who::Current { uid } => *uid,
    }
}

/// Another user than `ctx`'s caller and than root, to own or plant files: the test user for
/// root, an unused uid for the test user. `None` when the tests do not run as root (no chown).
fn other_uid(ctx: &Ctx) -> Option<u32> {
    match &ctx.who {
        Who::Root => test_user().map(|(uid, _)| uid),
        Who::User { uid, .. } => Some(if *uid == 65533 { 65532 } else { 65533 }),
        Who::Current { .. } => None,
    }
}

fn chown(path: &Path, uid: u32, link: bool) {
    let uid = Some(nix::unistd::Uid::from_raw(uid));
    if link {
        std::os::unix::fs::lchown(path, uid.map(|u| u.as_raw()), None).unwrap();
    } else {
        nix::unistd::chown(path, uid, None).unwrap();
    }
}

/// A victim file `ctx`'s caller can write, holding [`PRECIOUS`], in a directory only its owner
/// enters: what an attacker would like tooljail to overwrite.
fn victim(ctx: &Ctx) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir(0o700);
    let path = dir.path().join("victim.conf");
    std::fs::write(&path, PRECIOUS).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    if let Who::User { uid, .. } = ctx.who {
        chown(dir.path(), uid, false);
        chown(&path, uid, false);
    }
    (dir, path)
}

/// A sticky, world-writable directory like /tmp.
fn sticky_dir() -> tempfile::TempDir {
    tempdir(0o1777)
}

/// `ln -s target link`, done by another user than `ctx`'s caller when the tests run as root
/// (the test user for root; root for the test user), else by the current user.
fn plant_symlink(ctx: &Ctx, target: &Path, link: &Path) {
    match (&ctx.who, test_user()) {
        (Who::Root, Some((uid, gid))) => {
            let r = run({
                let mut c = Command::new("setpriv");
                c.args([
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--init-groups".into(),
                    "--".into(),
                    "ln".into(),
                    "-s".into(),
                ])
                .arg(target)
                .arg(link);
                c
            });
            r.expect(0);
            assert_eq!(std::fs::symlink_metadata(link).unwrap().uid(), uid);
        }
        _ => std::os::unix::fs::symlink(target, link).unwrap(),
    }
}

/// A safe audit log for runs whose point is the report (so root's default log is not used).
fn spare_log() -> (tempfile::TempDir, String) {
    let dir = tempdir(0o1777);
    let path = dir.path().join("spare.jsonl").to_str().unwrap().to_owned();
    (dir, path)
}

fn tooljail(ctx: &Ctx, args: &[&str]) -> crate::support::Run {
    run(ctx.tooljail(args))
}

#[test]
fn a_symlinked_report_or_audit_log_is_refused_and_its_target_untouched() {
    each_identity(|ctx| {
        let (_v, victim) = victim(ctx);
        let dir = sticky_dir();
        let (_s, spare) = spare_log();

        // The review's repro: `ln -s /root/victim.conf /tmp/orch-report.json` by another user.
        let link = dir.path().join("orch-report.json");
        plant_symlink(ctx, &victim, &link);
        let r = tooljail(
            ctx,
            &[
                "--audit-log",
                &spare,
                "--report",
                link.to_str().unwrap(),
                "--",
                "true",
            ],
        );
        r.expect(125).expect_stderr_contains("symbolic link");
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), PRECIOUS);

        // The same for the audit log, named on the command line and by a profile.
        let log_link = dir.path().join("audit.jsonl");
        plant_symlink(ctx, &victim, &log_link);
        let log = log_link.to_str().unwrap();
        let r = tooljail(ctx, &["--audit-log", log, "--", "true"]);
        r.expect(125).expect_stderr_contains("symbolic link");
        let (_p, profile) = profile_file(&format!(
            "extends = [\"default\"]\n[audit]\nenabled = true\nlog = \"{log}\"\n"
        ));
        let r = tooljail(ctx, &["-p", profile.to_str().unwrap(), "--", "true"]);
        r.expect(125).expect_stderr_contains("symbolic link");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), PRECIOUS);
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    });
}

#[test]
fn a_hard_link_to_the_callers_file_is_refused() {
    each_identity(|ctx| {
        let (_v, victim) = victim(ctx);
        // Same file system as the victim (both under the temp dir), as a hard link needs.
        let dir = sticky_dir();
        let link = dir.path().join("r.json");
        std::fs::hard_link(&victim, &link).unwrap();
        let (_s, spare) = spare_log();
        for flag in ["--report", "--audit-log"] {
            let mut args = vec![flag, link.to_str().unwrap()];
            if flag == "--report" {
                args.extend(["--audit-log", &spare]);
            }
            args.extend(["--", "true"]);
            tooljail(ctx, &args)
                .expect(125)
                .expect_stderr_contains("hard links");
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), PRECIOUS);
        }
    });
}

#[test]
fn a_file_another_user_owns_is_refused() {
    each_identity(|ctx| {
        let Some(other) = other_uid(ctx) else {
            crate::support::skip("not-root", "no file of another user can be made");
            return;
        };
        let dir = sticky_dir();
        let (_s, spare) = spare_log();
        for flag in ["--report", "--audit-log"] {
            // Pre-created by the attacker, writable by everyone: it would keep the report and
            // could rewrite it before the orchestrator reads it.
            let planted = dir.path().join(format!("planted{flag}"));
            std::fs::write(&planted, "forged\n").unwrap();
            std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
            chown(&planted, other, false);
            let mut args = vec![flag, planted.to_str().unwrap()];
            if flag == "--report" {
                args.extend(["--audit-log", &spare]);
            }
            args.extend(["--", "true"]);
            let r = tooljail(ctx, &args);
            r.expect(125)
                .expect_stderr_contains(&format!("owned by uid {other}"))
                .expect_stderr_contains("remove it");
            assert_eq!(std::fs::read_to_string(&planted).unwrap(), "forged\n");
        }
        // Not a regular file: a FIFO is refused without blocking on it.
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
        let r = tooljail(
            ctx,
            &[
                "--audit-log",
                &spare,
                "--report",
                fifo.to_str().unwrap(),
                "--",
                "true",
            ],
        );
        r.expect(125).expect_stderr_contains("not a regular file");
        // The null device is the exception: it discards.
        tooljail(
            ctx,
            &[
                "--audit-log",
                "/dev/null",
                "--report",
                "/dev/null",
                "--",
                "true",
            ],
        )
        .expect(0);
    });
}

#[test]
fn own_files_still_work_created_truncated_and_appended() {
    each_identity(|ctx| {
        let dir = sticky_dir();
        let report = dir.path().join("r.json");
        let log = dir.path().join("a.jsonl");
        let (r_s, l_s) = (report.to_str().unwrap(), log.to_str().unwrap());
        // Created: the caller's, 0600.
        tooljail(ctx, &["--report", r_s, "--audit-log", l_s, "--", "true"]).expect(0);
        for path in [&report, &log] {
            let meta = std::fs::symlink_metadata(path).unwrap();
            assert_eq!(meta.uid(), caller_uid(ctx), "{}", path.display());
            assert_eq!(meta.mode() & 0o7777, 0o600, "{}", path.display());
        }
        // Reused: the report is emptied first (a longer old content leaves nothing behind),
        // the log keeps its lines.
        std::fs::write(&report, "x".repeat(64 * 1024)).unwrap();
        if let Who::User { uid, .. } = ctx.who {
            chown(&report, uid, false);
        }
        tooljail(
            ctx,
            &[
                "--report",
                r_s,
                "--audit-log",
                l_s,
                "--",
                "sh",
                "-c",
                "exit 3",
            ],
        )
        .expect(3);
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(doc["exit_code"], 3);
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    });
}

#[test]
fn a_named_audit_log_gets_no_directory_but_the_default_one_does() {
    each_identity(|ctx| {
        let base = tempdir(0o1777);
        let missing = base.path().join("no/such/dir");
        let log = missing.join("audit.jsonl");
        let r = tooljail(ctx, &["--audit-log", log.to_str().unwrap(), "--", "true"]);
        r.expect(125)
            .expect_stderr_contains("cannot open")
            .expect_stderr_contains("existing directory");
        let (_p, profile) = profile_file(&format!(
            "extends = [\"default\"]\n[audit]\nenabled = true\nlog = \"{}\"\n",
            log.display()
        ));
        tooljail(ctx, &["-p", profile.to_str().unwrap(), "--", "true"]).expect(125);
        assert!(!base.path().join("no").exists());

        // The default location of an unprivileged caller is still created.
        if ctx.is_root() {
            return;
        }
        let state = tempdir(0o755);
        if let Who::User { uid, .. } = ctx.who {
            chown(state.path(), uid, false);
        }
        let mut cmd = ctx.tooljail(["--", "true"]);
        cmd.env("XDG_STATE_HOME", state.path());
        run(cmd).expect(0);
        let default = state.path().join("tooljail/audit.jsonl");
        assert_eq!(
            std::fs::read_to_string(&default).unwrap().lines().count(),
            1
        );
    });
}

#[test]
fn stdout_and_inherited_descriptors_are_not_checked() {
    each_identity(|ctx| {
        let (_s, spare) = spare_log();
        let r = tooljail(ctx, &["--audit-log", &spare, "--report", "-", "--", "true"]);
        r.expect(0);
        let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(doc["outcome"], "exited");

        // fd:3 on a file another user owns (opened by the shell that starts tooljail): the
        // caller handed the descriptor over, so it is used as is.
        let dir = tempdir(0o755);
        let out = dir.path().join("fd3.json");
        std::fs::write(&out, "").unwrap();
        if let Some(other) = other_uid(ctx) {
            chown(&out, other, false);
        }
        let inner = ctx.tooljail(["--audit-log", &spare, "--report", "fd:3", "--", "true"]);
        let out_arg = out.to_str().unwrap();
        let fd3 = [
            "sh",
            "-c",
            "f=$1; shift; exec \"$@\" 3>\"$f\"",
            "sh",
            out_arg,
        ];
        run(through(&fd3, &inner)).expect(0);
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(doc["outcome"], "exited");
    });
}

#[test]
fn a_setuid_or_setgid_tooljail_refuses_to_run() {
    crate::support::init();
    let (true, Some((uid, gid))) = (nix::unistd::geteuid().is_root(), test_user()) else {
        crate::support::skip("not-root", "cannot install a setuid copy of tooljail");
        return;
    };
    let dir = tempdir(0o755);
    let bin = dir.path().join("tooljail");
    crate::support::copy_executable(&crate::support::binary(), &bin, 0o755);
    let out = tempdir(0o1777);
    for mode in [0o4755, 0o2755] {
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(mode)).unwrap();
        let report = out.path().join(format!("r{mode:o}.json"));
        let log = out.path().join(format!("a{mode:o}.jsonl"));
        let mut cmd = Command::new("setpriv");
        cmd.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--init-groups".into(),
            "--".into(),
        ])
        .arg(&bin)
        .arg("--report")
        .arg(&report)
        .arg("--audit-log")
        .arg(&log)
        .args(["--", "true"]);
        let r = run(cmd);
        r.expect(125)
            .expect_stderr_contains("must not be setuid/setgid")
            .expect_stderr_contains(&format!("chmod u-s,g-s {}", bin.display()));
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
        assert!(!report.exists() && !log.exists(), "a sink was opened");
    }
}

/// A directory only `ctx`'s caller can enter and write (0700, theirs).
fn own_dir(ctx: &Ctx) -> tempfile::TempDir {
    let dir = tempdir(0o700);
    if let Who::User { uid, .. } = ctx.who {
        chown(dir.path(), uid, false);
    }
    dir
}

/// Issue 13 item 2: a symbolic link in a directory component of the report or audit path (not
/// only the last one) is refused: the files land nowhere, the command never runs.
#[test]
fn a_symlink_in_a_parent_directory_is_refused() {
    each_identity(|ctx| {
        let target = own_dir(ctx);
        let dir = sticky_dir();
        let (_s, spare) = spare_log();
        let marker = crate::support::records_dir();
        let ran = marker.path().join("ran");
        // `ln -s TARGET DIR/logs` by another user: DIR/logs/r.json would be TARGET/r.json.
        let link = dir.path().join("logs");
        plant_symlink(ctx, target.path(), &link);
        let touch = format!("touch {}", ran.display());
        for args in [
            vec!["--report", "LINK/r.json", "--audit-log", &spare],
            vec!["--audit-log", "LINK/r.json"],
        ] {
            let via = link.join("r.json");
            let args: Vec<&str> = args
                .iter()
                .map(|a| {
                    if *a == "LINK/r.json" {
                        via.to_str().unwrap()
                    } else {
                        a
                    }
                })
                .collect();
            let mut all = args.clone();
            all.extend([
                "--rw",
                marker.path().to_str().unwrap(),
                "--",
                "sh",
                "-c",
                &touch,
            ]);
            let r = tooljail(ctx, &all);
            r.expect(125)
                .expect_stderr_contains(&format!("{} is a symbolic link", link.display()));
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.dump());
            assert!(!ran.exists(), "the command ran\n{}", r.dump());
            assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
        }
        // The same path through the real directory is accepted (the control).
        let real = target.path().join("r.json");
        let m = marker.path().to_str().unwrap();
        tooljail(
            ctx,
            &[
                "--report",
                real.to_str().unwrap(),
                "--audit-log",
                &spare,
                "--rw",
                m,
                "--",
                "sh",
                "-c",
                &touch,
            ],
        )
        .expect(0);
        assert!(ran.exists());
    });
}

/// Issue 13 item 2: a directory on the way that others can write (without the sticky bit that
/// keeps them from replacing the caller's entries) is refused, as the last directory and as
/// an ancestor; the caller's own 0700 directory and a sticky one are accepted.
#[test]
fn a_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    each_identity(|ctx| {
        let (_s, spare) = spare_log();
        let open = own_dir(ctx);
        let sub = open.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        if let Who::User { uid, .. } = ctx.who {
            chown(&sub, uid, false);
        }
        let set = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for (dir_mode, sub_mode, bad, by) in [
            (0o777, 0o700, open.path(), "anyone"),
            (0o770, 0o700, open.path(), "its group"),
            (0o700, 0o777, sub.as_path(), "anyone"),
        ] {
            set(open.path(), dir_mode);
            set(&sub, sub_mode);
            let report = sub.join("r.json");
            for args in [
                ["--report", report.to_str().unwrap(), "--audit-log", &spare],
                ["--audit-log", report.to_str().unwrap(), "--report", "-"],
            ] {
                let mut all = args.to_vec();
                all.extend(["--", "true"]);
                let r = tooljail(ctx, &all);
                r.expect(125)
                    .expect_stderr_contains(&format!("{} is writable by {by}", bad.display()))
                    .expect_stderr_contains("chmod go-w");
                assert!(!report.exists(), "{}", r.dump());
            }
        }
        // Controls: the caller's own 0700 directories, then a sticky world-writable one.
        set(open.path(), 0o700);
        set(&sub, 0o700);
        let report = sub.join("r.json");
        let r_s = report.to_str().unwrap();
        tooljail(ctx, &["--report", r_s, "--audit-log", &spare, "--", "true"]).expect(0);
        assert!(report.exists());
        set(&sub, 0o1777);
        tooljail(ctx, &["--report", r_s, "--audit-log", &spare, "--", "true"]).expect(0);
    });
}

/// Issue 13 item 2: the default audit log's directories are created the same way: a symbolic
/// link planted below the state directory (as a jail given the caller's home could plant it)
/// is not followed (the run warns that it has no audit record, nothing lands at the link's
/// target); a state directory that is itself reached through a link (`/home -> var/home`) is
/// the caller's own way in and works.
#[test]
fn the_default_audit_directory_is_not_created_through_a_symlink() {
    each_identity(|ctx| {
        if ctx.is_root() {
            return; // root's default log is /var/log/tooljail, not under XDG_STATE_HOME
        }
        let target = own_dir(ctx);
        let base = own_dir(ctx);
        let planted = base.path().join("tooljail");
        std::os::unix::fs::symlink(target.path(), &planted).unwrap();
        let mut cmd = ctx.tooljail(["--", "true"]);
        cmd.env("XDG_STATE_HOME", base.path());
        let r = run(cmd);
        r.expect(0)
            .expect_stderr_contains("default audit log is unusable")
            .expect_stderr_contains("symbolic link");
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);

        // The control: XDG_STATE_HOME itself a link to a real directory.
        std::fs::remove_file(&planted).unwrap();
        let link = target.path().join("state");
        std::os::unix::fs::symlink(base.path(), &link).unwrap();
        let mut cmd = ctx.tooljail(["--", "true"]);
        cmd.env("XDG_STATE_HOME", &link);
        let r = run(cmd);
        r.expect(0);
        assert!(!r.stderr.contains("unusable"), "{}", r.dump());
        assert!(base.path().join("tooljail/audit.jsonl").exists());
    });
}

/// Issue 13 item 3: the report replaces the file all at once after the command is gone (the
/// command, given the directory read-only, still sees the old report; the file afterwards is a
/// new inode, whole; no temporary file is left), in both isolation modes. Root's is renamed by
/// the helper that stays root (the supervisor is the jail's user by then).
#[test]
fn the_report_is_replaced_whole_after_the_command() {
    each_identity(|ctx| {
        let (_s, spare) = spare_log();
        let dir = own_dir(ctx);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let report = dir.path().join("r.json");
        std::fs::write(&report, "old report\n").unwrap();
        if let Who::User { uid, .. } = ctx.who {
            chown(&report, uid, false);
        }
        for isolation in ["full", "landlock"] {
            if isolation == "landlock" {
                std::fs::write(&report, "old report\n").unwrap();
                if let Who::User { uid, .. } = ctx.who {
                    chown(&report, uid, false);
                }
            }
            let before = std::fs::metadata(&report).unwrap().ino();
            let (d, r) = (dir.path().to_str().unwrap(), report.to_str().unwrap());
            let mut args = vec!["--report", r, "--audit-log", &spare, "--ro", d];
            args.extend(["--isolation", isolation, "--", "cat", r]);
            let run = tooljail(ctx, &args);
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
            assert_eq!(doc["outcome"], "exited", "{}", run.dump());
            let names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["r.json"], "a temporary file is left");
            let after = std::fs::metadata(&report).unwrap();
            assert_ne!(
                after.ino(),
                before,
                "{isolation}: not replaced\n{}",
                run.dump()
            );
            assert_eq!(after.uid(), caller_uid(ctx));
            assert_eq!(after.mode() & 0o7777, 0o600);
            // Root's file is not readable by the jail's nobody; the caller's own is.
            if !ctx.is_root() {
                run.expect(0);
                assert_eq!(run.stdout, "old report\n", "{}", run.dump());
            }
        }
    });
}

#[test]
fn a_closed_stdin_or_stdout_is_dev_null_never_a_file_tooljail_opens() {
    // Started with descriptors 0 and 1 closed, tooljail puts /dev/null in their place before
    // it opens anything: else its audit log (or the uid lease's lock) would take descriptor 1
    // and become the command's stdout.
    each_identity(|ctx| {
        let (_dir, log) = spare_log();
        let cmd = ctx.tooljail([
            "run",
            "--audit-log",
            log.as_str(),
            "--",
            "sh",
            "-c",
            "readlink /proc/self/fd/0 >&2; echo $((6 * 7))x",
        ]);
        let closed = ["sh", "-c", "exec \"$@\" <&- >&-", "sh"];
        let r = run(through(&closed, &cmd));
        r.expect(0);
        assert_eq!(r.stderr.trim(), "/dev/null", "{}", r.dump());
        let audit = std::fs::read_to_string(&log).unwrap();
        assert!(!audit.contains("42x"), "{audit}");
        for line in audit.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("an audit record");
        }
    });
}
