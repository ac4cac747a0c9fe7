//! Every shipped tool profile, proven against the real tool: the tool does real work inside the
//! jail and the result is checked, then the tool tries what the profile's header says it may not
//! and fails (with the report saying why where it can). Each case runs as root (the jail then
//! runs as nobody) and as the unprivileged test user, bounded in time.
//!
//! The working directory of every run is a fresh 0755 directory under the system temporary
//! directory: readable by the jail's uid, never `/` or HOME (which `${CWD}` profiles refuse).
//! Directories a profile may write are chowned to the jail's uid.
//!
//! Needs the tools installed (tests/setup.sh): python3 nodejs git curl wget jq ripgrep gcc make.

mod common;

use common::{each_identity, run_for, tempdir, unique, Ctx, Run};
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
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// One jailed run: its output and the parsed `--report`.
struct Jailed {
    run: Run,
    report: Value,
}

impl Jailed {
    #[track_caller]
    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.run.code(),
            code,
            "unexpected exit code\n{}",
            self.dump()
        );
        self
    }

    #[track_caller]
    fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.run.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    #[track_caller]
    fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.run.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// The report's denied syscall names.
    fn denied(&self) -> Vec<String> {
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
    fn report_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.report["exit_code"],
            serde_json::json!(code),
            "report exit_code\n{}",
            self.dump()
        );
        assert_eq!(self.report["outcome"], "exited", "{}", self.dump());
        self
    }

    fn dump(&self) -> String {
        format!("{}\n--- report\n{:#}", self.run.dump(), self.report)
    }
}

/// Where reports and audit logs go: writable by every identity, outside every jail.
fn out_dir() -> &'static Path {
    use std::sync::OnceLock;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempdir(0o1777)).path()
}

/// `tooljail run -p PROFILE [extra...] -- argv` in `cwd` as `ctx`, with a report.
fn jail(ctx: &Ctx, cwd: &Path, profile: &str, extra: &[&str], argv: &[&str]) -> Jailed {
    jail_env(ctx, cwd, profile, extra, &[], argv)
}

