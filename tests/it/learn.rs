//! `tooljail learn`: six real tools learned, then checked under the profile they got; each
//! learned profile passes `tooljail check` and is no wider than the tool's shipped profile
//! (binds that add reach, writable binds, syscalls: counted and asserted, and every learned
//! bind lies inside a shipped one with at least its rights). A path the learning run did not
//! see is absent under the learned profile; secret-looking paths never reach the file; a
//! connect becomes the network mode; `--merge` joins two modes of one command. Each case as
//! root and as the unprivileged test user.
//!
//! Needs the tools installed (tests/setup.sh): python3 git gcc make jq ripgrep nodejs.

use crate::support::profiles::{
    git_repo_with_a_change, give_to_jail, workdir, GIT_COMMIT, TOOL_TIMEOUT,
};
use crate::support::{each_identity, records_dir, run_for, Ctx, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `tooljail learn [extra...] --out OUT -- argv` in `cwd` as `ctx`.
fn learn(ctx: &Ctx, cwd: &Path, out: &Path, extra: &[&str], argv: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["learn".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--out".into(), out.display().to_string(), "--".into()]);
    args.extend(argv.iter().map(|s| s.to_string()));
    let mut cmd = ctx.tooljail(&args);
    cmd.current_dir(cwd);
    run_for(cmd, TOOL_TIMEOUT)
}

/// `tooljail learn --check PROFILE [extra...] -- argv` in `cwd` as `ctx`.
fn check(ctx: &Ctx, cwd: &Path, profile: &Path, extra: &[&str], argv: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["learn".into(), "--check".into()];
    args.push(profile.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(argv.iter().map(|s| s.to_string()));
    let mut cmd = ctx.tooljail(&args);
    cmd.current_dir(cwd);
    run_for(cmd, TOOL_TIMEOUT)
}

/// `tooljail explain --json -p PROFILE` in `cwd`: the resolved Policy.
fn explain(ctx: &Ctx, cwd: &Path, profile: &str) -> Value {
    let mut cmd = ctx.tooljail(["explain", "--json", "-p", profile]);
    cmd.current_dir(cwd);
    let r = run_for(cmd, TOOL_TIMEOUT);
    r.expect(0);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("explain JSON: {e}\n{}", r.dump()))
}

/// A profile's text without its comment lines (the header names what was left out).
fn body(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A bind as (target, writable, exec).
type BindRights = (PathBuf, bool, bool);

/// A profile's width: (binds that add reach: not inside another bind of the profile; writable
/// binds; syscalls allowed), and its binds.
fn width(policy: &Value) -> ((usize, usize, usize), Vec<BindRights>) {
    let binds: Vec<BindRights> = policy["filesystem"]["binds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                PathBuf::from(b["target"].as_str().unwrap()),
                b["access"] == "read-write",
                b["exec"] == true,
            )
        })
        .collect();
    let reach = binds
        .iter()
        .filter(|(t, _, _)| !binds.iter().any(|(o, _, _)| o != t && t.starts_with(o)))
        .count();
    let writable = binds.iter().filter(|b| b.1).count();
    let syscalls = policy["syscalls"]["allow"].as_array().unwrap().len();
    ((reach, writable, syscalls), binds)
}

/// The learned profile passes `tooljail check`, and is no wider than `shipped`: no more binds
/// that add reach, writable binds or syscalls, and every bind inside one of the shipped
/// profile with at least its rights.
#[track_caller]
fn no_wider(ctx: &Ctx, cwd: &Path, learned: &Path, shipped: &str) {
    let text = std::fs::read_to_string(learned).unwrap();
    let mut c = ctx.tooljail(["check", learned.to_str().unwrap()]);
    c.current_dir(cwd);
    run_for(c, TOOL_TIMEOUT).expect(0);
    let (lw, lb) = width(&explain(ctx, cwd, learned.to_str().unwrap()));
    let (sw, sb) = width(&explain(ctx, cwd, shipped));
    assert!(
        lw.0 <= sw.0 && lw.1 <= sw.1 && lw.2 <= sw.2,
        "learned (binds, writable, syscalls) {lw:?} wider than {shipped}'s {sw:?}\n{text}"
    );
    for (t, w, x) in &lb {
        assert!(
            sb.iter()
                .any(|(s, sw, sx)| t.starts_with(s) && (*sw || !w) && (*sx || !x)),
            "learned bind {} (write {w}, exec {x}) lies in no bind of {shipped} that gives it\n{text}",
            t.display()
        );
    }
}

/// Learn `argv` in `dir`, check it passes under what was learned, and compare with `shipped`.
#[track_caller]
fn learn_check_compare(
    ctx: &Ctx,
    dir: &Path,
    env: &[&str],
    argv: &[&str],
    shipped: &str,
) -> String {
    let out = records_dir();
    let profile = out.path().join("learned.toml");
    let r = learn(ctx, dir, &profile, env, argv);
    r.expect(0).expect_stderr_contains("tooljail: learned ");
    let text = std::fs::read_to_string(&profile)
        .unwrap_or_else(|e| panic!("no profile ({e})\n{}", r.dump()));
    // Every entry line says why.
    for line in text.lines().filter(|l| l.starts_with("    ")) {
        assert!(
            line.contains("  # "),
            "entry without a reason: {line}\n{text}"
        );
    }
    let c = check(ctx, dir, &profile, env, argv);
    c.expect(0).expect_stderr_contains("check passed");
    no_wider(ctx, dir, &profile, shipped);
    text
}

#[test]
fn python_runs_a_script_under_what_it_learned() {
    each_identity(|ctx| {
        let dir = workdir(&[(
            "job.py",
            "import json\nprint(json.dumps({'sum': sum(range(10))}))\n",
        )]);
        give_to_jail(ctx, dir.path());
        let text = learn_check_compare(ctx, dir.path(), &[], &["python3", "job.py"], "python");
        assert!(text.contains("extends = [\"base\"]"), "{text}");
        assert!(text.contains("\"!@system-service\""), "{text}");
    });
}

/// The environment git needs in a directory another uid owns, read-only (root's files seen
/// by the jail's uid), and the lock it may skip: what the shipped git profile sets. And no
/// background maintenance: `git commit` sometimes detaches `git maintenance run --auto`
/// (setsid), a mode one learning run may not see and the next run take.
const GIT_ENV: &[&str] = &[
    "--env",
    "GIT_CONFIG_COUNT=3",
    "--env",
    "GIT_CONFIG_KEY_0=safe.directory",
    "--env",
    "GIT_CONFIG_VALUE_0=*",
    "--env",
    "GIT_CONFIG_KEY_1=maintenance.auto",
    "--env",
    "GIT_CONFIG_VALUE_1=false",
    "--env",
    "GIT_CONFIG_KEY_2=gc.auto",
    "--env",
    "GIT_CONFIG_VALUE_2=0",
    "--env",
    "GIT_OPTIONAL_LOCKS=0",
    "--env",
    "GIT_CONFIG_NOSYSTEM=1",
];

#[test]
fn git_status_and_commit_run_under_what_they_learned() {
    each_identity(|ctx| {
        let dir = workdir(&[("README", "hello\n")]);
        git_repo_with_a_change(dir.path());
        give_to_jail(ctx, dir.path());
        let text = learn_check_compare(
            ctx,
            dir.path(),
            GIT_ENV,
            &["git", "status", "--short"],
            "git",
        );
        assert!(
            !text.contains("read_write = [\n    \""),
            "status writes nothing\n{text}"
        );
        let mut env: Vec<&str> = GIT_ENV.to_vec();
        // The identity the git profiles' tests commit with (the `--env` pairs before `--`).
        let identity = GIT_COMMIT.iter().position(|a| *a == "--").unwrap();
        env.extend(&GIT_COMMIT[..identity]);
        // Learn one commit, then check with the next.
        let out = records_dir();
        let profile = out.path().join("commit.toml");
        learn(
            ctx,
            dir.path(),
            &profile,
            &env,
            &["git", "commit", "-qam", "learned"],
        )
        .expect(0);
        std::fs::write(dir.path().join("README"), "hello\nthird\n").unwrap();
        check(
            ctx,
            dir.path(),
            &profile,
            &env,
            &["git", "commit", "-qam", "checked"],
        )
        .expect(0)
        .expect_stderr_contains("check passed");
        let log = crate::support::profiles::git_subjects(dir.path());
        assert!(log.starts_with("checked\nlearned\n"), "{log}");
        let text = std::fs::read_to_string(&profile).unwrap();
        // Only the git dir is writable; the work tree is read (the commit did not write it).
        assert!(
            text.contains("read_write = [\n    \"${CWD}/.git\","),
            "{text}"
        );
        no_wider(ctx, dir.path(), &profile, "git-rw");
    });
}

#[test]
fn gcc_and_make_build_and_run_under_what_they_learned() {
    each_identity(|ctx| {
        let dir = workdir(&[
            (
                "hello.c",
                "#include <stdio.h>\nint main(void){puts(\"built\");return 0;}\n",
            ),
            (
                "Makefile",
                "hello: hello.c\n\tcc -O0 -o hello hello.c\n\t./hello\n",
            ),
        ]);
        give_to_jail(ctx, dir.path());
        let text = learn_check_compare(ctx, dir.path(), &[], &["make", "-B"], "build-c");
        // It wrote and ran what it built there: writable and executable, nothing more.
        assert!(text.contains("read_write = [\n    \"${CWD}\","), "{text}");
        assert!(text.contains("executable = [\n    \"${CWD}\","), "{text}");
    });
}

#[test]
fn jq_rg_and_node_run_under_what_they_learned() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("data.json", "{\"items\": [1, 2, 3]}\n"),
            ("src/a.txt", "a needle here\n"),
            ("main.js", "const fs = require('fs');\nconsole.log(JSON.parse(fs.readFileSync('data.json')).items.length);\n"),
        ]);
        give_to_jail(ctx, dir.path());
        learn_check_compare(
            ctx,
            dir.path(),
            &[],
            &["jq", ".items | add", "data.json"],
            "jq",
        );
        learn_check_compare(ctx, dir.path(), &[], &["rg", "-n", "needle"], "search");
        learn_check_compare(ctx, dir.path(), &[], &["node", "main.js"], "node");
    });
}

