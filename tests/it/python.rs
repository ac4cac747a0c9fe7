//! The Python package (python/): its own tests, LangChain's standard sandbox tests on its Deep
//! Agents backend, and the Python snippets of docs/integrations.md, run by pytest against the
//! binary under test, as root and as the unprivileged test user.
//!
//! The tests need a virtual environment with the package and its extras installed from PyPI at
//! the versions pinned in python/constraints.txt. It is made once, under target/tmp, named by a
//! hash of the package's files (a change makes a new one), by whichever test process comes first
//! while holding a file lock, so suites running side by side neither race nor repeat the work.

use crate::support::{binary, each_identity, records_dir, run_for, tempdir, Ctx};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PYTHON: &str = "/usr/bin/python3";

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The files of python/ that make the installed package (not its tests), sorted.
fn package_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name == "tests"
            || name == "__pycache__"
            || name.ends_with(".egg-info")
            || name == "build"
        {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            package_files(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

/// The venv for the package as it is now: made (or found) under target/tmp, root-owned and
/// readable by every user, so the test user runs the same interpreter.
fn venv() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let src = package_dir();
    let mut files = Vec::new();
    package_files(&src, &mut files);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.strip_prefix(&src).unwrap().hash(&mut h);
        fs::read(f).unwrap().hash(&mut h);
    }
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = base.join(format!("python-venv-{:016x}", h.finish()));
    let done = venv.join(".complete");

    // Held until this function returns: another test process waits here, then finds the venv.
    let _lock = nix::fcntl::Flock::lock(
        fs::File::create(base.join("python-venv.lock")).unwrap(),
        nix::fcntl::FlockArg::LockExclusive,
    )
    .map_err(|(_, e)| e)
    .expect("lock target/tmp/python-venv.lock");
    if done.exists() {
        return venv;
    }
    // Older venvs (of earlier package files) and a half-made one go.
    for e in fs::read_dir(base).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("python-venv-") && e.path().is_dir() {
            fs::remove_dir_all(e.path()).unwrap();
        }
    }
    let started = std::time::Instant::now();
    let r = run_for(
        {
            let mut c = Command::new(PYTHON);
            c.args(["-m", "venv"]).arg(&venv);
            c
        },
        Duration::from_secs(120),
    );
    r.expect(0);
    // pip builds in the source tree: install from a copy, so the checkout stays clean.
    let copy = tempfile::Builder::new()
        .prefix("python-src-")
        .tempdir_in(base)
        .unwrap();
    let r = run_for(
        {
            let mut c = Command::new("cp");
            c.arg("-r").arg(&src).arg(copy.path());
            c
        },
        Duration::from_secs(60),
    );
    r.expect(0);
    let pkg = copy.path().join("python");
    let r = run_for(
        {
            let mut c = Command::new(venv.join("bin/python"));
            c.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("-c")
            .arg(pkg.join("constraints.txt"))
            .arg(format!("{}[langchain,openai-agents,test]", pkg.display()));
            c
        },
        Duration::from_secs(900),
    );
    r.expect(0);
    fs::write(&done, b"").unwrap();
    eprintln!(
        "python: made {} in {:.1}s",
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    venv
}

/// What pytest reads, copied into a 0755 directory of the suite's (as the suite does for every
/// file the test user reads: the checkout may sit where that user cannot reach):
/// `python/{src,tests,pyproject.toml}` and `docs/integrations.md`, in the checkout's layout.
fn stage() -> tempfile::TempDir {
    let dir = tempdir(0o755);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::create_dir_all(dir.path().join("python")).unwrap();
    fs::create_dir_all(dir.path().join("docs")).unwrap();
    let mut cp = Command::new("cp");
    cp.arg("-r")
        .arg(root.join("python/src"))
        .arg(root.join("python/tests"))
        .arg(root.join("python/pyproject.toml"))
        .arg(dir.path().join("python"));
    run_for(cp, Duration::from_secs(60)).expect(0);
    fs::copy(
        root.join("docs/integrations.md"),
        dir.path().join("docs/integrations.md"),
    )
    .unwrap();
    dir
}

/// `python -m pytest ARGS` from the venv, as this identity, in a staged copy of the tests, with
/// TOOLJAIL_BIN the binary under test as that identity runs it.
fn pytest(ctx: &Ctx, venv: &Path, args: &[&str]) -> crate::support::Run {
    let base = ctx.tooljail(Vec::<&str>::new());
    let python = venv.join("bin/python");
    let (mut cmd, bin): (Command, std::ffi::OsString) = if base.get_program() == "setpriv" {
        let mut prefix: Vec<std::ffi::OsString> = base.get_args().map(|a| a.to_owned()).collect();
        let bin = prefix.pop().unwrap();
        let mut c = Command::new("setpriv");
        c.args(&prefix).arg(&python).args(["-c", "pass"]);
        let r = run_for(c, Duration::from_secs(60));
        assert_eq!(
            r.code(),
            0,
            "the test user cannot run {} (are the directories above target/ closed to others?)\n{}",
            python.display(),
            r.dump()
        );
        let mut c = Command::new("setpriv");
        c.args(prefix).arg(&python);
        (c, bin)
    } else {
        (Command::new(&python), binary().into_os_string())
    };
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let staged = stage();
    // The tests' temporary files (workspaces, fixtures) stay below the suite's directory, where
    // jail_cleanup's check of /tmp does not count them as a jail's leftovers.
    let tmp = records_dir();
    cmd.current_dir(staged.path().join("python"))
        .env("TMPDIR", tmp.path())
        .env("TOOLJAIL_BIN", bin)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore",
        ])
        .args(args);
    run_for(cmd, Duration::from_secs(900))
}

/// pytest `args` as each identity; every test passes, at least `min_passed` of them, and no
/// check is skipped.
fn pytest_passes(args: &[&str], min_passed: u32) {
    // One pytest at a time: each runs jails back to back for a minute or more, and the rest of
    // the suite, with its time bounds, runs beside it on the same cores.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let venv = venv();
    each_identity(|ctx| {
        let started = std::time::Instant::now();
        let mut all = vec!["-rs"];
        all.extend_from_slice(args);
        let r = pytest(ctx, &venv, &all);
        r.expect(0);
        let summary = r.stdout.lines().last().unwrap_or("");
        eprintln!(
            "python: pytest {args:?} as {:?}: {summary} ({:.1}s)",
            ctx.who,
            started.elapsed().as_secs_f64()
        );
        let passed: u32 = summary
            .split(" passed")
            .next()
            .and_then(|s| s.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            passed >= min_passed,
            "expected at least {min_passed} tests to pass:\n{}",
            r.dump()
        );
        if let Some(line) = r.stdout.lines().find(|l| l.starts_with("SKIPPED")) {
            panic!("a check was skipped: {line}\n{}", r.dump());
        }
    });
}

/// `tooljail.run`/`arun`, the OpenAI Agents SDK client, the Codex hook, the snippets of
/// docs/integrations.md, and the package's types (mypy --strict).
#[test]
fn the_python_package_its_adapters_and_the_integration_docs() {
    pytest_passes(
        &[
            "tests/test_run.py",
            "tests/test_openai_agents.py",
            "tests/test_codex_hook.py",
            "tests/test_docs.py",
            "tests/test_typing.py",
        ],
        40,
    );
}

/// LangChain's standard sandbox tests (86 of them) and the jail's own on the Deep Agents backend.
#[test]
fn the_deep_agents_backend_passes_langchains_standard_sandbox_tests() {
    pytest_passes(&["tests/test_langchain_standard.py"], 91);
}
