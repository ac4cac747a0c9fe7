//! The profile commands through the built binary: `check`, `explain` (human and JSON), and
//! `profiles`. No namespaces are made, so these run the same as root or as any user. Each child
//! is bounded in time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tooljail::policy::Policy;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run tooljail with `args` in `cwd`, with an isolated config dir, killed after 30 s.
fn tooljail(cwd: &Path, config: &Path, args: &[&str]) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tooljail"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tooljail");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tooljail {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let out = Out {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    };
    eprintln!(
        "$ tooljail {}\n[exit {}]\n{}{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    );
    out
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_profiles_check_clean_by_name_and_by_path() {
    let cfg = tempfile::tempdir().unwrap();
    let o = tooljail(
        &repo(),
        cfg.path(),
        &[
            "check",
            "default",
            "base",
            "profiles/base.toml",
            "profiles/default.toml",
        ],
    );
    assert_eq!(o.code, 0);
    assert_eq!(o.stderr, "");
    assert!(o.stdout.contains("default: ok (builtin:default)"));
    assert!(o
        .stdout
        .contains("profiles/base.toml: ok (profiles/base.toml)"));
}

#[test]
fn a_typo_exits_125_with_position_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "description = \"typo\"\nextends = [\"base\"]\n\n[filesystem]\nrw_paths = [\"/tmp\"]\n",
    )
    .unwrap();
    let o = tooljail(dir.path(), dir.path(), &["check", "typo.toml"]);
    assert_eq!(o.code, 125);
    assert_eq!(
        o.stderr,
        "tooljail: typo.toml:5:1: unknown key \"rw_paths\" in [filesystem]; did you mean \"read_write\"?\n"
    );
    // run and explain refuse it the same way, before anything runs.
    let o = tooljail(dir.path(), dir.path(), &["-p", "./typo.toml", "--", "true"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr
            .starts_with("tooljail: ./typo.toml:5:1: unknown key \"rw_paths\""),
        "{}",
        o.stderr
    );
}

#[test]
fn check_prints_every_error_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "extends = [\"base\"]\n[filesystem]\nread_only = [\"/no/such/path\"]\n[limits]\nmemory = \"1X\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("typo.toml"), "[netwrok]\n").unwrap();
    let o = tooljail(
        dir.path(),
        dir.path(),
        &["check", "default", "bad.toml", "typo.toml"],
    );
    assert_eq!(o.code, 125);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "tooljail: bad.toml:3:14: path \"/no/such/path\" does not exist; create it, remove it from the profile, or mark it optional with a trailing \"?\"",
            "tooljail: bad.toml:5:10: invalid size \"1X\"; unknown unit \"x\"; use B, K, M, G or T (powers of 1024)",
            "tooljail: typo.toml:1:2: unknown key \"netwrok\" in the top level; did you mean \"network\"?",
        ]
    );
    assert!(o.stdout.contains("default: ok"));
}

#[test]
fn explain_json_round_trips_into_an_equal_policy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let data = data.to_str().unwrap();
    let o = tooljail(
        dir.path(),
        dir.path(),
        &[
            "explain",
            "--json",
            "--ro",
            data,
            "--net",
            "loopback",
            "--timeout",
            "90s",
            "--memory",
            "512M",
            "--env",
            "A=1",
            "--cwd",
            "/tmp",
        ],
    );
    assert_eq!(o.code, 0);
    let policy: Policy =
        serde_json::from_str(&o.stdout).expect("explain --json parses as a Policy");
    let again: Policy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
    assert_eq!(again, policy);
    let value: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        serde_json::to_value(&policy).unwrap(),
        value,
        "nothing lost in parsing"
    );
    assert_eq!(policy.name(), "default");
    let bind = policy
        .filesystem
        .binds
        .iter()
        .find(|b| b.origin == "--ro")
        .expect("--ro bind");
    assert_eq!(bind.target, Path::new(data));
    assert_eq!(policy.limits.wall_time, Duration::from_secs(90));
    assert_eq!(policy.limits.memory, Some(512 << 20));
    assert_eq!(policy.env["A"], "1");
    assert_eq!(policy.cwd, Path::new("/tmp"));
    assert_eq!(policy.network.mode, tooljail::policy::NetMode::Loopback);
}