#[test]
fn a_path_the_learning_run_did_not_see_is_absent_under_the_learned_profile() {
    each_identity(|ctx| {
        let dir = workdir(&[("seen/a.txt", "seen\n"), ("unseen/b.txt", "unseen\n")]);
        give_to_jail(ctx, dir.path());
        let a = dir.path().join("seen/a.txt");
        let b = dir.path().join("unseen/b.txt");
        let out = records_dir();
        let profile = out.path().join("cat.toml");
        learn(
            ctx,
            dir.path(),
            &profile,
            &[],
            &["cat", a.to_str().unwrap()],
        )
        .expect(0)
        .expect_stdout_contains("seen\n");
        check(
            ctx,
            dir.path(),
            &profile,
            &[],
            &["cat", a.to_str().unwrap()],
        )
        .expect(0);
        // The learning base showed b.txt (the whole directory); the learned profile does not.
        let r = check(
            ctx,
            dir.path(),
            &profile,
            &[],
            &["cat", b.to_str().unwrap()],
        );
        r.expect(1)
            .expect_stderr_contains("No such file or directory")
            .expect_stderr_contains("check failed");
        assert!(!r.stdout.contains("unseen"), "{}", r.dump());
        // A write where the run only read is refused too, and said in `tooljail why`'s words.
        let cat = format!("cat {}", a.display());
        let sh = out.path().join("sh.toml");
        learn(ctx, dir.path(), &sh, &[], &["sh", "-c", &cat]).expect(0);
        let w = check(
            ctx,
            dir.path(),
            &sh,
            &[],
            &["sh", "-c", &format!("{cat}; echo x >> {}", a.display())],
        );
        w.expect(1)
            .expect_stderr_contains("check failed")
            .expect_stderr_contains(&format!("The command wrote to {}", a.display()))
            .expect_stderr_contains("Refused because:");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "seen\n");
    });
}