/// [`jail`] with extra variables in tooljail's own environment (for `[env] keep`).
fn jail_env(
    ctx: &Ctx,
    cwd: &Path,
    profile: &str,
    extra: &[&str],
    env: &[(&str, &str)],
    argv: &[&str],
) -> Jailed {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let report = out_dir().join(format!("report-{}-{n}.json", std::process::id()));
    let audit = out_dir().join(format!("audit-{}-{n}.jsonl", std::process::id()));
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
fn workdir(files: &[(&str, &str)]) -> tempfile::TempDir {
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

/// Give `dir` and everything below it to the jail's uid (a no-op when that is us already).
fn give_to_jail(ctx: &Ctx, dir: &Path) {
    let uid = ctx.jail_uid();
    if nix::unistd::geteuid().as_raw() == uid {
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
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u64)> {
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

// ---------------------------------------------------------------------------------------------
// shell, shell-rw

#[test]
fn shell_reads_the_directory_with_sh_bash_and_coreutils() {
    each_identity(|ctx| {
        let dir = workdir(&[("notes.txt", "beta\nalpha\ngamma\n"), ("sub/x.txt", "x\n")]);
        let before = snapshot(dir.path());
        jail(
            ctx,
            dir.path(),
            "shell",
            &[],
            &[
                "bash",
                "-c",
                "sort notes.txt | head -1; wc -l < notes.txt; find . -type f | sort | tr '\\n' ' '; \
                 echo; sh -c 'echo from-sh'; echo tmp > /tmp/t && cat /tmp/t",
            ],
        )
        .expect(0)
        .stdout_has("alpha\n3\n./notes.txt ./sub/x.txt \nfrom-sh\ntmp\n");
        assert_eq!(snapshot(dir.path()), before);
    });
}

#[test]
fn shell_may_not_write_the_directory_or_see_shadow_or_home() {
    each_identity(|ctx| {
        let dir = workdir(&[("notes.txt", "keep\n")]);
        let before = snapshot(dir.path());
        let r = jail(
            ctx,
            dir.path(),
            "shell",
            &[],
            &[
                "sh",
                "-c",
                "echo x > new.txt; echo write=$?; rm notes.txt; echo rm=$?; \
                 cat /etc/shadow; echo shadow=$?; ls /root /home; echo home=$?; exit 3",
            ],
        );
        r.expect(3)
            .report_exit(3)
            .stdout_has("write=2\nrm=1\nshadow=1\nhome=2\n")
            .stderr_has("Read-only file system")
            .stderr_has("/etc/shadow: No such file or directory");
        assert_eq!(snapshot(dir.path()), before);
    });
}

#[test]
fn shell_rw_creates_renames_and_deletes_in_the_directory() {
    each_identity(|ctx| {
        let dir = workdir(&[("old.txt", "old\n"), ("gone.txt", "bye\n")]);
        give_to_jail(ctx, dir.path());
        jail(
            ctx,
            dir.path(),
            "shell-rw",
            &[],
            &[
                "sh",
                "-c",
                "mkdir -p out/deep && echo made > out/deep/new.txt && mv old.txt out/renamed.txt \
                 && rm gone.txt && ln -s renamed.txt out/link && mkfifo out/fifo && rm out/fifo \
                 && truncate -s 2 out/renamed.txt && cat out/link && echo",
            ],
        )
        .expect(0)
        .stdout_has("ol\n");
        let p = dir.path();
        assert_eq!(
            std::fs::read_to_string(p.join("out/deep/new.txt")).unwrap(),
            "made\n"
        );
        assert!(!p.join("old.txt").exists() && !p.join("gone.txt").exists());
        assert_eq!(
            std::fs::read_link(p.join("out/link")).unwrap(),
            Path::new("renamed.txt")
        );
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(p.join("out/deep/new.txt")).unwrap().uid();
        assert_eq!(owner, ctx.jail_uid(), "files belong to the jail's uid");
    });
}

#[test]
fn shell_rw_may_not_execute_from_the_directory_or_write_outside_it() {
    each_identity(|ctx| {
        let parent = tempdir(0o755);
        let dir = parent.path().join("project");
        let sibling = parent.path().join("sibling");
        for d in [&dir, &sibling] {
            std::fs::create_dir(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(dir.join("run.sh"), "echo ran\n").unwrap();
        std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        give_to_jail(ctx, &dir);
        let script = format!(
            "./run.sh; echo exec=$?; sh ./run.sh; echo x > {s}/planted; echo sibling=$?; \
             echo x > /usr/planted; echo usr=$?; cat /etc/shadow; echo shadow=$?",
            s = sibling.display()
        );
        jail(ctx, &dir, "shell-rw", &[], &["sh", "-c", &script])
            .expect(0)
            .stdout_has("exec=126\nran\nsibling=2\nusr=2\nshadow=1\n")
            .stderr_has("Permission denied");
        // The sibling exists on the host (and is world-writable), but not in the jail.
        assert_eq!(std::fs::read_dir(&sibling).unwrap().count(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// python

const PY_JOB: &str = r#"
import hashlib, json, multiprocessing, os, sys
from concurrent.futures import ThreadPoolExecutor
if __name__ != "__main__":
    raise SystemExit("imported")
words = open("input.txt").read().split()
with ThreadPoolExecutor(4) as ex:
    lengths = list(ex.map(len, words))
# Processes and a semaphore in /dev/shm (scratch): what data scripts commonly do.
with multiprocessing.Pool(2) as pool:
    assert pool.map(len, words) == lengths
os.makedirs("/scratch/out", exist_ok=True)
with open("/scratch/out/result.json", "w") as f:
    json.dump({"words": len(words), "letters": sum(lengths)}, f)
with open("/scratch/out/result.json") as f:
    result = json.load(f)
print("result", result["words"], result["letters"], hashlib.sha256(" ".join(words).encode()).hexdigest()[:12])
print("cwd", os.getcwd(), "home", os.environ["HOME"])
"#;

#[test]
fn python_runs_a_script_reading_the_directory_and_writing_scratch() {
    each_identity(|ctx| {
        let dir = workdir(&[("job.py", PY_JOB), ("input.txt", "one two three\nfour\n")]);
        let before = snapshot(dir.path());
        let expect_hash = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(b"one two three four");
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()[..12].to_string()
        };
        let r = jail(ctx, dir.path(), "python", &[], &["python3", "job.py"]);
        r.expect(0)
            .report_exit(0)
            .stdout_has(&format!("result 4 15 {expect_hash}\n"))
            .stdout_has(&format!("cwd {} home /scratch\n", dir.path().display()));
        assert!(r.denied().is_empty(), "{}", r.dump());
        // No __pycache__, nothing else: the directory is untouched.
        assert_eq!(snapshot(dir.path()), before);
    });
}

const PY_ESCAPE: &str = r#"
import ctypes, errno, os, socket
def attempt(label, fn):
    try:
        fn()
        print(label, "ok")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
attempt("write-cwd", lambda: open("out.txt", "w"))
attempt("write-usr", lambda: open("/usr/lib/planted", "w"))
attempt("read-home-ssh", lambda: open(os.path.expanduser("~/.ssh/id_ed25519")))
attempt("read-root-ssh", lambda: os.listdir("/root/.ssh"))
attempt("read-shadow", lambda: open("/etc/shadow"))
attempt("connect", lambda: socket.create_connection(("192.0.2.1", 80), timeout=5))
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.unshare(0x10000000)
print("unshare", rc, errno.errorcode.get(ctypes.get_errno()))
raise SystemExit(4)
"#;

#[test]
fn python_may_not_write_outside_scratch_read_secrets_or_use_the_network() {
    each_identity(|ctx| {
        let dir = workdir(&[("escape.py", PY_ESCAPE)]);
        let before = snapshot(dir.path());
        let r = jail(ctx, dir.path(), "python", &[], &["python3", "escape.py"]);
        r.expect(4)
            .report_exit(4)
            .stdout_has("write-cwd EROFS\n")
            .stdout_has("write-usr EROFS\n")
            .stdout_has("read-home-ssh ENOENT\n")
            .stdout_has("read-root-ssh ENOENT\n")
            .stdout_has("read-shadow ENOENT\n")
            .stdout_has("connect ENETUNREACH\n")
            .stdout_has("unshare -1 EPERM\n");
        // The seccomp denial is in the report, by name.
        assert_eq!(r.denied(), ["unshare"], "{}", r.dump());
        assert_eq!(snapshot(dir.path()), before);
    });
}

// ---------------------------------------------------------------------------------------------
// node

const NODE_JOB: &str = r#"
const fs = require('fs'), os = require('os'), path = require('path');
const { Worker } = require('worker_threads');
const data = JSON.parse(fs.readFileSync('data.json', 'utf8'));
const out = path.join(os.tmpdir(), 'sum.txt');
new Worker('const { parentPort, workerData } = require("worker_threads"); parentPort.postMessage(workerData.reduce((a, b) => a + b, 0));',
           { eval: true, workerData: data.values })
  .on('message', (sum) => {
    fs.writeFileSync(out, String(sum));
    console.log('sum', fs.readFileSync(out, 'utf8'), 'tmp', os.tmpdir(), 'home', os.homedir());
  });
"#;

#[test]
fn node_runs_a_script_reading_the_directory_and_writing_scratch() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("job.js", NODE_JOB),
            ("data.json", r#"{"values":[4,5,33]}"#),
        ]);
        let before = snapshot(dir.path());
        let r = jail(ctx, dir.path(), "node", &[], &["node", "job.js"]);
        r.expect(0)
            .report_exit(0)
            .stdout_has("sum 42 tmp /tmp home /scratch\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
        assert_eq!(snapshot(dir.path()), before);
    });
}

#[test]
fn node_may_not_write_the_directory_or_reach_a_host_server() {
    // A server on the host's loopback: the jail's `lo` is its own, so it is unreachable.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    each_identity(|ctx| {
        let script = format!(
            r#"
const fs = require('fs'), net = require('net');
try {{ fs.writeFileSync('planted.txt', 'x'); console.log('write ok'); }} catch (e) {{ console.log('write', e.code); }}
try {{ fs.readFileSync('/etc/shadow'); console.log('shadow ok'); }} catch (e) {{ console.log('shadow', e.code); }}
const s = net.connect({{ host: '127.0.0.1', port: {port} }});
s.on('connect', () => {{ console.log('connect ok'); process.exit(0); }});
s.on('error', (e) => {{ console.log('connect', e.code); process.exit(5); }});
"#
        );
        let dir = workdir(&[("escape.js", &script)]);
        let before = snapshot(dir.path());
        jail(ctx, dir.path(), "node", &[], &["node", "escape.js"])
            .expect(5)
            .report_exit(5)
            .stdout_has("write EROFS\nshadow ENOENT\nconnect ECONNREFUSED\n");
        assert_eq!(snapshot(dir.path()), before);
    });
    assert!(
        listener.accept().is_err(),
        "the host server saw a connection from the jail"
    );
}

// ---------------------------------------------------------------------------------------------
// git, git-rw

/// Run host git in `dir`, bounded; panics with its output on failure.
fn host_git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(["-c", "safe.directory=*", "-c", "user.name=Test", "-c"])
        .arg("user.email=test@example.invalid")
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir);
    let r = run_for(cmd, Duration::from_secs(30));
    assert_eq!(r.code(), 0, "host git {args:?}\n{}", r.dump());
    r.stdout
}

/// A repository with two commits and an uncommitted change, readable by everyone. Its config
/// names no user, so commits in the jail need the identity from the caller.
fn test_repo() -> tempfile::TempDir {
    let dir = workdir(&[("README", "hello\n"), ("src/lib.txt", "fn one\n")]);
    let p = dir.path();
    host_git(p, &["init", "-q", "-b", "main", "."]);
    host_git(p, &["add", "."]);
    host_git(p, &["commit", "-qm", "first commit"]);
    std::fs::write(p.join("src/lib.txt"), "fn one\nfn two\n").unwrap();
    host_git(p, &["commit", "-qam", "second commit"]);
    std::fs::write(p.join("README"), "hello\nworld\n").unwrap();
    // A hook that would leave a mark if it ran.
    let hook = p.join(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/bin/sh\ntouch \"$GIT_DIR/../HOOK_RAN\"\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(p)
        .status()
        .unwrap();
    dir
}

#[test]
fn git_reads_log_diff_show_grep_and_status() {
    each_identity(|ctx| {
        let repo = test_repo();
        let before = snapshot(repo.path());
        let r = jail(
            ctx,
            repo.path(),
            "git",
            &[],
            &[
                "sh",
                "-c",
                "git log --format=%s && git diff --stat && git show --format=%s --stat HEAD \
                 && git grep -n two && git status --short && git rev-parse --abbrev-ref HEAD",
            ],
        );
        r.expect(0)
            .stdout_has("second commit\nfirst commit\n")
            .stdout_has(" README | 1 +\n")
            .stdout_has("second commit\n\n src/lib.txt | 1 +\n")
            .stdout_has("src/lib.txt:2:fn two\n")
            .stdout_has(" M README\n")
            .stdout_has("main\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
        // Not even the index was refreshed (GIT_OPTIONAL_LOCKS=0).
        assert_eq!(snapshot(repo.path()), before);
    });
}

#[test]
fn git_may_not_commit_push_or_read_credentials() {
    each_identity(|ctx| {
        let repo = test_repo();
        let before = snapshot(repo.path());
        let r = jail_env(
            ctx,
            repo.path(),
            "git",
            &[],
            &[
                ("GIT_AUTHOR_NAME", "A"),
                ("GIT_AUTHOR_EMAIL", "a@example.invalid"),
            ],
            &[
                "sh",
                "-c",
                "git commit -qam nope; echo commit=$?; \
                 git push -q http://127.0.0.1:9/x.git main; echo push=$?; \
                 ls -d ~/.ssh /root/.ssh ~/.git-credentials; echo creds=$?; \
                 echo \"author=${GIT_AUTHOR_NAME:-unset}\"",
            ],
        );
        r.expect(0)
            .stdout_has("commit=128\npush=128\ncreds=2\nauthor=unset\n")
            .stderr_has("Read-only file system");
        assert_eq!(snapshot(repo.path()), before);
    });
}

#[test]
fn git_rw_commits_and_checks_out_with_the_callers_identity() {
    each_identity(|ctx| {
        let repo = test_repo();
        give_to_jail(ctx, repo.path());
        let ident = [
            ("GIT_AUTHOR_NAME", "Jailed Author"),
            ("GIT_AUTHOR_EMAIL", "author@example.invalid"),
            ("GIT_COMMITTER_NAME", "Jailed Committer"),
            ("GIT_COMMITTER_EMAIL", "committer@example.invalid"),
        ];
        let r = jail_env(
            ctx,
            repo.path(),
            "git-rw",
            &[],
            &ident,
            &[
                "sh",
                "-c",
                "git commit -qam 'third commit' && git checkout -q -b feature \
                 && echo new > new.txt && git add new.txt && git commit -qm 'feature commit' \
                 && git checkout -q main && git log --all --format='%an|%cn|%s' | sort",
            ],
        );
        r.expect(0).stdout_has(
            "Jailed Author|Jailed Committer|feature commit\nJailed Author|Jailed Committer|third commit\nTest|Test|first commit\n",
        );
        assert!(r.denied().is_empty(), "{}", r.dump());
        let p = repo.path();
        assert_eq!(
            host_git(p, &["rev-parse", "--abbrev-ref", "HEAD"]),
            "main\n"
        );
        assert_eq!(
            host_git(p, &["log", "-1", "--format=%an <%ae> %s", "feature"]),
            "Jailed Author <author@example.invalid> feature commit\n"
        );
        assert!(!p.join("new.txt").exists(), "checkout of main removed it");
        assert!(
            !p.join("HOOK_RAN").exists(),
            "the repository's pre-commit hook ran"
        );
    });
}

#[test]
fn git_rw_invents_no_identity_and_cannot_push() {
    // A bare "remote" on the host, writable by everyone: only the missing network stops a push.
    let remote = tempdir(0o777);
    host_git(remote.path(), &["init", "-q", "--bare", "."]);
    Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(remote.path())
        .status()
        .unwrap();
    let remote_before = snapshot(remote.path());
    each_identity(|ctx| {
        let repo = test_repo();
        give_to_jail(ctx, repo.path());
        let url = format!("ssh://git@127.0.0.1:22{}", remote.path().display());
        let script = format!(
            "git commit -qam anon; echo anon=$?; \
             git push -q file://{r} main; echo push-file=$?; \
             git push -q {url} main; echo push-ssh=$?",
            r = remote.path().display()
        );
        let r = jail(ctx, repo.path(), "git-rw", &[], &["sh", "-c", &script]);
        r.expect(0)
            .stdout_has("anon=128\npush-file=128\npush-ssh=128\n")
            .stderr_has("Author identity unknown");
    });
    assert_eq!(snapshot(remote.path()), remote_before);
}

// ---------------------------------------------------------------------------------------------
// http

/// A minimal HTTP/1.0 server on 127.0.0.1:`port` (0: any) in a background thread, answering
/// every request with `body`. Returns the port and a request counter.
fn http_server(port: u16, body: &'static str) -> std::io::Result<(u16, Arc<AtomicU32>)> {
    serve(port, move |_| {
        Some(("text/plain", body.as_bytes().to_vec()))
    })
}

/// A minimal HTTP/1.0 server on 127.0.0.1:`port` (0: any) in a background thread: `GET PATH`
/// answers 200 with `route(PATH)` (content type, body), or 404 when that is `None`. Returns the port and a request
/// counter.
fn serve(
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

#[test]
fn http_fetches_from_an_allowed_port_with_curl_and_wget() {
    // The shipped ports are 80 and 443; a test may not bind those unless root, so this case uses
    // a profile that extends `http` and allows the test server's port as well.
    let (port, hits) = http_server(0, "payload-from-host\n").unwrap();
    let (_pdir, profile) = common::profile_file(&format!(
        "description = \"http plus a test port\"\nextends = [\"http\"]\n[network]\ntcp_connect = [{port}]\n"
    ));
    let profile = profile.display().to_string();
    each_identity(|ctx| {
        let dir = workdir(&[]);
        let script = format!(
            "curl -fsS -o page.txt http://127.0.0.1:{port}/a && cat page.txt && \
             wget -q -O - http://localhost:{port}/b"
        );
        let r = jail(ctx, dir.path(), &profile, &[], &["sh", "-c", &script]);
        r.expect(0)
            .report_exit(0)
            .stdout_has("payload-from-host\npayload-from-host\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
    });
    assert!(hits.load(Ordering::SeqCst) >= 2);
}

#[test]
fn http_fetches_from_port_80_as_shipped() {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIPPED: binding 127.0.0.1:80 needs root; the allowed-port case covers curl");
        return;
    }
    // Another test process on this machine may hold the port for a moment: wait for it.
    let mut bound = http_server(80, "port-80-payload\n");
    for _ in 0..100 {
        match &bound {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                std::thread::sleep(Duration::from_millis(200));
                bound = http_server(80, "port-80-payload\n");
            }
            _ => break,
        }
    }
    let (_, hits) = bound
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:80 for the test ({e}); free the port"));
    each_identity(|ctx| {
        let dir = workdir(&[]);
        jail(
            ctx,
            dir.path(),
            "http",
            &[],
            &[
                "sh",
                "-c",
                "curl -fsS http://127.0.0.1/ && curl -fsS http://localhost:80/x",
            ],
        )
        .expect(0)
        .stdout_has("port-80-payload\nport-80-payload\n");
    });
    assert!(hits.load(Ordering::SeqCst) >= 2);
}

#[test]
fn http_may_not_connect_to_other_ports_or_read_keys() {
    let (port, hits) = http_server(0, "must-not-arrive\n").unwrap();
    each_identity(|ctx| {
        let dir = workdir(&[]);
        let script = format!(
            "curl -sS http://127.0.0.1:{port}/; echo curl=$?; \
             python3 -c 'import socket,errno\n\
try:\n    socket.create_connection((\"127.0.0.1\", {port}), timeout=5)\n    print(\"py ok\")\n\
except OSError as e:\n    print(\"py\", errno.errorcode[e.errno])'; \
             ls /etc/ssl/private ~/.netrc; echo keys=$?; exit 7"
        );
        jail(ctx, dir.path(), "http", &[], &["sh", "-c", &script])
            .expect(7)
            .report_exit(7)
            // Landlock refuses connect(2) with EACCES; curl reports "Couldn't connect" (7).
            .stdout_has("curl=7\npy EACCES\nkeys=2\n");
    });
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a connection reached the server"
    );
}

// ---------------------------------------------------------------------------------------------
// search

#[test]
fn search_finds_with_rg_grep_and_find() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("a.rs", "// needle in a\n"),
            ("deep/er/b.md", "text\nneedle in b\n"),
            ("c.txt", "nothing\n"),
        ]);
        jail(
            ctx,
            dir.path(),
            "search",
            &[],
            &[
                "sh",
                "-c",
                "rg -n --sort path needle && grep -rl needle . | sort && find . -name '*.md'",
            ],
        )
        .expect(0)
        .stdout_has("a.rs:1:// needle in a\ndeep/er/b.md:2:needle in b\n")
        .stdout_has("./a.rs\n./deep/er/b.md\n./deep/er/b.md\n");
    });
}

