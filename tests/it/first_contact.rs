//! What a new user meets first (a forgotten `--` gets the fixed command line, `check` shows
//! every error of a profile in one run, the manual is in the binary), and the host-side checks
//! a caller relies on without seeing them (the home guard, records outside writable binds,
//! profiles only from trusted places).

use crate::support::{run, tempdir};
use std::process::Command;

fn tooljail(args: &[&str]) -> crate::support::Run {
    let mut c = Command::new(crate::support::binary());
    c.args(args);
    run(c)
}

#[test]
fn a_forgotten_separator_is_named_with_the_fix() {
    let r = tooljail(&["--timeout", "5s", "ls", "-l"]);
    r.expect(125);
    assert_eq!(
        r.stderr.trim(),
        "tooljail: \"ls\" is not a tooljail subcommand; to run it in a jail, put the command \
         after `--`: tooljail --timeout 5s -- ls -l",
        "{}",
        r.dump()
    );
    // The control: an unknown flag is still clap's error, not this hint.
    let r = tooljail(&["--bogus"]);
    r.expect(125);
    assert!(
        !r.stderr.contains("not a tooljail subcommand"),
        "{}",
        r.dump()
    );
}

#[test]
fn check_prints_three_structural_and_two_semantic_errors_in_one_run() {
    let dir = tempdir(0o755);
    let p = dir.path().join("typos.toml");
    std::fs::write(
        &p,
        "extends = [\"default\"]\nhostnme = \"x\"\n[filesystem]\nrw_paths = [\"/tmp\"]\nread_only = [\"/no/such/tooljail-path\"]\n[limits]\nmemory = \"lots\"\nprocesess = 4\n",
    )
    .unwrap();
    let path = p.to_str().unwrap();
    let r = tooljail(&["check", path]);
    r.expect(125);
    let lines: Vec<String> = r
        .stderr
        .lines()
        .map(|l| l.replace(path, "typos.toml"))
        .collect();
    assert_eq!(
        lines,
        [
            "tooljail: typos.toml:2:1: unknown key \"hostnme\" in the top level; did you mean \"hostname\"?",
            "tooljail: typos.toml:4:1: unknown key \"rw_paths\" in [filesystem]; did you mean \"read_write\"?",
            "tooljail: typos.toml:5:14: path \"/no/such/tooljail-path\" does not exist; create it, remove it from the profile, or mark it optional with a trailing \"?\"",
            "tooljail: typos.toml:7:10: invalid size \"lots\"; expected a number of bytes, optionally with a unit: 1048576, 64K, 512M, 2G",
            "tooljail: typos.toml:8:1: unknown key \"procesess\" in [limits]; did you mean \"processes\"?",
        ],
        "{}",
        r.dump()
    );
}

#[test]
fn an_unreachable_bind_names_the_jails_uid_on_the_host() {
    crate::support::each_identity(|ctx| {
        // A directory inside one only root may enter.
        let outer = tempdir(0o700);
        let inner = outer.path().join("project");
        std::fs::create_dir(&inner).unwrap();
        let audit = crate::support::records_dir();
        let r = run(ctx.tooljail([
            "run",
            "--audit-log",
            audit.path().join("a.jsonl").to_str().unwrap(),
            "--ro",
            inner.to_str().unwrap(),
            "--",
            "true",
        ]));
        if ctx.is_root() {
            // Root resolves the path itself; the jail (its transient uid) cannot reach it.
            r.expect(125);
            r.expect_stderr_contains("the jail runs as uid 21");
            r.expect_stderr_contains("on the host, which cannot reach");
        } else {
            // The caller cannot even resolve it: refused before the jail exists.
            r.expect(125);
            assert!(!r.stderr.contains("uid 0"), "{}", r.dump());
        }
    });
}

#[test]
fn the_manual_is_in_the_binary() {
    // Through man(1) (tests/setup.sh installs man-db): formatted text.
    let r = tooljail(&["man", "run"]);
    r.expect(0);
    r.expect_stdout_contains("tooljail-run - Run CMD in a jail built from the profile(s)");
    let r = tooljail(&["man", "profile"]);
    r.expect(0);
    r.expect_stdout_contains("TOOLJAIL-PROFILE(5)");
    // The roff source, as committed in man/.
    let r = tooljail(&["man", "--raw", "check"]);
    r.expect(0);
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/tooljail-check.1"),
    )
    .unwrap();
    assert_eq!(r.stdout, committed);
    let r = tooljail(&["man", "nope"]);
    r.expect(125);
    r.expect_stderr_contains("no manual page \"nope\"; the pages are: tooljail, run,");
}