#[test]
fn secret_looking_paths_never_reach_the_learned_profile() {
    each_identity(|ctx| {
        let dir = workdir(&[
            (".env", "API_TOKEN=tok-in-dotenv\n"),
            (".ssh/id_ed25519", "PRIVATE KEY\n"),
            (".aws/credentials", "aws_secret_access_key=abc\n"),
            ("data.txt", "data\n"),
        ]);
        give_to_jail(ctx, dir.path());
        let out = records_dir();
        let profile = out.path().join("secret.toml");
        let r = learn(
            ctx,
            dir.path(),
            &profile,
            &[],
            &[
                "cat",
                ".env",
                ".ssh/id_ed25519",
                ".aws/credentials",
                "data.txt",
            ],
        );
        // The learning run saw them (it is a real run of the tool)...
        r.expect(0).expect_stdout_contains("tok-in-dotenv");
        // ... the profile names none, and the directory holding them is not bound whole.
        let text = std::fs::read_to_string(&profile).unwrap();
        let body = body(&text);
        for s in [
            ".env",
            ".ssh",
            "id_ed25519",
            ".aws",
            "credentials",
            "tok-in-dotenv",
        ] {
            assert!(!body.contains(s), "{s} in the profile\n{text}");
        }
        assert!(
            !body.contains("\"${CWD}\","),
            "the directory of the secrets is bound\n{text}"
        );
        assert!(body.contains("\"${CWD}/data.txt\","), "{text}");
        // They are named as a warning instead.
        for s in [
            "${CWD}/.env",
            "${CWD}/.ssh/id_ed25519",
            "${CWD}/.aws/credentials",
        ] {
            assert!(
                r.stderr
                    .contains(&format!("left out a secret-looking path the run used: {s}")),
                "{s}\n{}",
                r.dump()
            );
        }
        // And under it, the secrets are absent.
        let c = check(
            ctx,
            dir.path(),
            &profile,
            &[],
            &["cat", &dir.path().join(".env").display().to_string()],
        );
        assert_ne!(c.code(), 0, "{}", c.dump());
        assert!(!c.stdout.contains("tok-in-dotenv"), "{}", c.dump());
    });
}

