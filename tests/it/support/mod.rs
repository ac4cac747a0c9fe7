//! The shared integration-test harness: runs the real `tooljail` binary, bounded in time, as
//! root and as an unprivileged user.
//!
//! When the test process is root, every case runs twice: as root, and as the user named by
//! `TOOLJAIL_TEST_USER` (default `tooljail-test`, else `nobody`) through `setpriv --reuid U --regid G --init-groups`,
//! with the binary copied into a 0755 directory that user can execute. Otherwise the case runs
//! once, as the current user. Output is dumped on every failed assertion.

pub mod api;
pub mod profiles;
pub mod seccomp;

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a loaded 2-core host may add to a timing upper bound: a bound checks that something
/// happened at its time and not much later (not "never", not after the next step), never the
/// host's speed. Lower bounds (nothing before its time) take no slack.
pub const LOAD_SLACK: Duration = Duration::from_secs(4);

/// The host disk, for the tests that measure its growth: a test that writes much to it (the
/// call-state stores: SQLite files, PostgreSQL's WAL) holds it shared, one that measures it
/// ([`host_disk_measured`]) holds it alone.
static HOST_DISK: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Hold while writing much to the host disk.
pub fn host_disk_written() -> std::sync::RwLockReadGuard<'static, ()> {
    HOST_DISK.read().unwrap_or_else(|e| e.into_inner())
}

/// Hold while measuring the host disk's growth.
pub fn host_disk_measured() -> std::sync::RwLockWriteGuard<'static, ()> {
    HOST_DISK.write().unwrap_or_else(|e| e.into_inner())
}

/// Default bound for one tooljail run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// Who starts tooljail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Root (tooljail then drops to nobody before building the jail).
    Root,
    /// An unprivileged user (from root, via setpriv).
    User { name: String, uid: u32, gid: u32 },
    /// The non-root user running the tests.
    Current { uid: u32 },
}

/// One identity a case runs under.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub who: Who,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The identities every case runs as: root and the test user when the tests run as root, else
/// the current user.
pub fn identities() -> Vec<Ctx> {
    if !is_root() {
        return vec![Ctx {
            who: Who::Current {
                uid: nix::unistd::getuid().as_raw(),
            },
        }];
    }
    let (name, uid, gid) = test_user();
    vec![
        Ctx { who: Who::Root },
        Ctx {
            who: Who::User { name, uid, gid },
        },
    ]
}

/// The unprivileged test user: `TOOLJAIL_TEST_USER`, else `tooljail-test` (tests/setup.sh
/// creates it), else `nobody`; as (name, uid, gid).
pub fn test_user() -> (String, u32, u32) {
    let name = std::env::var("TOOLJAIL_TEST_USER").unwrap_or_else(|_| default_test_user());
    let user = nix::unistd::User::from_name(&name)
        .expect("look up TOOLJAIL_TEST_USER")
        .unwrap_or_else(|| panic!("TOOLJAIL_TEST_USER {name} does not exist"));
    (name, user.uid.as_raw(), user.gid.as_raw())
}

/// Run `case` once per identity; a failure names the identity.
pub fn each_identity(case: impl Fn(&Ctx)) {
    for ctx in identities() {
        eprintln!("--- running as {:?}", ctx.who);
        case(&ctx);
    }
}

/// The tooljail binary under test: `TOOLJAIL_TEST_BIN` when set (CI points it at the release
/// build, the one that is packaged), else the binary cargo built beside this test crate.
pub fn binary() -> PathBuf {
    match std::env::var_os("TOOLJAIL_TEST_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "TOOLJAIL_TEST_BIN={} is not a file",
                p.display()
            );
            p
        }
        _ => cargo_binary(),
    }
}

/// The binary cargo built beside this test crate, in the same profile: the one that has the
/// debug-only knobs when the tests are a debug build, whatever `TOOLJAIL_TEST_BIN` says.
pub fn cargo_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tooljail"))
}