#[test]
fn search_may_not_leave_the_directory() {
    each_identity(|ctx| {
        let parent = tempdir(0o755);
        let dir = parent.path().join("tree");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret = parent.path().join("secret.txt");
        std::fs::write(&secret, "needle outside\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&secret, dir.join("link.txt")).unwrap();
        std::fs::write(dir.join("in.txt"), "needle inside\n").unwrap();
        let r = jail(
            ctx,
            &dir,
            "search",
            &[],
            &[
                "sh",
                "-c",
                "rg -L --no-messages needle .; echo rg=$?; grep -r needle /etc /root 2>&1 | grep -c outside; \
                 cat link.txt; echo link=$?",
            ],
        );
        r.expect(0)
            .stdout_has("needle inside\n")
            .stdout_has("link=1\n")
            .stderr_has("link.txt: No such file or directory");
        assert!(!r.run.stdout.contains("needle outside"), "{}", r.dump());
    });
}

// ---------------------------------------------------------------------------------------------
// jq

#[test]
fn jq_transforms_a_file_in_the_directory() {
    each_identity(|ctx| {
        let dir = workdir(&[(
            "data.json",
            r#"{"items":[{"name":"a","n":2},{"name":"b","n":40}]}"#,
        )]);
        jail(
            ctx,
            dir.path(),
            "jq",
            &[],
            &[
                "jq",
                "-c",
                "{total: ([.items[].n] | add), names: [.items[].name]}",
                "data.json",
            ],
        )
        .expect(0)
        .report_exit(0)
        .stdout_has("{\"total\":42,\"names\":[\"a\",\"b\"]}\n");
    });
}

#[test]
fn jq_may_not_read_outside_the_directory() {
    each_identity(|ctx| {
        let parent = tempdir(0o755);
        let dir = parent.path().join("json");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let outside = parent.path().join("outside.json");
        std::fs::write(&outside, "{\"secret\":1}").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = outside.display().to_string();
        jail(ctx, &dir, "jq", &[], &["jq", ".secret", &o])
            .expect(2)
            .report_exit(2)
            .stderr_has("No such file or directory");
    });
}

// ---------------------------------------------------------------------------------------------
// build-c

const MAKEFILE: &str = "\
CFLAGS = -O2 -Wall -Werror
prog: main.o sq.o
\t$(CC) -o $@ main.o sq.o
check: prog
\t./prog 7 > out.txt
\tgrep -qx 49 out.txt
escape: prog
\techo x > ../escaped.txt
";

#[test]
fn build_c_compiles_links_and_runs_make_check() {
    each_identity(|ctx| {
        let dir = workdir(&[
            ("Makefile", MAKEFILE),
            (
                "main.c",
                "#include <stdio.h>\n#include <stdlib.h>\nint sq(int);\n\
                 int main(int c, char **v){ printf(\"%d\\n\", sq(c > 1 ? atoi(v[1]) : 0)); return 0; }\n",
            ),
            ("sq.c", "int sq(int x) { return x * x; }\n"),
        ]);
        give_to_jail(ctx, dir.path());
        let r = jail(ctx, dir.path(), "build-c", &[], &["make", "-j2", "check"]);
        r.expect(0).report_exit(0);
        assert!(r.denied().is_empty(), "{}", r.dump());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "49\n"
        );
        for f in ["main.o", "sq.o", "prog"] {
            assert!(dir.path().join(f).exists(), "{f} missing\n{}", r.dump());
        }
    });
}