#[test]
fn merge_joins_two_modes_of_a_tool_in_one_profile() {
    each_identity(|ctx| {
        let dir = workdir(&[("in/a.txt", "input\n"), ("out/keep", "")]);
        give_to_jail(ctx, dir.path());
        let a = dir.path().join("in/a.txt").display().to_string();
        let made = dir.path().join("out/made.txt").display().to_string();
        let read = ["cat", a.as_str()];
        let write_script = format!("echo made > {made}");
        let write = ["sh", "-c", write_script.as_str()];
        let out = records_dir();
        let profile = out.path().join("modes.toml");
        learn(ctx, dir.path(), &profile, &[], &read).expect(0);
        let only_read = std::fs::read_to_string(&profile).unwrap();
        // One mode's profile does not let the other write.
        check(ctx, dir.path(), &profile, &[], &write).expect(1);
        // --merge adds the second run to the file (written back in place).
        let mut m = ctx.tooljail([
            "learn",
            "--merge",
            profile.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &write_script,
        ]);
        m.current_dir(dir.path());
        let r = run_for(m, TOOL_TIMEOUT);
        r.expect(0);
        let merged = std::fs::read_to_string(&profile).unwrap();
        assert_ne!(merged, only_read);
        assert!(
            merged.contains("#   cat ") && merged.contains("#   sh -c echo made"),
            "{merged}"
        );
        assert!(merged.contains("\"${CWD}/out\","), "{merged}");
        std::fs::remove_file(&made).unwrap();
        check(ctx, dir.path(), &profile, &[], &read).expect(0);
        check(ctx, dir.path(), &profile, &[], &write).expect(0);
        assert_eq!(std::fs::read_to_string(&made).unwrap(), "made\n");
        let mut c = ctx.tooljail(["check", profile.to_str().unwrap()]);
        c.current_dir(dir.path());
        run_for(c, TOOL_TIMEOUT).expect(0);
    });
}

