//! The profile commands through the built binary: `check`, `explain` (human and JSON),
//! `profiles` and `doctor`, and the shipped profile library: every file in profiles/ is built
//! into the binary, listed by `tooljail profiles`, valid for `tooljail check`, resolvable by
//! `tooljail explain` from an ordinary directory, refused from `/` when it exposes `${CWD}`, and
//! judged by `tooljail doctor`. Each header says what the tool may do, may not do, and what the
//! caller binds. No namespaces are made, so these run the same as root or as any user; every
//! child is bounded in time. The messages a person reads are transcripts in tests/cmd/.

use crate::support::api::policy::{NetMode, Policy};
use crate::support::{run_for, tempdir, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped profiles: `(name, text)` of every profiles/*.toml, sorted by name.
fn shipped() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo().join("profiles"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".toml")?.to_string();
            Some((stem, std::fs::read_to_string(e.path()).unwrap()))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 12, "profiles/ holds {} profiles", out.len());
    out
}

/// `tooljail ARGS` in `cwd` with an empty config dir (no user profiles), bounded.
fn tooljail(cwd: &Path, config: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(crate::support::binary());
    cmd.args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("TOOLJAIL_TEST_FAKE_LANDLOCK_ABI");
    run_for(cmd, Duration::from_secs(30))
}

fn uses_cwd(text: &str) -> bool {
    text.lines()
        .any(|l| !l.trim_start().starts_with('#') && l.contains("${CWD}"))
}

#[test]
fn every_shipped_profile_is_built_in_and_listed() {
    let cfg = tempdir(0o755);
    let r = tooljail(&repo(), cfg.path(), &["profiles"]);
    r.expect(0);
    for (name, _) in shipped() {
        let row = r
            .stdout
            .lines()
            .skip(1) // "search path: ..."
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{name} not listed\n{}", r.dump()));
        assert!(row.contains(" builtin "), "{row}");
        assert!(!row.contains("(no description)"), "{row}");
    }
}

#[test]
fn every_built_in_is_the_file_in_profiles() {
    // `builtin:NAME` resolves to the same Policy as the file: the embedded copy is not stale.
    let cfg = tempdir(0o755);
    let cwd = tempdir(0o755);
    for (name, _) in shipped() {
        let file = repo().join("profiles").join(format!("{name}.toml"));
        let a = tooljail(
            cwd.path(),
            cfg.path(),
            &["explain", "--json", "-p", &format!("builtin:{name}")],
        );
        a.expect(0);
        let b = tooljail(
            cwd.path(),
            cfg.path(),
            &["explain", "--json", "-p", file.to_str().unwrap()],
        );
        b.expect(0);
        let strip = |run: &Run| -> Value {
            let mut v: Value = serde_json::from_str(&run.stdout).unwrap();
            // Origins differ by construction (builtin:… vs a path); everything else must not.
            strip_origins(&mut v);
            v
        };
        assert_eq!(strip(&a), strip(&b), "builtin:{name} differs from {file:?}");
    }
}

fn strip_origins(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("origin");
            m.remove("hash");
            m.remove("policy_sha256");
            for x in m.values_mut() {
                strip_origins(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_origins),
        _ => {}
    }
}

#[test]
fn every_shipped_profile_checks_and_explains_from_a_project_directory() {
    let cfg = tempdir(0o755);
    let project = tempdir(0o755);
    let names: Vec<String> = shipped().into_iter().map(|(n, _)| n).collect();
    let mut args = vec!["check"];
    args.extend(names.iter().map(String::as_str));
    let r = tooljail(project.path(), cfg.path(), &args);
    r.expect(0);
    for name in &names {
        assert!(
            r.stdout.contains(&format!("{name}: ok (builtin:{name})")),
            "{}",
            r.dump()
        );
        let e = tooljail(project.path(), cfg.path(), &["explain", "-p", name]);
        e.expect(0)
            .expect_stdout_contains(&format!("profile: {name} ("));
        let j = tooljail(
            project.path(),
            cfg.path(),
            &["explain", "--json", "-p", name],
        );
        j.expect(0);
        let v: Value = serde_json::from_str(&j.stdout).unwrap();
        let last = v["profiles"].as_array().unwrap().last().unwrap();
        assert_eq!(last["name"], name.as_str(), "{}", j.dump());
    }
}

#[test]
fn cwd_profiles_bind_the_directory_and_refuse_root_and_home() {
    let cfg = tempdir(0o755);
    let project = tempdir(0o755);
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    for (name, text) in shipped() {
        if !uses_cwd(&text) {
            continue;
        }
        let j = tooljail(
            project.path(),
            cfg.path(),
            &["explain", "--json", "-p", &name],
        );
        j.expect(0);
        let v: Value = serde_json::from_str(&j.stdout).unwrap();
        let real = std::fs::canonicalize(project.path()).unwrap();
        assert_eq!(v["cwd"], real.to_str().unwrap(), "{name}: cwd");
        let binds = v["filesystem"]["binds"].as_array().unwrap();
        assert!(
            binds.iter().any(|b| b["target"] == real.to_str().unwrap()),
            "{name} does not bind the directory\n{}",
            j.dump()
        );
        for bad in [Path::new("/"), home.as_path()] {
            if !bad.is_dir() {
                continue;
            }
            tooljail(bad, cfg.path(), &["explain", "-p", &name])
                .expect(125)
                .expect_stderr_contains("cd into the project");
        }
    }
}

#[test]
fn every_header_says_what_the_tool_may_and_may_not_do_and_what_the_caller_binds() {
    for (name, text) in shipped() {
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
        let header = header.join("\n");
        assert!(
            header.starts_with(&format!("# {name}: ")),
            "{name}: header must start with \"# {name}: \""
        );
        for needle in ["MAY", "MAY NOT"] {
            assert!(
                header.contains(&format!("The tool {needle}:")),
                "{name}: header lacks \"The tool {needle}:\""
            );
        }
        // base and default bind nothing of the caller's and say so in their own words.
        if name != "base" && name != "default" {
            assert!(
                header.contains("The caller binds:"),
                "{name}: header lacks \"The caller binds:\""
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// doctor

fn doctor_json(cwd: &Path, config: &Path) -> (Run, Value) {
    let r = tooljail(cwd, config, &["doctor", "--json"]);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON: {e}\n{}", r.dump()));
    (r, v)
}

fn finding<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("doctor does not list {name}: {v:#}"))
}

#[test]
fn doctor_judges_every_shipped_profile_from_any_directory() {
    // As root and as the test user: doctor's verdicts are the caller's (user namespaces,
    // cgroup delegation), and it only reads, so any user may run it.
    crate::support::each_identity(|ctx| {
        let cfg = tempdir(0o755);
        // Started from `/`, where ${CWD} profiles would refuse to run: doctor resolves them
        // from a neutral directory instead.
        let mut cmd = ctx.tooljail(["doctor", "--json"]);
        cmd.current_dir("/")
            .env("XDG_CONFIG_HOME", cfg.path())
            .env_remove("TOOLJAIL_TEST_FAKE_LANDLOCK_ABI");
        let r = run_for(cmd, Duration::from_secs(30));
        let v: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("doctor --json is not JSON: {e}\n{}", r.dump()));
        let kernel_abi = crate::support::kernel_landlock_abi();
        let userns = v["user_namespaces"]["unprivileged_allowed"] == true;
        let seccomp = v["seccomp"]["filter_usable"] == true;
        // Whether this caller's runs get a cgroup, from `run` itself: doctor must say the same,
        // and plan memory and processes accordingly.
        let cgroup = crate::support::run_gets_a_cgroup(ctx);
        assert_eq!(
            v["cgroup_parent"].is_string(),
            cgroup,
            "doctor and run disagree about cgroups for {:?}\n{v:#}",
            ctx.who
        );
        for (name, _) in shipped() {
            let f = finding(&v, &name);
            assert_eq!(f["origin"], "builtin");
            let need = f["required_landlock_abi"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name} did not resolve: {f:#}"));
            let expect = userns && seccomp && kernel_abi.is_some_and(|k| u64::from(k) >= need);
            assert_eq!(f["enforceable"], expect, "{name}: {f:#}");
            assert_eq!(
                f["problems"].as_array().unwrap().is_empty(),
                expect,
                "{name}: {f:#}"
            );
            // The limit plan is the one `run` would use, and says how memory is enforced.
            let memory = f["limits"]["memory"].as_str().unwrap();
            assert_eq!(memory, if cgroup { "cgroup" } else { "rlimit" }, "{name}");
        }
        assert_eq!(
            finding(&v, "default")["enforceable"],
            v["default_profile_enforceable"]
        );
        r.expect(if v["default_profile_enforceable"] == true {
            0
        } else {
            1
        });
    });
}

#[test]
fn doctor_names_what_a_user_profile_lacks_here() {
    let cfg = tempdir(0o755);
    let dir = cfg.path().join("tooljail/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("needs-cgroup.toml"),
        "description = \"needs cgroups\"\nextends = [\"shell\"]\n[limits]\nrequire_cgroup = true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("missing-path.toml"),
        "description = \"names a path this host lacks\"\nextends = [\"base\"]\n[filesystem]\nread_only = [\"/no/such/dir/for/doctor\"]\n",
    )
    .unwrap();
    // A user file that shadows a built-in is judged in its place.
    std::fs::write(
        dir.join("jq.toml"),
        "description = \"my jq\"\nextends = [\"builtin:jq\"]\n",
    )
    .unwrap();
    let (r, v) = doctor_json(&repo(), cfg.path());
    let cg = finding(&v, "needs-cgroup");
    // The current user's answer from `run` itself, not from the function doctor calls.
    let me = crate::support::identities().remove(0);
    let cgroup_ok = crate::support::run_gets_a_cgroup(&me);
    if cgroup_ok {
        assert!(cg["problems"].as_array().unwrap().is_empty(), "{cg:#}");
    } else {
        assert_eq!(cg["enforceable"], false, "{cg:#}");
        assert!(
            cg["problems"][0]
                .as_str()
                .unwrap()
                .contains("require_cgroup"),
            "{cg:#}"
        );
    }
    let missing = finding(&v, "missing-path");
    assert_eq!(missing["enforceable"], false);
    let why = missing["problems"][0].as_str().unwrap();
    assert!(
        why.contains("/no/such/dir/for/doctor") && why.contains("does not exist"),
        "{why}"
    );
    let jq: Vec<&Value> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "jq")
        .collect();
    assert_eq!(jq.len(), 1, "a shadowed built-in is not judged");
    assert!(jq[0]["origin"].as_str().unwrap().ends_with("jq.toml"));
    // The text form shows the same verdicts, one line per profile.
    let t = tooljail(&repo(), cfg.path(), &["doctor"]);
    t.expect(r.code());
    let line = t
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("missing-path "))
        .unwrap_or_else(|| panic!("{}", t.dump()));
    assert!(line.contains("MISSING"), "{line}");
}

#[cfg(debug_assertions)]
#[test]
fn doctor_with_an_old_landlock_says_which_profiles_lose_what() {
    let cfg = tempdir(0o755);
    let mut cmd = Command::new(crate::support::cargo_binary());
    cmd.args(["doctor", "--json"])
        .env("XDG_CONFIG_HOME", cfg.path())
        .env("TOOLJAIL_TEST_FAKE_LANDLOCK_ABI", "3");
    let r = run_for(cmd, Duration::from_secs(30));
    r.expect(1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let http = finding(&v, "http");
    assert_eq!(http["enforceable"], false);
    let why = http["problems"][0].as_str().unwrap();
    assert!(
        why.contains("tcp-ports") && why.contains("this kernel has ABI 3"),
        "{why}"
    );
    // The profiles that do not use the network do not claim to need port rules.
    let shell = finding(&v, "shell")["problems"][0].as_str().unwrap();
    assert!(!shell.contains("tcp-ports"), "{shell}");
}

#[test]
fn shipped_profiles_check_clean_by_name_and_by_path() {
    let cfg = tempdir(0o755);
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
    o.expect(0);
    assert_eq!(o.stderr, "");
    assert!(o.stdout.contains("default: ok (builtin:default)"));
    assert!(o
        .stdout
        .contains("profiles/base.toml: ok (profiles/base.toml)"));
}

#[test]
fn explain_json_round_trips_into_an_equal_policy() {
    let dir = tempdir(0o755);
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
    o.expect(0);
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
    assert_eq!(policy.network.mode, NetMode::Loopback);
}

#[test]
fn profiles_lists_builtins_and_says_when_a_file_shadows_one() {
    let cfg = tempdir(0o755);
    let dir = cfg.path().join("tooljail/profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("default.toml"),
        "description = \"my own default\"\nextends = [\"builtin:default\"]\n",
    )
    .unwrap();
    let o = tooljail(&repo(), cfg.path(), &["profiles"]);
    o.expect(0);
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
        let cfg = tempdir(0o755);
        assert_eq!(
            tooljail(&repo(), cfg.path(), &["check", "default", "base"]).code(),
            0
        );
        return;
    }
    let (_, uid, gid) = crate::support::test_user();
    let (uid, gid) = (uid.to_string(), gid.to_string());
    let dir = tempdir(0o755);
    let bin = dir.path().join("tooljail");
    crate::support::copy_executable(&crate::support::binary(), &bin, 0o755);
    let run = |args: &[&str]| -> Run {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", &uid, "--regid", &gid, "--init-groups"])
            .arg(&bin)
            .args(args)
            .current_dir(dir.path())
            .env("HOME", "/root")
            .env_remove("XDG_CONFIG_HOME");
        run_for(cmd, Duration::from_secs(30))
    };
    let o = run(&["check", "default", "base"]);
    o.expect(0);
    let o = run(&["explain", "--json"]);
    o.expect(0);
    let p: Policy = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(p.profiles.last().unwrap().origin, "builtin:default");
}

/// The transcripts (tests/cmd/check.md) show stdout and stderr merged, as a terminal does:
/// here, which stream each line is on. Verdicts go to stdout, errors to stderr, and `run`
/// refuses the same profile on stderr alone.
#[test]
fn check_verdicts_go_to_stdout_and_errors_to_stderr() {
    let cfg = tempdir(0o755);
    let inputs = repo().join("tests/cmd/check.in");
    let o = tooljail(
        &inputs,
        cfg.path(),
        &["check", "default", "bad.toml", "misspelt.toml"],
    );
    o.expect(125);
    assert_eq!(o.stdout, "default: ok (builtin:default)\n", "{}", o.dump());
    let errors: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(errors.len(), 3, "{}", o.dump());
    assert!(
        errors.iter().all(|l| l.starts_with("tooljail: ")),
        "{}",
        o.dump()
    );
    let o = tooljail(&inputs, cfg.path(), &["-p", "./typo.toml", "--", "true"]);
    o.expect(125);
    assert_eq!(o.stdout, "", "{}", o.dump());
    assert_eq!(
        o.stderr,
        "tooljail: ./typo.toml:5:1: unknown key \"rw_paths\" in [filesystem]; did you mean \"read_write\"?\n",
        "{}",
        o.dump()
    );
    let o = tooljail(&inputs, cfg.path(), &["explain"]);
    o.expect(0);
    assert_eq!(o.stderr, "", "{}", o.dump());
    assert!(o.stdout.starts_with("profile: default "), "{}", o.dump());
}