/// Whether the binary under test reads the debug-only test knobs (its text holds their
/// names): true for a debug build, false for a release build, where they are compiled out.
pub fn binary_has_test_knobs() -> bool {
    const KNOB: &[u8] = b"TOOLJAIL_TEST_FAKE_LANDLOCK_ABI";
    let bin = std::fs::read(binary()).expect("read the binary under test");
    bin.windows(KNOB.len()).any(|w| w == KNOB)
}

/// The host's /tmp entries (name, owner uid), the suite's own directory left out: what a run
/// could leave there shows as a new entry of the jail's uid.
pub fn tmp_entries() -> std::collections::BTreeSet<(String, u32)> {
    use std::os::unix::fs::MetadataExt;
    let suite = suite_dir().file_name().unwrap().to_owned();
    std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != suite)
        .filter_map(|e| {
            let md = e.path().symlink_metadata().ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), md.uid()))
        })
        .collect()
}

/// This build's own directory under the system temporary directory (0755, keyed by the binary
/// under test, so other worktrees' suites on the same machine keep theirs). Every temporary file
/// of the suite lives below it: a check of the host's /tmp sees this one entry, never the
/// suite's own files.
pub fn suite_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            binary().hash(&mut h);
            h.finish()
        };
        let dir = std::env::temp_dir().join(format!("tooljail-test-bin-{key:016x}"));
        std::fs::create_dir_all(&dir).expect("create the suite's directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
}

/// The binary, copied once per test process into the suite's 0755 directory, which any user
/// can execute.
fn shared_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = suite_dir();
        let tmp = dir.join(format!(".tooljail.{}", std::process::id()));
        copy_executable(&binary(), &tmp, 0o755);
        let bin = dir.join("tooljail");
        std::fs::rename(&tmp, &bin).expect("install the shared tooljail");
        bin
    })
}

/// Copy a file a test will execute, then give it `mode`. Copied by a process of its own: a
/// write fd held by this process would be inherited by every child another test thread forks
/// meanwhile, until its exec, and an exec of the copy in that window fails with ETXTBSY ("Text
/// file busy"), also a nested one (`setpriv -- copy`) that [`spawn`]'s retry cannot see.
pub fn copy_executable(from: &Path, to: &Path, mode: u32) {
    let copied = Command::new("cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        copied.success(),
        "copy {} to {}",
        from.display(),
        to.display()
    );
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Prepare the harness (copies the binary) before a test snapshots host state.
pub fn init() {
    suite_dir();
    if is_root() {
        shared_binary();
    }
}

impl Ctx {
    /// Whether `uid` is the uid the jail's processes have: for root, a uid of the transient
    /// range (each call takes one of its own); otherwise the identity's own.
    pub fn is_jail_uid(&self, uid: u32) -> bool {
        match &self.who {
            Who::Root => api::transient_uids().contains(&uid),
            Who::User { uid: u, .. } | Who::Current { uid: u } => *u == uid,
        }
    }

    /// The identity's own uid (root's 0): the owner of the files and directories it makes, and
    /// so of what its jail creates through `--rw` of them.
    pub fn own_uid(&self) -> u32 {
        match &self.who {
            Who::Root => 0,
            Who::User { uid, .. } | Who::Current { uid } => *uid,
        }
    }

    /// The uid a jail will run as, known before it runs: for root, one transient uid of this
    /// test's own (`TOOLJAIL_UID_RANGE` of a single id, never handed out twice in this test
    /// process), to be applied to the command with [`Pin::apply`]; otherwise the identity's own.
    pub fn pin_jail_uid(&self) -> Pin {
        match &self.who {
            Who::Root => {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let uid = 3_000_000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Pin {
                    uid,
                    range: Some(format!("{uid}-{uid}")),
                }
            }
            Who::User { uid, .. } | Who::Current { uid } => Pin {
                uid: *uid,
                range: None,
            },
        }
    }

    pub fn is_root(&self) -> bool {
        self.who == Who::Root
    }

    /// `tooljail ARGS...` as this identity.
    pub fn tooljail<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = match &self.who {
            Who::Root | Who::Current { .. } => Command::new(binary()),
            Who::User { uid, gid, name } => {
                let mut c = Command::new("setpriv");
                // setpriv keeps root's HOME; give the user its own, as a login would (the
                // default audit log lives under it).
                if let Ok(Some(u)) = nix::unistd::User::from_name(name) {
                    c.env("HOME", u.dir);
                }
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(shared_binary());
                c
            }
        };
        cmd.args(args);
        cmd
    }

    /// `PROGRAM` run as this identity (the same `setpriv` prefix and HOME as
    /// [`Ctx::tooljail`]), and the tooljail binary this identity can run (to hand to PROGRAM).
    pub fn program(&self, program: impl AsRef<OsStr>) -> (Command, PathBuf) {
        let base = self.tooljail(Vec::<&str>::new());
        if base.get_program() != "setpriv" {
            return (Command::new(program), binary());
        }
        let mut prefix: Vec<std::ffi::OsString> = base.get_args().map(|a| a.to_owned()).collect();
        let bin = PathBuf::from(prefix.pop().expect("setpriv OPTS -- BIN"));
        let mut c = Command::new("setpriv");
        c.args(prefix).arg(program);
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        (c, bin)
    }
}