#[test]
fn build_c_may_not_write_outside_its_directory_or_run_from_scratch() {
    each_identity(|ctx| {
        let parent = tempdir(0o777);
        let dir = parent.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("Makefile"), MAKEFILE).unwrap();
        std::fs::write(dir.join("main.c"), "int main(void) { return 0; }\n").unwrap();
        std::fs::write(dir.join("sq.c"), "int sq(int x) { return x; }\n").unwrap();
        give_to_jail(ctx, &dir);
        let marker = unique("escape");
        let script = format!(
            "make -s escape; echo escape=$?; echo x > /usr/include/{marker}.h; echo usr=$?; \
             cp prog /tmp/prog && /tmp/prog; echo scratch-exec=$?; exit 9"
        );
        let r = jail(ctx, &dir, "build-c", &[], &["sh", "-c", &script]);
        // `../escaped.txt` lands in the jail's own tmpfs (the parent of the directory is not
        // the host's); /usr is read-only; scratch is noexec.
        r.expect(9)
            .report_exit(9)
            .stdout_has("escape=0\nusr=2\nscratch-exec=126\n");
        assert!(
            !parent.path().join("escaped.txt").exists(),
            "the build wrote outside its directory on the host"
        );
        assert!(!Path::new(&format!("/usr/include/{marker}.h")).exists());
    });
}

