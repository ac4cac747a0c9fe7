//! The malformed-input corpus: bad profiles and bad command lines, each refused before anything
//! runs. Every case must exit 125 with one line on stderr (`tooljail: ...`), naming
//! `file:line:col` when the fault is in a file, and the command it would have run must not
//! have run: it writes to a canary file in a `--rw` directory, which must be untouched.

use crate::support::profiles::give_to_jail;
use crate::support::{identities, run_for, tempdir, Ctx};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// What a case gives tooljail.
enum Input {
    /// A profile file with these bytes (run with `-p FILE`); the fault at `line` (1-based; 0
    /// when the line cannot be known in advance, then any position in the file).
    Profile { bytes: Vec<u8>, line: usize },
    /// Profile files in one directory, the first named with `-p`; the fault in file `file`
    /// (an index) at `line`.
    Files {
        files: Vec<(&'static str, String)>,
        file: usize,
        line: usize,
    },
    /// A fifo named with `-p` (nobody writes to it: reading it would wait for ever).
    Fifo,
    /// Arguments for `run` before `--` (and the command after it, when `argv` is set); the
    /// fault named by `names` (a flag or the path the line must show).
    Args {
        args: Vec<String>,
        argv: Option<Vec<String>>,
        names: &'static str,
    },
}

struct Case {
    name: &'static str,
    input: Input,
}

fn profile(name: &'static str, text: &str, line: usize) -> Case {
    bytes(name, text.as_bytes().to_vec(), line)
}

fn bytes(name: &'static str, bytes: Vec<u8>, line: usize) -> Case {
    Case {
        name,
        input: Input::Profile { bytes, line },
    }
}

fn args(name: &'static str, a: &[&str], names: &'static str) -> Case {
    Case {
        name,
        input: Input::Args {
            args: a.iter().map(|s| s.to_string()).collect(),
            argv: None,
            names,
        },
    }
}

fn command(name: &'static str, argv: &[&str], names: &'static str) -> Case {
    Case {
        name,
        input: Input::Args {
            args: Vec::new(),
            argv: Some(argv.iter().map(|s| s.to_string()).collect()),
            names,
        },
    }
}

/// The longest single argument Linux passes to a program (MAX_ARG_STRLEN, 32 pages, less the
/// NUL). A longer one, such as the 1 MB argument, never reaches tooljail: execve
/// refuses it with E2BIG (`long_arguments_reach_tooljail_only_up_to_the_kernel_limit`).
const LONGEST_ARG: usize = 32 * 4096 - 1;

fn cases() -> Vec<Case> {
    let deep_arrays = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep_tables = format!("x = {}1{}\n", "{a = ".repeat(5000), "}".repeat(5000));
    let deep_headers = format!("[{}]\n", vec!["a"; 5000].join("."));
    // 10 MB: over the 1 MiB a profile may hold, refused before it is parsed.
    let ten_mb = format!("{}[filesystem]\n", "# padding\n".repeat(1_000_000));
    // Just under the cap, with the fault on its last line: read whole and positioned.
    let near_cap = format!("{}bogus = 1\n", "# pad\n".repeat(170_000));
    let long = "a".repeat(LONGEST_ARG);
    let long_path = format!("/{}", "d".repeat(LONGEST_ARG - 1));
    let chain: Vec<(&'static str, String)> = (0..40)
        .map(|i| {
            let name: &'static str = Box::leak(format!("c{i}.toml").into_boxed_str());
            (name, format!("extends = [\"./c{}.toml\"]\n", i + 1))
        })
        .collect();
    vec![
        // TOML syntax.
        profile("unterminated table header", "[filesystem\n", 1),
        profile("unterminated string", "description = \"x\n", 1),
        profile("two equals signs", "extends = [\"default\"]\na = = 1\n", 2),
        profile("a bare value", "[limits]\nmemory = 64M\n", 2),
        profile(
            "a key set twice",
            "[limits]\nmemory = \"1G\"\nmemory = \"2G\"\n",
            3,
        ),
        profile("a table twice", "[limits]\n[env]\n[limits]\n", 3),
        profile(
            "an unclosed array",
            "[filesystem]\nread_only = [\"/usr\",\n",
            0,
        ),
        profile("a missing value", "[limits]\nmemory =\n", 2),
        profile("a key with no value", "[limits]\nmemory\n", 2),
        profile("a bad escape", "description = \"\\q\"\n", 1),
        bytes("invalid UTF-8", b"description = \"\xff\xfe\"\n".to_vec(), 1),
        bytes(
            "a NUL byte in a value",
            b"description = \"a\0b\"\n".to_vec(),
            1,
        ),
        bytes(
            "a NUL byte in a key",
            b"[filesystem]\nread\0only = []\n".to_vec(),
            2,
        ),
        bytes("a NUL byte alone", b"\0".to_vec(), 1),
        profile("deeply nested arrays", &deep_arrays, 1),
        profile("deeply nested inline tables", &deep_tables, 1),
        profile("a deeply dotted header", &deep_headers, 1),
        // The position where the file passes 1 MiB: line 104858 (10 bytes a line).
        profile("a 10 MB file", &ten_mb, 104_858),
        profile("a fault at the end of a large file", &near_cap, 170_001),
        // Unknown keys and sections.
        profile(
            "an unknown top-level key",
            "extends = [\"default\"]\nbogus = 1\n",
            2,
        ),
        profile("a misspelt key", "[filesystem]\nrw_paths = []\n", 2),
        profile("an unknown section", "[filesystems]\nread_only = []\n", 1),
        profile("a misspelt limit", "[limits]\nmemroy = \"1G\"\n", 2),
        profile("an unknown network key", "[network]\nports = [80]\n", 2),
        profile(
            "an unknown syscall",
            "extends = [\"default\"]\n[syscalls]\nallow = [\"nosuchcall\"]\n",
            3,
        ),
        profile(
            "an unknown syscall group",
            "extends = [\"default\"]\n[syscalls]\nallow = [\"@nosuchgroup\"]\n",
            3,
        ),
        profile(
            "an unknown scratch key",
            "[filesystem.scratch]\nsise = \"1M\"\n",
            2,
        ),
        // Wrong types.
        profile(
            "a string for a list",
            "[filesystem]\nread_only = \"/usr\"\n",
            2,
        ),
        profile("numbers for paths", "[filesystem]\nread_only = [1, 2]\n", 2),
        profile("a word for a count", "[limits]\nprocesses = \"many\"\n", 2),
        profile("a number for a mode", "[network]\nmode = 1\n", 2),
        profile(
            "an unknown network mode",
            "[network]\nmode = \"internet\"\n",
            2,
        ),
        profile("a list for a table", "[env]\nset = [\"A=B\"]\n", 2),
        profile(
            "a boolean for a duration",
            "[limits]\nwall_time = true\n",
            2,
        ),
        profile("a number for a description", "description = 3\n", 1),
        profile(
            "a table for a section's key",
            "[limits]\nmemory = { size = \"1G\" }\n",
            2,
        ),
        profile(
            "an unknown seccomp action",
            "extends = [\"default\"]\n[syscalls]\naction = \"explode\"\n",
            3,
        ),
        // Absurd sizes and durations.
        profile(
            "a size over 2^64",
            "extends = [\"default\"]\n[limits]\nmemory = \"99999999999999999999\"\n",
            3,
        ),
        profile(
            "a size that overflows its unit",
            "extends = [\"default\"]\n[limits]\nmemory = \"16777216T\"\n",
            3,
        ),
        profile(
            "a decimal size unit",
            "extends = [\"default\"]\n[limits]\nmemory = \"64MB\"\n",
            3,
        ),
        profile(
            "a fractional size",
            "extends = [\"default\"]\n[limits]\nmemory = \"1.5G\"\n",
            3,
        ),
        profile(
            "a duration without a unit",
            "extends = [\"default\"]\n[limits]\nwall_time = \"30\"\n",
            3,
        ),
        profile(
            "a duration beyond any clock",
            "extends = [\"default\"]\n[limits]\nwall_time = \"99999999999999999999h\"\n",
            3,
        ),
        profile(
            "a negative count",
            "extends = [\"default\"]\n[limits]\nprocesses = -1\n",
            3,
        ),
        profile(
            "an integer over 2^63",
            "extends = [\"default\"]\n[limits]\nopen_files = 99999999999999999999\n",
            3,
        ),
        // extends.
        Case {
            name: "an extends cycle",
            input: Input::Files {
                files: vec![
                    ("a.toml", "extends = [\"./b.toml\"]\n".into()),
                    ("b.toml", "\nextends = [\"./a.toml\"]\n".into()),
                ],
                file: 1,
                line: 2,
            },
        },
        Case {
            name: "a profile extending itself",
            input: Input::Files {
                files: vec![("self.toml", "extends = [\"./self.toml\"]\n".into())],
                file: 0,
                line: 1,
            },
        },
        profile(
            "extends of a missing name",
            "\nextends = [\"nosuch-profile\"]\n",
            2,
        ),
        profile(
            "extends of a missing file",
            "extends = [\"/nonexistent/x.toml\"]\n",
            1,
        ),
        profile(
            "extends of an invalid name",
            "extends = [\"bad name!\"]\n",
            1,
        ),
        Case {
            name: "extends of a broken file",
            input: Input::Files {
                files: vec![
                    ("top.toml", "extends = [\"./base.toml\"]\n".into()),
                    ("base.toml", "[limits]\n\nmemory = = 1\n".into()),
                ],
                file: 1,
                line: 3,
            },
        },
        Case {
            name: "an extends chain 40 deep",
            input: Input::Files {
                files: chain,
                file: usize::MAX,
                line: 0,
            },
        },
        // Paths.
        profile(
            "a relative path",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"usr/bin\"]\n",
            3,
        ),
        profile(
            "a path with ..",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"/usr/../etc\"]\n",
            3,
        ),
        profile(
            "a missing read-write directory",
            "extends = [\"default\"]\n[filesystem]\nread_write = [\"/nonexistent-rw-dir\"]\n",
            3,
        ),
        profile(
            "an empty path",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"\"]\n",
            3,
        ),
        profile(
            "a NUL inside a path",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"/usr\\u0000/bin\"]\n",
            3,
        ),
        profile(
            "an unknown variable",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"${NOSUCH}/x\"]\n",
            3,
        ),
        profile(
            "a bare $",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"$HOME\"]\n",
            3,
        ),
        profile(
            "an unterminated variable",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"${HOME\"]\n",
            3,
        ),
        profile(
            "a bind over /proc",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"/proc\"]\n",
            3,
        ),
        profile(
            "a relative cwd",
            "extends = [\"default\"]\ncwd = \"relative\"\n",
            2,
        ),
        profile(
            "a removal of what is not there",
            "extends = [\"default\"]\n[filesystem]\nread_only = [\"!/nonexistent-entry\"]\n",
            3,
        ),
        Case {
            name: "-p of a fifo",
            input: Input::Fifo,
        },
        // Bad command lines.
        command("an empty command", &[], "no command"),
        args("no -- and no command", &[], "no command"),
        command("an empty program name", &[""], "name is empty"),
        args(
            "--rw of a missing directory",
            &["--rw", "/nonexistent-rw-flag"],
            "--rw",
        ),
        args("--ro with ..", &["--ro", "../x"], "--ro"),
        args("--rw with ..", &["--rw", "a/../../b"], "--rw"),
        args(
            "--timeout without a unit",
            &["--timeout", "30"],
            "--timeout",
        ),
        args("--timeout in words", &["--timeout", "forever"], "--timeout"),
        args(
            "--memory in decimal units",
            &["--memory", "64MB"],
            "--memory",
        ),
        args(
            "--memory over 2^64",
            &["--memory", "99999999999999999999"],
            "--memory",
        ),
        args(
            "--limit of an unknown key",
            &["--limit", "nosuch=1"],
            "--limit",
        ),
        args(
            "--limit with a bad value",
            &["--limit", "processes=lots"],
            "--limit",
        ),
        args("--limit without =", &["--limit", "processes"], "--limit"),
        args("--env without =", &["--env", "NOEQUALS"], "--env"),
        args(
            "--cwd that does not exist",
            &["--cwd", "/nonexistent-cwd"],
            "--cwd",
        ),
        args(
            "-p of a missing name",
            &["-p", "nosuch-profile"],
            "nosuch-profile",
        ),
        args(
            "-p of a missing file",
            &["-p", "/nonexistent/p.toml"],
            "/nonexistent/p.toml",
        ),
        args("-p of a directory", &["-p", "/etc/"], "/etc"),
        args(
            "-p of a device that never ends",
            &["-p", "/dev/zero"],
            "/dev/zero",
        ),
        args("--net of an unknown mode", &["--net", "bogus"], "--net"),
        args("an unknown flag", &["--bogus"], "--bogus"),
        args(
            "--ro of the longest path the kernel passes",
            &["--ro", &long_path],
            "--ro",
        ),
        args(
            "-p of the longest name the kernel passes",
            &["-p", &long],
            "-p",
        ),
        args(
            "--env of the longest word the kernel passes, without =",
            &["--env", &long],
            "--env",
        ),
    ]
}

/// A directory the jail may write, holding a canary file, given to the jail's uid.
fn canary(ctx: &Ctx) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir(0o755);
    let file = dir.path().join("canary");
    std::fs::write(&file, "untouched\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    give_to_jail(ctx, dir.path());
    (dir, file)
}

/// Run one case as `ctx`; returns what failed, if anything.
fn check(ctx: &Ctx, case: &Case) -> Result<(), String> {
    let (canary_dir, canary_file) = canary(ctx);
    let files = tempdir(0o755);
    let mut cmd_args: Vec<String> = vec!["run".into()];
    // The file and line the error must name, or the text it must hold.
    let mut want_file: Option<(std::path::PathBuf, usize)> = None;
    let mut want_text: Option<&str> = None;
    let write = |name: &str, data: &[u8]| {
        let p = files.path().join(name);
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    };
    let mut argv: Vec<String> = vec!["sh".into(), "-c".into()];
    argv.push(format!("echo ran > {}", canary_file.display()));
    match &case.input {
        Input::Profile { bytes, line } => {
            let p = write("case.toml", bytes);
            cmd_args.extend(["-p".into(), p.display().to_string()]);
            want_file = Some((p, *line));
        }
        Input::Files {
            files: fs,
            file,
            line,
        } => {
            let paths: Vec<_> = fs.iter().map(|(n, t)| write(n, t.as_bytes())).collect();
            cmd_args.extend(["-p".into(), paths[0].display().to_string()]);
            if let Some(p) = paths.get(*file) {
                want_file = Some((p.clone(), *line));
            } else {
                want_text = Some("extends");
            }
        }
        Input::Fifo => {
            let p = files.path().join("fifo.toml");
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
            cmd_args.extend(["-p".into(), p.display().to_string()]);
            want_text = Some("not a regular file");
        }
        Input::Args {
            args,
            argv: a,
            names,
        } => {
            cmd_args.extend(args.iter().cloned());
            want_text = Some(names);
            if let Some(a) = a {
                argv = a.clone();
            }
        }
    }
    cmd_args.extend(["--rw".into(), canary_dir.path().display().to_string()]);
    if case.name != "no -- and no command" {
        cmd_args.push("--".into());
        cmd_args.extend(argv);
    }
    let mut cmd = ctx.tooljail(&cmd_args);
    cmd.current_dir(files.path());
    let r = run_for(cmd, Duration::from_secs(30));
    let short = |s: &str| s.chars().take(600).collect::<String>();
    let what = format!(
        "status {:?} after {:?}, stderr: {}",
        r.status,
        r.elapsed,
        short(&r.stderr)
    );
    if r.timed_out || r.status.and_then(|s| s.code()) != Some(125) {
        return Err(format!("not exit 125: {what}"));
    }
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 1 || !lines[0].starts_with("tooljail: ") {
        return Err(format!("not one `tooljail: ` line: {what}"));
    }
    let line = lines[0];
    if let Some((path, want_line)) = want_file {
        let prefix = format!("tooljail: {}:", path.display());
        let Some(pos) = line.strip_prefix(&prefix) else {
            return Err(format!("does not start with {prefix:?}: {what}"));
        };
        let mut nums = pos.splitn(3, ':');
        let l: Option<usize> = nums.next().and_then(|n| n.parse().ok());
        let c: Option<usize> = nums.next().and_then(|n| n.parse().ok());
        match (l, c) {
            (Some(l), Some(c)) if c >= 1 && (want_line == 0 || l == want_line) => {}
            _ => return Err(format!("not at line {want_line} (file:line:col): {what}")),
        }
    }
    if let Some(text) = want_text {
        if !line.contains(text) {
            return Err(format!("does not name {text:?}: {what}"));
        }
    }
    let after = std::fs::read_to_string(&canary_file).unwrap();
    if after != "untouched\n" || std::fs::read_dir(canary_dir.path()).unwrap().count() != 1 {
        return Err(format!("the command ran (canary: {after:?}): {what}"));
    }
    Ok(())
}

#[test]
fn every_malformed_input_is_refused_before_anything_runs() {
    crate::support::init();
    let cases = cases();
    assert!(
        cases.len() >= 60,
        "the corpus has only {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for ctx in identities() {
        for case in &cases {
            if let Err(why) = check(&ctx, case) {
                failures.push(format!("[{:?}] {}: {why}", ctx.who, case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The corpus's canary is a real detector: the same command with a sound command line runs and
/// writes it.
#[test]
fn the_canary_shows_a_command_that_ran() {
    crate::support::init();
    for ctx in identities() {
        let (dir, file) = canary(&ctx);
        let script = format!("echo ran > {}", file.display());
        let r = crate::support::run(ctx.tooljail([
            "run",
            "--rw",
            dir.path().to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ]));
        r.expect(0);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "ran\n",
            "{}",
            r.dump()
        );
    }
}

/// An argument longer than the kernel's MAX_ARG_STRLEN (such as a 1 MB one) cannot reach
/// tooljail at all: execve refuses it (E2BIG) and nothing starts. What the corpus can give
/// tooljail is the longest argument that does pass.
#[test]
fn long_arguments_reach_tooljail_only_up_to_the_kernel_limit() {
    let mb = "a".repeat(1 << 20);
    let e = std::process::Command::new(crate::support::binary())
        .args(["run", "--", "echo", &mb])
        .output()
        .expect_err("a 1 MB argument was passed to a program");
    assert_eq!(e.raw_os_error(), Some(libc::E2BIG), "{e}");
    let ok = std::process::Command::new("/bin/true")
        .arg("a".repeat(LONGEST_ARG))
        .status()
        .unwrap();
    assert!(ok.success());
}