#[test]
fn a_connect_is_learned_as_the_network_mode_with_its_address() {
    each_identity(|ctx| {
        let dir = workdir(&[(
            "probe.py",
            "import socket\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(('127.0.0.1', 9))\nexcept OSError as e:\n    print('refused', e.errno)\n",
        )]);
        give_to_jail(ctx, dir.path());
        let out = records_dir();
        let profile = out.path().join("net.toml");
        learn(ctx, dir.path(), &profile, &[], &["python3", "probe.py"])
            .expect(0)
            .expect_stdout_contains("refused");
        let text = std::fs::read_to_string(&profile).unwrap();
        assert!(
            text.contains("mode = \"loopback\"  # connected to 127.0.0.1:9\n"),
            "{text}"
        );
        assert!(text.contains("\"connect\",  # used: "), "{text}");
        check(ctx, dir.path(), &profile, &[], &["python3", "probe.py"])
            .expect(0)
            .expect_stdout_contains("refused");
    });
}

#[test]
fn a_base_of_ones_own_is_extended_by_its_parent_wherever_the_profile_is_written() {
    each_identity(|ctx| {
        let dir = workdir(&[
            (
                "bases/parent.toml",
                "# parent: a test parent.\nextends = [\"base\"]\n[filesystem]\nread_only = [\"/etc/hostname?\"]\n",
            ),
            ("bases/learning.toml", "extends = [\"./parent.toml\"]\ncwd = \"${CWD}\"\n[filesystem]\nread_write = [\"${CWD}\"]\n"),
            ("data.txt", "data\n"),
        ]);
        give_to_jail(ctx, dir.path());
        let out = records_dir();
        let profile = out.path().join("own.toml");
        learn(
            ctx,
            dir.path(),
            &profile,
            &["-p", "bases/learning.toml"],
            &["cat", "data.txt"],
        )
        .expect(0);
        let text = std::fs::read_to_string(&profile).unwrap();
        let parent = dir.path().join("bases/parent.toml");
        assert!(
            text.contains(&format!("extends = [\"{}\"]", parent.display())),
            "{text}"
        );
        // It loads from anywhere: the parent is named by its absolute path.
        let mut c = ctx.tooljail(["check", profile.to_str().unwrap()]);
        c.current_dir(out.path());
        run_for(c, TOOL_TIMEOUT).expect(0);
        check(ctx, dir.path(), &profile, &[], &["cat", "data.txt"]).expect(0);
    });
}