#[test]
fn explain_prints_every_section_for_a_person() {
    let cfg = tempfile::tempdir().unwrap();
    let o = tooljail(&repo(), cfg.path(), &["explain"]);
    assert_eq!(o.code, 0);
    for section in [
        "profile: default",
        "profiles (merged in this order):",
        "filesystem (nothing else exists inside):",
        "ro exec   dir  /usr    [builtin:base:17:15]",
        "scratch: /scratch tmpfs, 256M, noexec, also /tmp and /dev/shm",
        "devices: /dev/null",
        "network: none",
        "syscalls: ",
        "landlock: mode required",
        "limits:",
        "memory:       1G",
        "env (the complete environment):",
        "HOME=/scratch",
        "cwd: /scratch",
        "export: nothing leaves",
        "budget: ",
        "audit: on",
    ] {
        assert!(o.stdout.contains(section), "missing {section:?}");
    }
}

#[test]
fn profiles_lists_builtins_and_says_when_a_file_shadows_one() {
    let cfg = tempfile::tempdir().unwrap();
    let dir = cfg.path().join("tooljail/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("default.toml"),
        "description = \"my own default\"\nextends = [\"builtin:default\"]\n",
    )
    .unwrap();
    let o = tooljail(&repo(), cfg.path(), &["profiles"]);
    assert_eq!(o.code, 0);
    let line = |needle: &str| {
        o.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}"))
            .to_string()
    };
    let mine = line("my own default");
    assert!(
        mine.starts_with("default") && mine.contains("(shadows builtin)"),
        "{mine}"
    );
    assert!(line("Strict default").contains("(shadowed"));
    assert!(line("Foundation for other profiles").starts_with("base"));
    // And `-p default` now means the file, built on the built-in.
    let o = tooljail(&repo(), cfg.path(), &["explain", "--json"]);
    let p: Policy = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(p.description, "my own default");
    assert_eq!(p.limits.memory, Some(1 << 30));
}

/// As an unprivileged user that kept root's HOME (what `setpriv` does), the search path holds a
/// directory nobody may enter: it is skipped, and the built-ins still resolve.
#[test]
fn works_as_an_unprivileged_user_with_roots_home() {
    if !nix::unistd::getuid().is_root() {
        // Already unprivileged: the other tests in this file are the unprivileged run.
        let cfg = tempfile::tempdir().unwrap();
        assert_eq!(
            tooljail(&repo(), cfg.path(), &["check", "default", "base"]).code,
            0
        );
        return;
    }
    let user = std::env::var("TOOLJAIL_TEST_USER").unwrap_or_else(|_| "nobody".into());
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, &user])
            .output()
            .expect("run id");
        assert!(out.status.success(), "no user {user}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (uid, gid) = (id("-u"), id("-g"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bin = dir.path().join("tooljail");
    std::fs::copy(env!("CARGO_BIN_EXE_tooljail"), &bin).unwrap();
    let run = |args: &[&str]| -> Out {
        let out = Command::new("timeout")
            .arg("30")
            .args(["setpriv", "--reuid", &uid, "--regid", &gid, "--init-groups"])
            .arg(&bin)
            .args(args)
            .current_dir(dir.path())
            .env("HOME", "/root")
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .expect("run setpriv");
        let o = Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "$ (as {user}) tooljail {}\n[exit {}]\n{}{}",
            args.join(" "),
            o.code,
            o.stdout,
            o.stderr
        );
        o
    };
    let o = run(&["check", "default", "base"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(&["explain", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p: Policy = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(p.profiles.last().unwrap().origin, "builtin:default");
}