/// The jail uid a command will get (see [`Ctx::pin_jail_uid`]).
#[derive(Debug, Clone)]
pub struct Pin {
    pub uid: u32,
    range: Option<String>,
}

impl Pin {
    /// Make `cmd` (a tooljail command) run its jail as [`Pin::uid`].
    pub fn apply(&self, cmd: &mut Command) {
        if let Some(r) = &self.range {
            cmd.env("TOOLJAIL_UID_RANGE", r);
        }
    }
}

/// A finished (or killed) run.
#[derive(Debug)]
pub struct Run {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
    pub what: String,
}

impl Run {
    /// The exit code; panics (with the dump) when the run was killed by a signal or timed out.
    pub fn code(&self) -> i32 {
        match self.status.and_then(|s| s.code()) {
            Some(c) if !self.timed_out => c,
            _ => panic!("no exit code\n{}", self.dump()),
        }
    }

    pub fn dump(&self) -> String {
        format!(
            "command: {}\nstatus: {:?} (timed out: {}) after {:?}\n--- stdout\n{}\n--- stderr\n{}\n---",
            self.what, self.status, self.timed_out, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Assert the exit code, dumping everything when it differs.
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\n{}", self.dump());
        self
    }

    pub fn expect_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn expect_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }
}

/// Spawn `cmd` in its own process group with stdin closed and stdout/stderr piped.
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.process_group(0);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A binary this process just copied (the shared tooljail, the containerize helper) can
    // still be open for writing in a child another test thread forked before its exec closed
    // the descriptor: execve then fails with ETXTBSY for a moment. Retry that, and only that.
    for _ in 0..50 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => return r.expect("spawn"),
        }
    }
    cmd.spawn().expect("spawn")
}

/// Run `cmd`, killing its process group after `timeout`.
pub fn run_for(mut cmd: Command, timeout: Duration) -> Run {
    let what = format!("{cmd:?}");
    // From before the spawn: `elapsed` covers the child's whole life, which a check of the
    // report's own duration relies on (under load the child may run before spawn returns).
    let start = Instant::now();
    finish_from(spawn(&mut cmd), start, timeout, what)
}

/// Run `cmd` with [`RUN_TIMEOUT`].
/// `cmd` started through the program and arguments of `prefix` (`["sh", "-c", "...; exec
/// \"$@\"", "sh"]`: a shell that changes what `cmd` inherits), with its environment.
pub fn through(prefix: &[&str], cmd: &Command) -> Command {
    let mut c = Command::new(prefix[0]);
    c.args(&prefix[1..])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

pub fn run(cmd: Command) -> Run {
    run_for(cmd, RUN_TIMEOUT)
}

/// Wait for `child` (spawned by [`spawn`]) at most `timeout`, then SIGKILL its process group.
pub fn finish(child: Child, timeout: Duration, what: String) -> Run {
    finish_from(child, Instant::now(), timeout, what)
}

/// [`finish`], timing from `start` (taken before the spawn).
fn finish_from(mut child: Child, start: Instant, timeout: Duration, what: String) -> Run {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let out_t = read_all(out);
    let err_t = read_all(err);
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    Run {
        status,
        stdout: collect(out_t),
        stderr: collect(err_t),
        elapsed,
        timed_out,
        what,
    }
}

/// How long the output of a finished run may stay open: a process that escaped the run (the
/// very thing some tests look for) can hold the pipe for ever, and must fail the test, not hang
/// it.
const OUTPUT_GRACE: Duration = Duration::from_secs(5);

fn collect(reader: std::sync::mpsc::Receiver<String>) -> String {
    reader.recv_timeout(OUTPUT_GRACE).unwrap_or_else(|_| {
        format!("<output still held open {OUTPUT_GRACE:?} after the run ended>")
    })
}

fn read_all(r: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut s);
        }
        let _ = tx.send(String::from_utf8_lossy(&s).into_owned());
    });
    rx
}