#[test]
fn a_dotdot_name_through_a_link_never_grants_the_host_file_its_text_spells() {
    each_identity(|ctx| {
        // A host file outside everything the learning base binds (not below /tmp, which the
        // jail gets as its own tmpfs).
        let host_dir = tempfile::Builder::new()
            .prefix("tooljail-learn-victim-")
            .tempdir_in("/var/tmp")
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(host_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let victim = host_dir.path().join("host.rc");
        std::fs::write(&victim, "host\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let dir = workdir(&[]);
        // `a` -> d1/d2/.../dN: as many `..` after `a` as climb lexically from the project to
        // `/` land the real path in d1, the text on the victim.
        let ups = dir.path().components().count(); // "/" counts: one `..` for `a` itself
        let mut chain = PathBuf::from("d1");
        for i in 2..=ups + 1 {
            chain.push(format!("d{i}"));
        }
        std::fs::create_dir_all(dir.path().join(&chain)).unwrap();
        std::os::unix::fs::symlink(&chain, dir.path().join("a")).unwrap();
        let rel = victim.strip_prefix("/").unwrap();
        let inside = dir.path().join("d1").join(rel);
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, "inside\n").unwrap();
        let mut name = PathBuf::from("a");
        for _ in 0..ups {
            name.push("..");
        }
        name.push(rel);
        give_to_jail(ctx, dir.path());
        let out = records_dir();
        let profile = out.path().join("dotdot.toml");
        let script = format!("echo x >> {}", name.display());
        learn(ctx, dir.path(), &profile, &[], &["sh", "-c", &script]).expect(0);
        // The jail wrote the project's file, not the host's.
        assert_eq!(std::fs::read_to_string(&inside).unwrap(), "inside\nx\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host\n");
        let text = std::fs::read_to_string(&profile).unwrap();
        let body = body(&text);
        assert!(
            !body.contains(&format!("\"{}", host_dir.path().display())),
            "the host file is in the learned profile\n{text}"
        );
        // What the run wrote is there, by the path the kernel resolved.
        let real = format!("\"${{CWD}}/d1/{}\"", rel.display());
        assert!(
            body.contains(&real) || body.contains("\"${CWD}\","),
            "{real} not learned\n{text}"
        );
    });
}

#[test]
fn a_directory_holding_secrets_the_run_never_used_is_not_bound_whole() {
    each_identity(|ctx| {
        let dir = workdir(&[
            (".env", "API_TOKEN=tok-unused-dotenv\n"),
            (".aws/credentials", "aws_secret_access_key=unused\n"),
            ("data.txt", "data\n"),
        ]);
        give_to_jail(ctx, dir.path());
        let out = records_dir();
        let profile = out.path().join("unused.toml");
        let r = learn(ctx, dir.path(), &profile, &[], &["cat", "data.txt"]);
        r.expect(0).expect_stdout_contains("data\n");
        let text = std::fs::read_to_string(&profile).unwrap();
        let body = body(&text);
        assert!(
            !body.contains("\"${CWD}\","),
            "the directory of the secrets is bound whole\n{text}"
        );
        assert!(!body.contains("cwd = "), "{text}");
        assert!(body.contains("\"${CWD}/data.txt\","), "{text}");
        // Under it the secrets stay absent, the used file is there (by absolute path).
        let env = dir.path().join(".env").display().to_string();
        let c = check(ctx, dir.path(), &profile, &[], &["cat", &env]);
        assert_ne!(c.code(), 0, "{}", c.dump());
        assert!(!c.stdout.contains("tok-unused-dotenv"), "{}", c.dump());
        let data = dir.path().join("data.txt").display().to_string();
        check(ctx, dir.path(), &profile, &[], &["cat", &data])
            .expect(0)
            .expect_stdout_contains("data\n");
    });
}

#[test]
fn a_connect_the_learning_base_refused_is_a_warning_not_network_access() {
    each_identity(|ctx| {
        // 192.0.2.1 (TEST-NET-1): outside, and unreachable from the learning base's private
        // namespace, so the connect fails at once.
        let dir = workdir(&[(
            "out.py",
            "import socket\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(('192.0.2.1', 443))\nexcept OSError as e:\n    print('failed', e.errno)\n",
        )]);
        give_to_jail(ctx, dir.path());
        let out = records_dir();
        let profile = out.path().join("tried.toml");
        let r = learn(ctx, dir.path(), &profile, &[], &["python3", "out.py"]);
        r.expect(0)
            .expect_stdout_contains("failed")
            .expect_stderr_contains("warning: not learned: a connect to 192.0.2.1:443");
        let text = std::fs::read_to_string(&profile).unwrap();
        let body = body(&text);
        assert!(!body.contains("[network]"), "{text}");
        assert!(
            !body.contains("\"host\"") && !body.contains("443"),
            "{text}"
        );
        assert!(text.contains("#   192.0.2.1:443\n"), "{text}");
        // The profile's network is the parent's: none.
        let policy = explain(ctx, dir.path(), profile.to_str().unwrap());
        assert_eq!(policy["network"]["mode"], "none", "{text}");
        // And --merge keeps the note.
        let mut m = ctx.tooljail(["learn", "--merge", profile.to_str().unwrap(), "--", "true"]);
        m.current_dir(dir.path());
        run_for(m, TOOL_TIMEOUT).expect(0);
        let merged = std::fs::read_to_string(&profile).unwrap();
        assert!(merged.contains("#   192.0.2.1:443\n"), "{merged}");
    });
}

#[test]
fn check_fails_when_the_egress_proxy_refused_a_connection() {
    each_identity(|ctx| {
        let dir = workdir(&[(
            "egress.toml",
            "extends = [\"base\"]\n[network]\nallow_domains = [\"allowed.test\"]\n",
        )]);
        give_to_jail(ctx, dir.path());
        let profile = dir.path().join("egress.toml");
        // The command exits 0 whatever the proxy answers: only the report says it refused.
        let r = check(
            ctx,
            dir.path(),
            &profile,
            &[],
            &[
                "sh",
                "-c",
                "curl -s -o /dev/null http://refused.test/; exit 0",
            ],
        );
        r.expect(1)
            .expect_stderr_contains("check failed")
            .expect_stderr_contains("the egress proxy refused 1 connection(s)");
    });
}