/// Issue 13's home guard: `env -u HOME` (or a HOME elsewhere) does not let a `${CWD}` profile
/// expose the caller's real home; the control is the same run from a project directory.
#[test]
fn the_home_guard_does_not_trust_home_in_the_environment() {
    crate::support::each_identity(|ctx| {
        let home = match &ctx.who {
            crate::support::Who::Root => std::path::PathBuf::from("/root"),
            _ => {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(ctx.own_uid()))
                    .unwrap()
                    .unwrap()
                    .dir
            }
        };
        let audit = crate::support::records_dir();
        let log = audit.path().join("a.jsonl");
        for home_env in [None, Some("/tmp")] {
            let mut c = ctx.tooljail([
                "run",
                "--audit-log",
                log.to_str().unwrap(),
                "-p",
                "python",
                "--",
                "true",
            ]);
            c.current_dir(&home);
            match home_env {
                None => c.env_remove("HOME"),
                Some(h) => c.env("HOME", h),
            };
            let r = run(c);
            r.expect(125);
            r.expect_stderr_contains("which would expose your home directory");
        }
        // The control: a directory that is not the home runs.
        let project = tempdir(0o755);
        let mut c = ctx.tooljail([
            "run",
            "--audit-log",
            log.to_str().unwrap(),
            "-p",
            "python",
            "--",
            "true",
        ]);
        c.current_dir(project.path()).env_remove("HOME");
        run(c).expect(0);
    });
}

/// Issue 13: a report or audit log the command could replace after the fact is refused before
/// anything runs; the same run with the records outside the writable bind passes.
#[test]
fn records_inside_a_writable_bind_are_refused() {
    crate::support::each_identity(|ctx| {
        let work = crate::support::records_dir();
        let outside = crate::support::records_dir();
        let w = work.path().to_str().unwrap();
        let inside_report = work.path().join("report.json");
        let inside_audit = work.path().join("logs/audit.jsonl");
        let out_report = outside.path().join("report.json");
        let out_audit = outside.path().join("audit.jsonl");
        for (report, audit, what) in [
            (&inside_report, &out_audit, "--report"),
            (&out_report, &inside_audit, "the audit log"),
        ] {
            let r = run(ctx.tooljail([
                "run",
                "--rw",
                w,
                "--report",
                report.to_str().unwrap(),
                "--audit-log",
                audit.to_str().unwrap(),
                "--",
                "touch",
                &format!("{w}/ran"),
            ]));
            r.expect(125);
            r.expect_stderr_contains(&format!("{what} "));
            r.expect_stderr_contains("which the jail can write");
            assert!(
                !work.path().join("ran").exists(),
                "the command ran\n{}",
                r.dump()
            );
        }
        // The control: both records outside the bind.
        let r = run(ctx.tooljail([
            "run",
            "--rw",
            w,
            "--report",
            out_report.to_str().unwrap(),
            "--audit-log",
            out_audit.to_str().unwrap(),
            "--",
            "touch",
            &format!("{w}/ran"),
        ]));
        r.expect(0);
        assert!(work.path().join("ran").exists());
    });
}

/// Issue 13: a `default.toml` planted on the search path by someone other than the caller (or
/// root) is refused instead of shadowing the shipped profile; the caller's own file is used,
/// and said on stderr every time.
#[test]
fn a_planted_profile_on_the_search_path_is_not_used() {
    crate::support::each_identity(|ctx| {
        let config = tempdir(0o755);
        let dir = config.path().join("tooljail/profiles");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("default.toml");
        std::fs::write(
            &file,
            "extends = [\"builtin:default\"]\nhostname = \"planted\"\n",
        )
        .unwrap();
        let audit = crate::support::records_dir();
        let attempt = |owner: u32| {
            nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(owner)), None).unwrap();
            let mut c = ctx.tooljail([
                "run",
                "--audit-log",
                audit.path().join("a.jsonl").to_str().unwrap(),
                "--",
                "hostname",
            ]);
            c.env("XDG_CONFIG_HOME", config.path());
            run(c)
        };
        // Another user's file (nobody's; for root, any non-root owner): refused, nothing runs.
        let stranger = 65534;
        let r = attempt(stranger);
        r.expect(125);
        r.expect_stderr_contains(&format!("is owned by uid {stranger}"));
        r.expect_stderr_contains("is not trusted");
        // The control: the caller's own file (root's for root) is used, and said.
        let own = ctx.own_uid();
        let r = attempt(own);
        r.expect(0);
        r.expect_stdout_contains("planted");
        r.expect_stderr_contains("not the shipped one (`-p builtin:default` names that)");
    });
}

/// An installed copy of a shipped profile (the .deb's /usr/share/tooljail/profiles) is not
/// "taking its place": no warning. The control is the test above (other contents: warned).
#[test]
fn an_installed_copy_of_a_shipped_profile_is_not_a_shadow() {
    let config = tempdir(0o755);
    let dir = config.path().join("tooljail/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/default.toml"),
        dir.join("default.toml"),
    )
    .unwrap();
    let audit = crate::support::records_dir();
    let mut c = Command::new(crate::support::binary());
    c.args([
        "run",
        "--audit-log",
        audit.path().join("a.jsonl").to_str().unwrap(),
        "--",
        "true",
    ])
    .env("XDG_CONFIG_HOME", config.path());
    let r = run(c);
    r.expect(0);
    assert!(!r.stderr.contains("not the shipped one"), "{}", r.dump());
}