/// A temporary directory (outside the jail's default paths) with `mode`, so the jail's uid can
/// use it.
pub fn tempdir(mode: u32) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tooljail-test-")
        .tempdir_in(suite_dir())
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

/// A directory for reports and audit logs that every identity can create files in: sticky and
/// world-writable, like /tmp. tooljail accepts a sticky directory on a sink's path (nobody can
/// replace another user's entry there) but refuses one that others can write without the
/// sticky bit (tests/it/sinks.rs).
pub fn records_dir() -> tempfile::TempDir {
    tempdir(0o1777)
}

/// A string unique to this call (tag + digits), for markers searched on the host.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // Digits only, so that `sleep MARKER` stays a valid duration.
    format!(
        "{tag}{}{:04}{nanos:09}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Host pids running `program` (argv[0]) with `needle` somewhere in their arguments: the jailed
/// processes themselves, not tooljail (whose own argv holds the same marker).
pub fn host_pids_running(program: &str, needle: &str) -> Vec<i32> {
    let prefix = format!("{program}\0");
    host_pids_matching(|cmdline| cmdline.starts_with(&prefix) && cmdline.contains(needle))
}

fn host_pids_matching(pred: impl Fn(&str) -> bool) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if pred(&String::from_utf8_lossy(&cmdline)) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Host processes a test starts or may leave behind, killed when the guard is dropped: at the
/// end of the test, and also when an assertion fails before its own cleanup.
#[derive(Default)]
pub struct KillOnDrop {
    children: Vec<Child>,
    markers: Vec<String>,
}

impl KillOnDrop {
    pub fn new() -> KillOnDrop {
        KillOnDrop::default()
    }

    /// A process this test started.
    pub fn child(&mut self, child: Child) {
        self.children.push(child);
    }

    /// Every host process whose command line holds `marker` (a [`unique`] string).
    pub fn marker(&mut self, marker: &str) {
        self.markers.push(marker.to_owned());
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for m in &self.markers {
            for pid in host_pids_matching(|cmdline| cmdline.contains(m.as_str())) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// Poll `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `tooljail-test` (created by tests/setup.sh) when it exists, else `nobody`.
fn default_test_user() -> String {
    match nix::unistd::User::from_name("tooljail-test") {
        Ok(Some(_)) => "tooljail-test".into(),
        _ => "nobody".into(),
    }
}

/// A profile file every identity can read: `(dir, path)`; keep `dir` alive while it is used.
pub fn profile_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir(0o755);
    let path = dir.path().join("test-profile.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    (dir, path)
}

/// The probe example (examples/probe.rs, built by `cargo test`), copied into a 0755 directory
/// every identity can read; a jail gets it with `--ro DIR` (a command-line bind, executable).
/// Test files add their own ways of running it in `impl Probe` blocks.
pub struct Probe {
    _dir: tempfile::TempDir,
    pub dir: String,
    pub bin: String,
}

/// The `{"op":..,"got":..}` lines of `probe ops` output, as (op, got) in output order.
pub fn probe_op_results(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["op"].as_str()?.to_owned(), v["got"].as_str()?.to_owned())))
        .collect()
}

impl Probe {
    pub fn new() -> Probe {
        let built = Path::new(env!("CARGO_BIN_EXE_tooljail"))
            .parent()
            .expect("target dir")
            .join("examples/probe");
        let dir = tempdir(0o755);
        let bin = dir.path().join("probe");
        assert!(
            built.exists(),
            "{}: missing (cargo test builds it)",
            built.display()
        );
        copy_executable(&built, &bin, 0o755);
        Probe {
            dir: dir.path().to_str().unwrap().to_owned(),
            bin: bin.to_str().unwrap().to_owned(),
            _dir: dir,
        }
    }
}

/// The syscalls every jail must deny whatever its allow-list says, written here rather than
/// read from the product's table: a rule dropped from (or moved out of) the product's table
/// must fail the tests that check this list. Each with why the jail cannot allow it. Many of
/// these fail without any filter too (the kernel's own capability checks), so the tests check
/// that the supervisor saw the denial, never only the errno.
pub const ALWAYS_DENIED: &[(&str, &str)] = &[
    (
        "io_uring_setup",
        "io_uring runs calls the filter never sees",
    ),
    ("io_uring_enter", "io_uring"),
    ("io_uring_register", "io_uring"),
    ("bpf", "the eBPF verifier is a recurring escalation path"),
    (
        "perf_event_open",
        "kernel attack surface and a side channel",
    ),
    ("userfaultfd", "holds page faults open to win kernel races"),
    ("keyctl", "the host user's keyring is not namespaced"),
    ("add_key", "keyring"),
    ("request_key", "keyring"),
    ("kexec_load", "replaces the kernel"),
    ("kexec_file_load", "replaces the kernel"),
    ("init_module", "loads kernel code"),
    ("finit_module", "loads kernel code"),
    ("delete_module", "unloads kernel code"),
    ("ptrace", "another process's memory and registers"),
    ("process_vm_readv", "another process's memory"),
    ("process_vm_writev", "another process's memory"),
    (
        "open_by_handle_at",
        "opens files outside the visible tree (shocker)",
    ),
    (
        "name_to_handle_at",
        "leaks inode identities for open_by_handle_at",
    ),
    ("mount", "the mount tree is final at execve"),
    ("umount2", "the mount tree is final at execve"),
    ("pivot_root", "the root is final at execve"),
    ("move_mount", "new mount API"),
    ("fsopen", "new mount API"),
    ("fsmount", "new mount API"),
    ("fsconfig", "new mount API"),
    ("fspick", "new mount API"),
    ("open_tree", "new mount API"),
    ("mount_setattr", "new mount API"),
    ("setns", "joins other namespaces"),
    (
        "unshare",
        "new (user) namespaces reopen kernel attack surface",
    ),
    ("acct", "host-wide process accounting"),
    ("swapon", "host-wide swap"),
    ("swapoff", "host-wide swap"),
    (
        "reboot",
        "reboots the host or kills the pid namespace's init",
    ),
    (
        "syslog",
        "the kernel log: addresses and other tenants' messages",
    ),
];

/// Record that the calling test could not run a check on this host, under a stable `key` (the
/// reason class: `not-root`, `python`, `cgroup-enforcement`, ...), and go on with what it can
/// check. A skip is never silent:
/// - it is appended, with the test's name, to the skip log (`TOOLJAIL_TEST_SKIP_LOG`, default
///   `target/tmp/skipped-checks.tsv`), which CI prints as a summary;
/// - with `TOOLJAIL_TEST_STRICT=1` (CI sets it) it fails the test, unless `key` is listed in
///   `TOOLJAIL_TEST_MAY_SKIP` (comma-separated): the checks CI's own machine cannot run.
#[track_caller]
pub fn skip(key: &str, why: &str) {
    use std::io::Write as _;
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    let log = std::env::var_os("TOOLJAIL_TEST_SKIP_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-checks.tsv"));
    let line = format!("{test}\t{key}\t{why}\n");
    // One write of one line in append mode: concurrent tests never interleave.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .unwrap_or_else(|e| panic!("record the skip in {}: {e}", log.display()));
    eprintln!("SKIPPED {test} [{key}]: {why}");
    let strict = std::env::var("TOOLJAIL_TEST_STRICT").is_ok_and(|v| v == "1");
    let allowed = std::env::var("TOOLJAIL_TEST_MAY_SKIP").unwrap_or_default();
    if strict && !allowed.split(',').any(|k| k.trim() == key) {
        panic!(
            "required check skipped [{key}]: {why} (TOOLJAIL_TEST_STRICT=1; TOOLJAIL_TEST_MAY_SKIP={allowed:?})"
        );
    }
}