// ---------------------------------------------------------------------------------------------
// default, base

#[test]
fn default_and_base_work_in_scratch_and_see_none_of_the_callers_files() {
    each_identity(|ctx| {
        let dir = workdir(&[("mine.txt", "the caller's file\n")]);
        let mine = dir.path().join("mine.txt").display().to_string();
        for profile in ["default", "base"] {
            let script = format!(
                "pwd; printf 'b\\na\\n' > list && sort list | tr '\\n' ' ' && echo; \
                 cat {mine}; echo mine=$?; ls /root /home; echo home=$?; \
                 cat /etc/shadow; echo shadow=$?; exit 6"
            );
            jail(ctx, dir.path(), profile, &[], &["sh", "-c", &script])
                .expect(6)
                .report_exit(6)
                .stdout_has("/scratch\na b \nmine=1\nhome=2\nshadow=1\n");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// pip-install, against a package index on loopback

/// A PEP 503 "simple" index in a directory: `tjwheel` as a wheel, `tjsdist` only as a source
/// archive whose setup.py would leave a mark in `mark_dir` if it ever ran. Built with the host's
/// python3 (zipfile, tarfile). Returns the index directory.
fn package_index(mark_dir: &Path) -> tempfile::TempDir {
    let dir = tempdir(0o755);
    let script = r#"
import base64, hashlib, io, os, sys, tarfile, zipfile
root, mark = sys.argv[1], sys.argv[2]
def index(name, fname, data):
    d = os.path.join(root, "simple", name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, fname), "wb").write(data)
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(d, "index.html"), "w").write(
        f'<html><body><a href="{fname}#sha256={h}">{fname}</a></body></html>')
files = {
    "tjwheel/__init__.py": "VALUE = 42\n",
    "tjwheel-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tjwheel\nVersion: 1.0\n",
    "tjwheel-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for p, c in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{p},sha256={digest},{len(c)}")
record.append("tjwheel-1.0.dist-info/RECORD,,")
files["tjwheel-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    for p, c in files.items():
        z.writestr(p, c)
index("tjwheel", "tjwheel-1.0-py3-none-any.whl", buf.getvalue())
setup = f"open({os.path.join(mark, 'SETUP_RAN')!r}, 'w').write('x')\nfrom setuptools import setup\nsetup(name='tjsdist', version='1.0')\n"
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    for p, c in {"tjsdist-1.0/setup.py": setup,
                 "tjsdist-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: tjsdist\nVersion: 1.0\n"}.items():
        info = tarfile.TarInfo(p)
        info.size = len(c)
        t.addfile(info, io.BytesIO(c.encode()))
index("tjsdist", "tjsdist-1.0.tar.gz", buf.getvalue())
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).arg(dir.path()).arg(mark_dir);
    let r = run_for(cmd, Duration::from_secs(30));
    assert_eq!(r.code(), 0, "building the test index\n{}", r.dump());
    dir
}

/// Serve `index` (a directory) on loopback; `/x/` serves `/x/index.html`.
fn serve_dir(index: &Path) -> (u16, Arc<AtomicU32>) {
    let root = index.to_path_buf();
    serve(0, move |path| {
        let rel = path.trim_start_matches('/').split(['?', '#']).next()?;
        if rel.split('/').any(|c| c == "..") {
            return None;
        }
        let mut file = root.join(rel);
        let mut kind = "application/octet-stream";
        if path.ends_with('/') {
            file = file.join("index.html");
            kind = "text/html";
        }
        std::fs::read(file).ok().map(|b| (kind, b))
    })
    .unwrap()
}

fn require_pip() {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "--version"]);
    let r = run_for(cmd, Duration::from_secs(30));
    assert_eq!(
        r.code(),
        0,
        "pip is missing: apt-get install -y python3-pip (tests/setup.sh)\n{}",
        r.dump()
    );
}

