//! Helpers shared by the profile tests (tests/profiles_*.rs): run a shipped profile's tool in
//! the jail with a report, make working directories the jail's uid can use, snapshot a tree,
//! and serve HTTP on loopback.

use super::{run_for, tempdir, Ctx, Run};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bound for one jailed tool run (a C build on a loaded 2-core machine is the slowest).
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// One jailed run: its output and the parsed `--report`.
pub struct Jailed {
    pub run: Run,
    pub report: Value,
}

impl Jailed {
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.run.code(),
            code,
            "unexpected exit code\n{}",
            self.dump()
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.run.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.run.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// The report's denied syscall names.
    pub fn denied(&self) -> Vec<String> {
        self.report["denied_syscalls"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The report agrees with the exit status the caller saw.
    #[track_caller]
    pub fn report_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.report["exit_code"],
            serde_json::json!(code),
            "report exit_code\n{}",
            self.dump()
        );
        assert_eq!(self.report["outcome"], "exited", "{}", self.dump());
        self
    }

    pub fn dump(&self) -> String {
        format!("{}\n--- report\n{:#}", self.run.dump(), self.report)
    }
}

/// `tooljail run -p PROFILE [extra...] -- argv` in `cwd` as `ctx`, with a report.
pub fn jail(ctx: &Ctx, cwd: &Path, profile: &str, extra: &[&str], argv: &[&str]) -> Jailed {
    jail_env(ctx, cwd, profile, extra, &[], argv)
}

/// [`jail`] with extra variables in tooljail's own environment (for `[env] keep`).
pub fn jail_env(
    ctx: &Ctx,
    cwd: &Path,
    profile: &str,
    extra: &[&str],
    env: &[(&str, &str)],
    argv: &[&str],
) -> Jailed {
    // Reports and the audit log go to a directory every identity may write, outside the jail,
    // removed when this run's report has been read.
    let out = tempdir(0o1777);
    let report = out.path().join("report.json");
    let audit = out.path().join("audit.jsonl");
    let mut args: Vec<String> = vec![
        "run".into(),
        "-p".into(),
        profile.into(),
        "--report".into(),
        report.display().to_string(),
        "--audit-log".into(),
        audit.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("--".into());
    args.extend(argv.iter().map(|s| s.to_string()));
    let mut cmd = ctx.tooljail(&args);
    cmd.current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = run_for(cmd, TOOL_TIMEOUT);
    let report = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    Jailed { run, report }
}

/// A fresh working directory (0755, readable by the jail's uid, not under HOME), with files.
pub fn workdir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir(0o755);
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

/// Give `dir` and everything below it to the jail's uid (a no-op when that is us already, and
/// for root, whose jail writes a `--rw` directory as its owner through an idmapped bind).
pub fn give_to_jail(ctx: &Ctx, dir: &Path) {
    let uid = ctx.own_uid();
    if nix::unistd::geteuid().as_raw() == uid || ctx.is_root() {
        return;
    }
    let out = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(dir)
        .output()
        .expect("chown");
    assert!(out.status.success(), "chown: {out:?}");
}

/// The whole tree as `(relative path, owner uid)`, sorted, for "nothing changed" checks.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let md = e.path().symlink_metadata().unwrap();
            out.push((
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                md.uid(),
                md.len(),
            ));
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// A minimal HTTP/1.0 server on 127.0.0.1:`port` (0: any) in a background thread, answering
/// every request with `body`. Returns the port and a request counter.
pub fn http_server(port: u16, body: &'static str) -> std::io::Result<(u16, Arc<AtomicU32>)> {
    serve(port, move |_| {
        Some(("text/plain", body.as_bytes().to_vec()))
    })
}

/// A minimal HTTP/1.0 server on 127.0.0.1:`port` (0: any) in a background thread: `GET PATH`
/// answers 200 with `route(PATH)` (content type, body), or 404 when that is `None`. Returns the port and a request
/// counter.
pub fn serve(
    port: u16,
    route: impl Fn(&str) -> Option<(&'static str, Vec<u8>)> + Send + 'static,
) -> std::io::Result<(u16, Arc<AtomicU32>)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    let port = listener.local_addr()?.port();
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, (kind, body)) = match route(&path) {
                Some(found) => ("200 OK", found),
                None => ("404 Not Found", ("text/plain", b"not found\n".to_vec())),
            };
            let _ = write!(
                stream,
                "HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    Ok((port, hits))
}

/// A git repository in `p` (holding a README) with one commit, and a change to README left to
/// commit: what a `git commit -qam` in the jail then records.
pub fn git_repo_with_a_change(p: &Path) {
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .current_dir(p)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(["-c", "safe.directory=*"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", p)
            .status()
            .unwrap()
            .success();
        assert!(ok, "host git {args:?}");
    };
    git(&["init", "-q", "-b", "main", "."]);
    git(&["add", "."]);
    git(&["commit", "-qm", "first"]);
    std::fs::write(p.join("README"), "hello\nagain\n").unwrap();
}

/// `tooljail run` arguments after the profile: an identity for git, and the commit of
/// [`git_repo_with_a_change`]'s change with the subject "from the jail".
pub const GIT_COMMIT: &[&str] = &[
    "--env",
    "GIT_AUTHOR_NAME=J",
    "--env",
    "GIT_AUTHOR_EMAIL=j@example.invalid",
    "--env",
    "GIT_COMMITTER_NAME=J",
    "--env",
    "GIT_COMMITTER_EMAIL=j@example.invalid",
    "--",
    "git",
    "commit",
    "-qam",
    "from the jail",
];

/// The subjects of the repository's commits, newest first, one per line.
pub fn git_subjects(p: &Path) -> String {
    let log = Command::new("git")
        .current_dir(p)
        .args(["-c", "safe.directory=*", "log", "--format=%s"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&log.stdout).into_owned()
}