/// True when the tests run as root; otherwise records a `not-root` skip of `what`.
#[track_caller]
pub fn root_or_skip(what: &str) -> bool {
    if is_root() {
        return true;
    }
    skip("not-root", what);
    false
}

/// Whether python3 is installed; without it, records a `python` skip when
/// `TOOLJAIL_TEST_SKIP_PYTHON` is set, and fails otherwise (tests/setup.sh installs it).
#[track_caller]
pub fn need_python() -> bool {
    const PYTHON: &str = "/usr/bin/python3";
    if Path::new(PYTHON).exists() {
        return true;
    }
    assert!(
        std::env::var_os("TOOLJAIL_TEST_SKIP_PYTHON").is_some(),
        "{PYTHON} is needed (apt-get install -y python3), or set TOOLJAIL_TEST_SKIP_PYTHON=1"
    );
    skip(
        "python",
        "python3 is not installed (TOOLJAIL_TEST_SKIP_PYTHON)",
    );
    false
}

/// The kernel's Landlock ABI version, asked directly (`landlock_create_ruleset(NULL, 0,
/// LANDLOCK_CREATE_RULESET_VERSION)`), not through the product's own probe; None when Landlock
/// is absent or disabled.
pub fn kernel_landlock_abi() -> Option<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: with a NULL attribute pointer and size 0, the VERSION flag only returns a number;
    // no memory is read or written and no fd is created.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(r).ok().filter(|&v| v > 0)
}