/// A profile extending `pip-install` that may also reach the test index's port.
fn pip_profile(port: u16) -> (tempfile::TempDir, String) {
    let (dir, path) = common::profile_file(&format!(
        "description = \"pip-install plus a test index\"\nextends = [\"pip-install\"]\n[network]\ntcp_connect = [{port}]\n"
    ));
    (dir, path.display().to_string())
}

#[test]
fn pip_install_installs_a_wheel_from_a_loopback_index_into_the_directory() {
    require_pip();
    let marks = tempdir(0o777);
    let index = package_index(marks.path());
    let (port, hits) = serve_dir(index.path());
    let (_p, profile) = pip_profile(port);
    let url = format!("http://127.0.0.1:{port}/simple");
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let r = jail_env(
            ctx,
            dir.path(),
            &profile,
            &[],
            &[("PIP_INDEX_URL", &url)],
            &[
                "sh",
                "-c",
                "python3 -m pip install -q --target ./deps tjwheel && \
                 PYTHONPATH=deps python3 -c 'import tjwheel; print(\"value\", tjwheel.VALUE)'",
            ],
        );
        r.expect(0).report_exit(0).stdout_has("value 42\n");
        assert!(r.denied().is_empty(), "{}", r.dump());
        use std::os::unix::fs::MetadataExt;
        let init = dir.path().join("deps/tjwheel/__init__.py");
        assert_eq!(std::fs::read_to_string(&init).unwrap(), "VALUE = 42\n");
        assert_eq!(std::fs::metadata(&init).unwrap().uid(), ctx.jail_uid());
    });
    // The index page and the wheel, once per identity.
    let runs = common::identities().len() as u32;
    assert!(hits.load(Ordering::SeqCst) >= 2 * runs, "the index was used");
}