/// Whether `tooljail run` as `ctx` gets a cgroup: a profile with `require_cgroup = true` either
/// runs (true) or is refused before anything runs (false). What `run` does, as the expectation
/// for what `doctor` says.
pub fn run_gets_a_cgroup(ctx: &Ctx) -> bool {
    let (_dir, profile) =
        profile_file("extends = [\"default\"]\n[limits]\nrequire_cgroup = true\n");
    let marker = unique("cgroup-ran-");
    let r = run(ctx.tooljail([
        "run",
        "-p",
        profile.to_str().unwrap(),
        "--",
        "echo",
        &marker,
    ]));
    match r.code() {
        0 => {
            assert!(r.stdout.contains(&marker), "{}", r.dump());
            true
        }
        125 => {
            assert!(r.stderr.contains("require_cgroup"), "{}", r.dump());
            assert!(!r.stdout.contains(&marker), "{}", r.dump());
            false
        }
        _ => panic!("neither ran nor refused\n{}", r.dump()),
    }
}

/// `tooljail run --report DIR/report.json --audit-log DIR/audit.jsonl ARGS…` as `ctx` (a fresh
/// DIR), with `tweak` applied to the command first: the run and the parsed report, which must
/// also read back as a `Report` (panics with the dump when there is none).
pub fn reported_with(
    ctx: &Ctx,
    args: &[&str],
    tweak: impl FnOnce(&mut Command),
) -> (Run, serde_json::Value) {
    let dir = records_dir();
    let report = dir.path().join("report.json");
    let audit = dir.path().join("audit.jsonl");
    let mut a: Vec<&str> = vec![
        "run",
        "--report",
        report.to_str().unwrap(),
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    a.extend_from_slice(args);
    let mut cmd = ctx.tooljail(a);
    tweak(&mut cmd);
    let r = run(cmd);
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report ({e})\n{}", r.dump()));
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{text}\n{}", r.dump()));
    // It is also a Report, the type the audit log and `tooljail audit` read back.
    serde_json::from_value::<api::report::Report>(v.clone())
        .unwrap_or_else(|e| panic!("report does not parse as a Report ({e}):\n{text}"));
    (r, v)
}