#[test]
fn pip_install_builds_nothing_from_source_and_installs_nowhere_else() {
    require_pip();
    let marks = tempdir(0o777);
    let index = package_index(marks.path());
    let (port, hits) = serve_dir(index.path());
    let (_p, profile) = pip_profile(port);
    let url = format!("http://127.0.0.1:{port}/simple");
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let script =
            "python3 -m pip install -q --target ./deps tjsdist; echo sdist=$?; \
             python3 -m pip install -q --target /usr/lib/python3/dist-packages tjwheel; echo system=$?; \
             python3 -m pip install -q --user --break-system-packages tjwheel; echo user=$?; \
             ls /root /etc/pip.conf; echo creds=$?; exit 8";
        let r = jail_env(
            ctx,
            dir.path(),
            &profile,
            &[],
            &[("PIP_INDEX_URL", &url)],
            &["sh", "-c", script],
        );
        // The user install "succeeds" into HOME, which is the scratch tmpfs: gone at exit.
        r.expect(8)
            .report_exit(8)
            .stdout_has("sdist=1\nsystem=2\nuser=0\ncreds=2\n")
            .stderr_has("No matching distribution found for tjsdist")
            .stderr_has("Read-only file system");
        assert!(
            !marks.path().join("SETUP_RAN").exists(),
            "a source build ran"
        );
        assert!(!dir.path().join("deps").exists());
        assert!(!Path::new("/usr/lib/python3/dist-packages/tjwheel").exists());
    });
    // The shipped profile (ports 80 and 443) cannot reach an index on another port.
    each_identity(|ctx| {
        let dir = workdir(&[]);
        give_to_jail(ctx, dir.path());
        let before = hits.load(Ordering::SeqCst);
        let r = jail_env(
            ctx,
            dir.path(),
            "pip-install",
            &[],
            &[("PIP_INDEX_URL", &url)],
            &[
                "python3",
                "-m",
                "pip",
                "install",
                "-q",
                "--retries",
                "0",
                "--timeout",
                "5",
                "--target",
                "./deps",
                "tjwheel",
            ],
        );
        r.expect(1).report_exit(1);
        assert_eq!(hits.load(Ordering::SeqCst), before, "{}", r.dump());
    });
}
