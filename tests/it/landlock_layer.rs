//! Layer tests: Landlock holds on its own, with no mount namespace.
//!
//! Each case re-executes this test binary (the ignored test `child_entry`) with a JSON spec in
//! the environment. The child optionally drops to uid/gid 65534 (when the tests run as root),
//! performs some operations as a control, sets no_new_privs, applies ONLY the Landlock part of a
//! Policy with `crate::support::api::landlock::restrict`, performs the operations under test, and
//! prints one `LL` line per result (errno, 0 for success). The parent asserts. Every child is
//! killed after a deadline.
//!
//! Rule targets are opened by path, so without a mount namespace target == host path: the
//! fixture lives in a temporary directory and the Policy names its subdirectories.

use crate::support::api::policy::{Access, Bind, Compat, FileKind, NetMode, Policy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const SPEC_ENV: &str = "TOOLJAIL_LL_SPEC";
const FAKE_ABI_ENV: &str = "TOOLJAIL_TEST_FAKE_LANDLOCK_ABI";
const NOBODY: u32 = 65534;
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Op {
    Read(PathBuf),
    ReadDir(PathBuf),
    OpenWrite(PathBuf),
    Truncate(PathBuf),
    Create(PathBuf),
    /// Run the file; 0 when it ran and exited 0.
    Exec(PathBuf),
    /// Copy /usr/bin/true to the path, mode 0755 (a tool writing a binary).
    CopyTrue(PathBuf),
    Rename(PathBuf, PathBuf),
    Link(PathBuf, PathBuf),
    Symlink(PathBuf, PathBuf),
    RemoveFile(PathBuf),
    Mkdir(PathBuf),
    Rmdir(PathBuf),
    Mkfifo(PathBuf),
    MkSock(PathBuf),
    /// tcgetattr (ioctl TCGETS) on the file opened read-only.
    Ioctl(PathBuf),
    TcpConnect(u16),
    TcpBind(u16),
    AbstractConnect(String),
    /// SIGTERM to the sleeper the child started before Landlock (outside the domain).
    KillOutside,
    /// Start a sleeper under Landlock (inside the domain) and SIGKILL it.
    KillInside,
}

/// Labelled operations, in order.
type Ops = Vec<(String, Op)>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Spec {
    policy: Policy,
    /// Drop to this uid/gid before anything else when running as root.
    drop_to: Option<u32>,
    /// Operations run before Landlock, as a control: DAC must allow what Landlock then denies.
    before: Ops,
    /// Call `preflight()` first and print its result (and stop on error).
    preflight: bool,
    /// Apply with `restrict_with` and this support instead of probing.
    #[serde(default)]
    support: Option<crate::support::api::preflight::LandlockSupport>,
    after: Ops,
}

/// What a child reported.
#[derive(Debug, Default)]
struct Outcome {
    before: BTreeMap<String, i32>,
    after: BTreeMap<String, i32>,
    status: Option<serde_json::Value>,
    preflight: Option<serde_json::Value>,
    error: Option<serde_json::Value>,
    raw: String,
}

impl Outcome {
    fn after(&self, label: &str) -> i32 {
        *self
            .after
            .get(label)
            .unwrap_or_else(|| panic!("no result for {label:?}; child output:\n{}", self.raw))
    }
    fn before(&self, label: &str) -> i32 {
        *self
            .before
            .get(label)
            .unwrap_or_else(|| panic!("no control for {label:?}; child output:\n{}", self.raw))
    }
    #[track_caller]
    fn expect(&self, label: &str, errno: i32) {
        let got = self.after(label);
        assert_eq!(
            got,
            errno,
            "{label}: expected {} got {}\nchild output:\n{}",
            name(errno),
            name(got),
            self.raw
        );
    }
    #[track_caller]
    fn expect_control_ok(&self, label: &str) {
        assert_eq!(
            self.before(label),
            0,
            "control {label} failed before Landlock, so a later denial would prove nothing\n{}",
            self.raw
        );
    }
}

fn name(errno: i32) -> String {
    match errno {
        0 => "success".into(),
        e if e >= 1000 => format!("exit status {}", e - 1000),
        e => format!("{} ({e})", std::io::Error::from_raw_os_error(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// Not a test on its own: the entry point of the re-executed child. Ignored so a plain
/// `cargo test` does not run it; it refuses to run without a spec.
#[test]
#[ignore = "entry point of the re-executed child; run by the layer tests"]
fn child_entry() {
    let spec = std::env::var(SPEC_ENV).expect("child_entry runs only under the layer tests");
    let spec: Spec = serde_json::from_str(&spec).expect("spec parses");
    let mut out = std::io::stdout().lock();

    if let Some(id) = spec.drop_to {
        if nix::unistd::geteuid().is_root() {
            let (uid, gid) = (
                nix::unistd::Uid::from_raw(id),
                nix::unistd::Gid::from_raw(id),
            );
            nix::unistd::setgroups(&[]).expect("setgroups");
            nix::unistd::setgid(gid).expect("setgid");
            nix::unistd::setuid(uid).expect("setuid");
        }
    }
    writeln!(out, "LL uid {}", nix::unistd::geteuid()).unwrap();

    // A process outside the coming Landlock domain, with our uid so DAC allows signalling it.
    let mut sleeper = Command::new("/bin/sleep")
        .arg("30")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sleeper");
    writeln!(out, "LL sleeper {}", sleeper.id()).unwrap();
    child_body(&spec, sleeper.id(), &mut out);
    // Reap it if a scope-less case killed it; otherwise the parent kills it.
    let _ = sleeper.try_wait();
}

fn child_body(spec: &Spec, sleeper: u32, out: &mut impl std::io::Write) {
    for (label, op) in &spec.before {
        writeln!(out, "LL before {label} {}", run(op, sleeper)).unwrap();
    }

    if spec.preflight {
        match crate::support::api::preflight::preflight(&spec.policy) {
            Ok(r) => writeln!(out, "LL preflight {}", serde_json::to_string(&r).unwrap()).unwrap(),
            Err(e) => {
                writeln!(out, "LL error {}", serde_json::to_string(&e).unwrap()).unwrap();
                return;
            }
        }
    }

    // The jail sets no_new_privs before Landlock; so do we (required when unprivileged).
    nix::sys::prctl::set_no_new_privs().expect("no_new_privs");
    let started = std::time::Instant::now();
    // As the jail does: preflight decides (before clone), the command applies the plan.
    let support = spec
        .support
        .unwrap_or_else(crate::support::api::preflight::landlock_support);
    let applied =
        crate::support::api::preflight::landlock_with(&spec.policy, support).and_then(|pre| {
            crate::support::api::landlock::restrict(
                &crate::support::api::landlock::plan(&spec.policy),
                &pre,
            )
        });
    writeln!(out, "LL restrict_us {}", started.elapsed().as_micros()).unwrap();
    match applied {
        Ok(status) => {
            writeln!(out, "LL status {}", serde_json::to_string(&status).unwrap()).unwrap()
        }
        Err(e) => {
            writeln!(out, "LL error {}", serde_json::to_string(&e).unwrap()).unwrap();
            return;
        }
    }
    for (label, op) in &spec.after {
        writeln!(out, "LL after {label} {}", run(op, sleeper)).unwrap();
    }
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

fn nix_errno(e: nix::errno::Errno) -> i32 {
    e as i32
}

fn run(op: &Op, sleeper: u32) -> i32 {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let io = |r: std::io::Result<()>| r.map_or_else(errno, |_| 0);
    let nx = |r: nix::Result<()>| r.map_or_else(nix_errno, |_| 0);
    match op {
        Op::Read(p) => io(fs::read(p).map(drop)),
        Op::ReadDir(p) => io(fs::read_dir(p)
            .and_then(|mut d| d.next().transpose())
            .map(drop)),
        Op::OpenWrite(p) => io(fs::OpenOptions::new().write(true).open(p).map(drop)),
        Op::Truncate(p) => nx(nix::unistd::truncate(p, 0)),
        Op::Create(p) => io(fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
            .map(drop)),
        Op::Exec(p) => match Command::new(p)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) => s.code().map_or(2000, |c| if c == 0 { 0 } else { 1000 + c }),
            Err(e) => errno(e),
        },
        Op::CopyTrue(p) => io(fs::read("/usr/bin/true")
            .and_then(|b| fs::write(p, b))
            .and_then(|_| fs::set_permissions(p, fs::Permissions::from_mode(0o755)))),
        Op::Rename(a, b) => io(fs::rename(a, b)),
        Op::Link(a, b) => io(fs::hard_link(a, b)),
        Op::Symlink(target, link) => io(std::os::unix::fs::symlink(target, link)),
        Op::RemoveFile(p) => io(fs::remove_file(p)),
        Op::Mkdir(p) => io(fs::create_dir(p)),
        Op::Rmdir(p) => io(fs::remove_dir(p)),
        Op::Mkfifo(p) => nx(nix::unistd::mkfifo(
            p,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )),
        Op::MkSock(p) => io(UnixListener::bind(p).map(drop)),
        Op::Ioctl(p) => match fs::File::open(p) {
            Ok(f) => nx(nix::sys::termios::tcgetattr(&f).map(drop)),
            Err(e) => errno(e),
        },
        Op::TcpConnect(port) => io(TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, *port)),
            Duration::from_secs(5),
        )
        .map(drop)),
        Op::TcpBind(port) => io(TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).map(drop)),
        Op::AbstractConnect(name) => io(UnixAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| UnixStream::connect_addr(&a))
            .map(drop)),
        Op::KillOutside => nx(kill(Pid::from_raw(sleeper as i32), Signal::SIGTERM)),
        Op::KillInside => match Command::new("/bin/sleep")
            .arg("30")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(mut child) => {
                let r = nx(kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL));
                let _ = child.wait();
                r
            }
            Err(e) => 3000 + errno(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The parent side.

/// A directory tree the child's Policy names parts of. Mode bits let uid 65534 do everything,
/// so every denial observed is Landlock's, not DAC's.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("tooljail-ll-")
            .tempdir_in(crate::support::suite_dir())
            .unwrap();
        let root = tmp.path().to_path_buf();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        for (dir, mode) in [
            ("a", 0o777),
            ("b", 0o755),
            ("x", 0o755),
            ("w", 0o777),
            ("e", 0o777),
            ("f", 0o755),
        ] {
            let d = root.join(dir);
            fs::create_dir(&d).unwrap();
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
        }
        for (file, mode) in [
            ("a/a.txt", 0o666),
            ("a/t.txt", 0o666),
            ("b/b.txt", 0o666),
            ("f/only.txt", 0o644),
            ("f/other.txt", 0o644),
        ] {
            let p = root.join(file);
            fs::write(&p, b"hello\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        }
        for dir in ["a", "x", "b"] {
            let p = root.join(dir).join("true");
            fs::copy("/usr/bin/true", &p).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Fixture { _tmp: tmp, root }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn bind(&self, path: &Path, access: Access, exec: bool, kind: FileKind) -> Bind {
        Bind {
            source: path.into(),
            target: path.into(),
            access,
            exec,
            kind,
            origin: "layer test".into(),
        }
    }

    /// a/ read-only, x/ read-only + exec, e/ read-write + exec, w/ the read-write scratch (no exec), f/only.txt a
    /// read-only file, /usr read-only + exec, /dev/zero a read-only *file* (not a device),
    /// /dev/null a device; host network with ports; both scopes.
    fn policy(&self, ports: &Ports) -> Policy {
        let mut p = crate::support::api::profile::policy_from_args(&Default::default()).unwrap();
        p.filesystem.binds = vec![
            self.bind(Path::new("/usr"), Access::ReadOnly, true, FileKind::Dir),
            self.bind(
                Path::new("/etc/ld.so.cache"),
                Access::ReadOnly,
                false,
                FileKind::File,
            ),
            self.bind(&self.p("a"), Access::ReadOnly, false, FileKind::Dir),
            self.bind(&self.p("x"), Access::ReadOnly, true, FileKind::Dir),
            self.bind(&self.p("e"), Access::ReadWrite, true, FileKind::Dir),
            self.bind(
                &self.p("f/only.txt"),
                Access::ReadOnly,
                false,
                FileKind::File,
            ),
            self.bind(
                Path::new("/dev/zero"),
                Access::ReadOnly,
                false,
                FileKind::File,
            ),
        ];
        p.filesystem.scratch.path = self.p("w");
        p.filesystem.scratch.exec = false;
        p.filesystem.scratch.tmp = false; // host /tmp holds the fixture: it must stay denied
        p.filesystem.scratch.shm = false;
        p.filesystem.devices = vec!["/dev/null".into()];
        p.network.mode = NetMode::Host;
        p.network.tcp_connect = vec![ports.connect_ok];
        p.network.tcp_bind = vec![ports.bind_ok];
        p.landlock.mode = Compat::Required;
        p.landlock.scope_abstract_unix = true;
        p.landlock.scope_signals = true;
        p
    }
}

/// Listeners and free ports on 127.0.0.1, and an abstract unix socket, all held by the test
/// process (outside any Landlock domain).
struct Ports {
    _listeners: Vec<TcpListener>,
    _abstract: UnixListener,
    connect_ok: u16,
    connect_denied: u16,
    bind_ok: u16,
    bind_denied: u16,
    abstract_name: String,
}

fn ports() -> Ports {
    static N: AtomicU32 = AtomicU32::new(0);
    let listen = || TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let free = || listen().local_addr().unwrap().port();
    let (l1, l2) = (listen(), listen());
    let abstract_name = format!(
        "tooljail-ll-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let addr = UnixAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    Ports {
        connect_ok: l1.local_addr().unwrap().port(),
        connect_denied: l2.local_addr().unwrap().port(),
        _listeners: vec![l1, l2],
        _abstract: UnixListener::bind_addr(&addr).unwrap(),
        bind_ok: free(),
        bind_denied: free(),
        abstract_name,
    }
}

fn spawn_child(spec: &Spec, fake_abi: Option<&str>) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "landlock_layer::child_entry",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(SPEC_ENV, serde_json::to_string(spec).unwrap())
    .env_remove(FAKE_ABI_ENV)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(fake) = fake_abi {
        cmd.env(FAKE_ABI_ENV, fake);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("child {pid} did not finish within {DEADLINE:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let raw = format!(
        "{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut outcome = Outcome {
        raw,
        ..Default::default()
    };
    for line in stdout.lines() {
        let mut words = line.splitn(4, ' ');
        if words.next() != Some("LL") {
            continue;
        }
        match (words.next(), words.next(), words.next()) {
            (Some("before"), Some(label), Some(v)) => {
                outcome.before.insert(label.into(), v.parse().unwrap());
            }
            (Some("after"), Some(label), Some(v)) => {
                outcome.after.insert(label.into(), v.parse().unwrap());
            }
            (Some("sleeper"), Some(pid), None) => {
                // It may have been spared by Landlock; do not leave it behind.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid.parse().unwrap()),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            (Some(kind @ ("status" | "error" | "preflight")), Some(first), rest) => {
                let json = match rest {
                    Some(r) => format!("{first} {r}"),
                    None => first.to_string(),
                };
                let v = Some(serde_json::from_str(&json).unwrap());
                match kind {
                    "status" => outcome.status = v,
                    "error" => outcome.error = v,
                    _ => outcome.preflight = v,
                }
            }
            _ => {}
        }
    }
    assert!(
        output.status.success(),
        "child failed: {:?}\n{}",
        output.status,
        outcome.raw
    );
    outcome
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The operations that exercise the whole Policy. Labels are what the assertions name.
fn full_ops(fx: &Fixture, ports: &Ports) -> (Ops, Ops) {
    let w = |rel: &str| fx.p("w").join(rel);
    let before = vec![
        ("read_b".into(), Op::Read(fx.p("b/b.txt"))),
        ("readdir_b".into(), Op::ReadDir(fx.p("b"))),
        ("read_f_other".into(), Op::Read(fx.p("f/other.txt"))),
        ("write_a".into(), Op::OpenWrite(fx.p("a/a.txt"))),
        ("truncate_a".into(), Op::Truncate(fx.p("a/t.txt"))),
        ("create_a".into(), Op::Create(fx.p("a/before"))),
        ("exec_a".into(), Op::Exec(fx.p("a/true"))),
        ("exec_b".into(), Op::Exec(fx.p("b/true"))),
        (
            "connect_denied".into(),
            Op::TcpConnect(ports.connect_denied),
        ),
        ("bind_denied".into(), Op::TcpBind(ports.bind_denied)),
        (
            "abstract".into(),
            Op::AbstractConnect(ports.abstract_name.clone()),
        ),
        ("kill_spawned".into(), Op::KillInside),
        ("ioctl_zero".into(), Op::Ioctl("/dev/zero".into())),
    ];
    let after = vec![
        // Reads: only granted paths.
        ("read_a".into(), Op::Read(fx.p("a/a.txt"))),
        ("readdir_a".into(), Op::ReadDir(fx.p("a"))),
        ("read_b".into(), Op::Read(fx.p("b/b.txt"))),
        ("readdir_b".into(), Op::ReadDir(fx.p("b"))),
        ("read_f_only".into(), Op::Read(fx.p("f/only.txt"))),
        ("read_f_other".into(), Op::Read(fx.p("f/other.txt"))),
        ("readdir_f".into(), Op::ReadDir(fx.p("f"))),
        ("read_proc".into(), Op::Read("/proc/self/status".into())),
        // Read-only means read-only.
        ("write_a".into(), Op::OpenWrite(fx.p("a/a.txt"))),
        ("truncate_a".into(), Op::Truncate(fx.p("a/t.txt"))),
        ("create_a".into(), Op::Create(fx.p("a/after"))),
        ("write_proc".into(), Op::OpenWrite("/proc/self/comm".into())),
        // Execute only where marked.
        ("exec_x".into(), Op::Exec(fx.p("x/true"))),
        ("exec_a".into(), Op::Exec(fx.p("a/true"))),
        ("exec_b".into(), Op::Exec(fx.p("b/true"))),
        ("exec_usr".into(), Op::Exec("/usr/bin/true".into())),
        // The read-write scratch: everything tools need, but no execute.
        ("w_create".into(), Op::Create(w("f1"))),
        ("w_write".into(), Op::OpenWrite(w("f1"))),
        ("w_truncate".into(), Op::Truncate(w("f1"))),
        ("w_rename".into(), Op::Rename(w("f1"), w("f2"))),
        ("w_mkdir".into(), Op::Mkdir(w("d"))),
        ("w_refer".into(), Op::Rename(w("f2"), w("d/f3"))),
        ("w_link".into(), Op::Link(w("d/f3"), w("f4"))),
        ("w_symlink".into(), Op::Symlink(w("f4"), w("s"))),
        ("w_mkfifo".into(), Op::Mkfifo(w("fifo"))),
        ("w_mksock".into(), Op::MkSock(w("sock"))),
        ("w_remove".into(), Op::RemoveFile(w("d/f3"))),
        ("w_rmdir".into(), Op::Rmdir(w("d"))),
        ("w_copy_true".into(), Op::CopyTrue(w("mytrue"))),
        ("w_exec".into(), Op::Exec(w("mytrue"))),
        // A rename out of the scratch into a read-only dir, and into the scratch from b/.
        ("refer_out".into(), Op::Rename(w("f4"), fx.p("a/stolen"))),
        ("refer_in".into(), Op::Rename(fx.p("b/b.txt"), w("b.txt"))),
        ("w_to_e".into(), Op::Rename(w("f4"), fx.p("e/f4"))),
        ("e_create".into(), Op::Create(fx.p("e/g"))),
        ("e_to_w".into(), Op::Rename(fx.p("e/g"), w("g"))),
        // ioctl only on devices.
        ("ioctl_null".into(), Op::Ioctl("/dev/null".into())),
        ("ioctl_zero".into(), Op::Ioctl("/dev/zero".into())),
        ("write_null".into(), Op::OpenWrite("/dev/null".into())),
        ("readdir_dev".into(), Op::ReadDir("/dev".into())),
        ("read_dev_full".into(), Op::Read("/dev/full".into())),
        // TCP (host mode): listed ports only.
        ("connect_ok".into(), Op::TcpConnect(ports.connect_ok)),
        (
            "connect_denied".into(),
            Op::TcpConnect(ports.connect_denied),
        ),
        ("bind_ok".into(), Op::TcpBind(ports.bind_ok)),
        ("bind_denied".into(), Op::TcpBind(ports.bind_denied)),
        // Scopes.
        (
            "abstract".into(),
            Op::AbstractConnect(ports.abstract_name.clone()),
        ),
        ("kill_outside".into(), Op::KillOutside),
        ("kill_inside".into(), Op::KillInside),
    ];
    (before, after)
}

fn check_full_policy(drop_to: Option<u32>) {
    let fx = Fixture::new();
    let ports = ports();
    let (before, after) = full_ops(&fx, &ports);
    let out = spawn_child(
        &Spec {
            policy: fx.policy(&ports),
            drop_to,
            before,
            preflight: true,
            support: None,
            after,
        },
        None,
    );
    if let (Some(id), true) = (drop_to, is_root()) {
        assert!(out.raw.contains(&format!("LL uid {id}\n")), "{}", out.raw);
    }
    if let Some(t) = out.raw.lines().find(|l| l.starts_with("LL restrict_us")) {
        eprintln!("{t} (drop_to {drop_to:?})");
    }
    let status = out.status.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
    assert_eq!(status["enforced"], true);
    assert_eq!(status["not_enforced"], serde_json::json!([]));
    let pre = out.preflight.as_ref().unwrap();
    assert_eq!(pre["landlock"]["required_abi"], 6);

    use libc::{EACCES, ENOTTY, EPERM, EXDEV};
    for c in [
        "read_b",
        "readdir_b",
        "read_f_other",
        "write_a",
        "truncate_a",
        "create_a",
        "connect_denied",
        "bind_denied",
        "abstract",
        "kill_spawned",
    ] {
        out.expect_control_ok(c);
    }
    // Before Landlock the non-exec copies run, and /dev/zero answers TCGETS with ENOTTY.
    assert_eq!(out.before("exec_a"), 0, "{}", out.raw);
    assert_eq!(out.before("exec_b"), 0, "{}", out.raw);
    assert_eq!(out.before("ioctl_zero"), ENOTTY, "{}", out.raw);

    for ok in [
        "read_a",
        "readdir_a",
        // Listing is granted from / down (names only; in the jail the mount namespace decides
        // which names exist); reading what is listed is not.
        "readdir_b",
        "readdir_f",
        "read_f_only",
        "read_proc",
        "exec_x",
        "exec_usr",
        "w_create",
        "w_write",
        "w_truncate",
        "w_rename",
        "w_mkdir",
        "w_refer",
        "w_link",
        "w_symlink",
        "w_mkfifo",
        "w_mksock",
        "w_remove",
        "w_rmdir",
        "w_copy_true",
        "e_create",
        "write_null",
        "readdir_dev",
        "connect_ok",
        "bind_ok",
        "kill_inside",
    ] {
        out.expect(ok, 0);
    }
    for denied in [
        "read_b",
        "read_f_other",
        "write_a",
        "truncate_a",
        "create_a",
        "write_proc",
        "exec_a",
        "exec_b",
        "w_exec",
        "ioctl_zero",
        "read_dev_full",
        "connect_denied",
        "bind_denied",
    ] {
        out.expect(denied, EACCES);
    }
    // Moves across the wall: the destination lacks make-reg, the source lacks remove-file.
    out.expect("refer_out", EACCES);
    out.expect("refer_in", EACCES);
    // Refer: a file may not gain rights by moving. From the no-exec scratch into the exec
    // dir it would gain execute (EXDEV); the other way it only loses rights.
    out.expect("w_to_e", EXDEV);
    out.expect("e_to_w", 0);
    // The device is opened and reaches the driver, which says "not a tty".
    out.expect("ioctl_null", ENOTTY);
    // Scopes answer EPERM.
    out.expect("abstract", EPERM);
    out.expect("kill_outside", EPERM);
}

#[test]
fn policy_holds_as_the_calling_user() {
    // As root this is root with no_new_privs; otherwise the unprivileged caller.
    check_full_policy(None);
}

#[test]
fn policy_holds_unprivileged() {
    // As root, the child drops to nobody before Landlock; otherwise it already is unprivileged.
    check_full_policy(Some(NOBODY));
}

#[test]
fn scopes_can_be_turned_off() {
    let fx = Fixture::new();
    let ports = ports();
    let mut policy = fx.policy(&ports);
    policy.landlock.scope_abstract_unix = false;
    policy.landlock.scope_signals = false;
    let out = spawn_child(
        &Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: None,
            after: vec![
                (
                    "abstract".into(),
                    Op::AbstractConnect(ports.abstract_name.clone()),
                ),
                ("kill_outside".into(), Op::KillOutside),
                ("read_b".into(), Op::Read(fx.p("b/b.txt"))),
            ],
        },
        None,
    );
    assert_eq!(
        out.status.as_ref().unwrap()["scopes"],
        serde_json::json!([])
    );
    out.expect("abstract", 0);
    out.expect("kill_outside", 0);
    out.expect("read_b", libc::EACCES);
}

#[test]
fn scratch_exec_lets_the_tool_run_what_it_wrote() {
    let fx = Fixture::new();
    let ports = ports();
    let mut policy = fx.policy(&ports);
    policy.filesystem.scratch.exec = true;
    let w = fx.p("w");
    let out = spawn_child(
        &Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: None,
            after: vec![
                ("copy".into(), Op::CopyTrue(w.join("mytrue"))),
                ("exec".into(), Op::Exec(w.join("mytrue"))),
                ("exec_a".into(), Op::Exec(fx.p("a/true"))),
            ],
        },
        None,
    );
    out.expect("copy", 0);
    out.expect("exec", 0);
    out.expect("exec_a", libc::EACCES);
}

#[test]
fn private_network_modes_leave_tcp_to_the_namespace() {
    // With net none/loopback the jail's private netns is the wall; Landlock does not handle
    // TCP, so a tool's own server on its private lo works. Without a netns here, that shows
    // as an unrestricted connect and bind.
    let fx = Fixture::new();
    let ports = ports();
    for mode in [NetMode::None, NetMode::Loopback] {
        let mut policy = fx.policy(&ports);
        policy.network.mode = mode;
        let out = spawn_child(
            &Spec {
                policy,
                drop_to: Some(NOBODY),
                before: vec![],
                preflight: false,
                support: None,
                after: vec![
                    ("connect".into(), Op::TcpConnect(ports.connect_denied)),
                    ("bind".into(), Op::TcpBind(ports.bind_denied)),
                    ("read_b".into(), Op::Read(fx.p("b/b.txt"))),
                ],
            },
            None,
        );
        assert_eq!(
            out.status.as_ref().unwrap()["handled_net"],
            serde_json::json!([])
        );
        out.expect("connect", 0);
        out.expect("bind", 0);
        out.expect("read_b", libc::EACCES);
    }
}

#[test]
fn host_mode_without_ports_allows_no_tcp() {
    let fx = Fixture::new();
    let ports = ports();
    let mut policy = fx.policy(&ports);
    policy.network.tcp_connect.clear();
    policy.network.tcp_bind.clear();
    let out = spawn_child(
        &Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: None,
            after: vec![
                ("connect".into(), Op::TcpConnect(ports.connect_ok)),
                ("bind".into(), Op::TcpBind(ports.bind_ok)),
            ],
        },
        None,
    );
    out.expect("connect", libc::EACCES);
    out.expect("bind", libc::EACCES);
}

#[test]
fn a_missing_rule_path_fails_closed() {
    let fx = Fixture::new();
    let ports = ports();
    let mut policy = fx.policy(&ports);
    let gone = fx.p("does-not-exist");
    policy
        .filesystem
        .binds
        .push(fx.bind(&gone, Access::ReadOnly, false, FileKind::Dir));
    let out = spawn_child(
        &Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: None,
            after: vec![],
        },
        None,
    );
    let e = out.error.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
    assert_eq!(e["kind"], "setup");
    assert_eq!(e["errno"], libc::ENOENT);
    assert_eq!(e["location"]["at"], "step", "{e}");
    assert!(e["location"]["name"]
        .as_str()
        .unwrap()
        .contains("does-not-exist"));
    assert!(out.status.is_none());
}

#[test]
fn a_rule_of_the_wrong_kind_fails_closed() {
    let fx = Fixture::new();
    let ports = ports();
    let mut policy = fx.policy(&ports);
    // b/ is a directory; a file rule on it would widen to its whole tree.
    policy
        .filesystem
        .binds
        .push(fx.bind(&fx.p("b"), Access::ReadOnly, false, FileKind::File));
    let out = spawn_child(
        &Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: None,
            after: vec![],
        },
        None,
    );
    let e = out.error.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
    assert_eq!(e["kind"], "setup");
    assert!(e["message"].as_str().unwrap().contains("is a Dir"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Required vs best-effort, with the debug-only fake-ABI knob.

#[cfg(debug_assertions)]
mod fake_abi {
    use super::*;

    fn spec(fx: &Fixture, ports: &Ports, mode: Compat, after: Ops) -> Spec {
        let mut policy = fx.policy(ports);
        policy.landlock.mode = mode;
        Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: true,
            support: None,
            after,
        }
    }

    #[test]
    fn required_and_too_old_is_a_preflight_error() {
        let fx = Fixture::new();
        let ports = ports();
        let out = spawn_child(&spec(&fx, &ports, Compat::Required, vec![]), Some("3"));
        let e = out.error.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
        assert_eq!(e["kind"], "preflight");
        let err: crate::support::api::Error = serde_json::from_value(e.clone()).unwrap();
        assert_eq!(err.exit_code(), 125);
        let line = err.to_string();
        assert!(
            line.contains("needs Landlock ABI 6")
                && line.contains("this kernel has ABI 3")
                && line.contains("mode = \"best-effort\" in [landlock]"),
            "{line}"
        );
        assert!(
            out.status.is_none(),
            "restrict must not run after a failed preflight"
        );
    }

    #[test]
    fn required_without_landlock_says_how_to_enable_it() {
        let fx = Fixture::new();
        let ports = ports();
        let out = spawn_child(&spec(&fx, &ports, Compat::Required, vec![]), Some("0"));
        let e = out.error.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
        assert_eq!(e["kind"], "preflight");
        assert!(e["hint"].as_str().unwrap().contains("lsm="), "{e}");
    }

    #[test]
    fn restrict_refuses_required_mode_on_its_own_too() {
        // Even if the supervisor skipped preflight, the restrict step fails closed.
        let fx = Fixture::new();
        let ports = ports();
        let mut s = spec(&fx, &ports, Compat::Required, vec![]);
        s.preflight = false;
        let out = spawn_child(&s, Some("5"));
        let e = out.error.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
        assert_eq!(e["kind"], "preflight");
        assert!(out.status.is_none());
    }

    #[test]
    fn best_effort_lists_what_is_not_enforced_and_the_list_is_true() {
        let fx = Fixture::new();
        let ports = ports();
        let after = vec![
            ("read_b".into(), Op::Read(fx.p("b/b.txt"))),
            ("write_a".into(), Op::OpenWrite(fx.p("a/a.txt"))),
            // Listed as not enforced, and indeed not: truncate, TCP, ioctl, scopes.
            ("truncate_a".into(), Op::Truncate(fx.p("a/t.txt"))),
            (
                "connect_denied".into(),
                Op::TcpConnect(ports.connect_denied),
            ),
            ("ioctl_zero".into(), Op::Ioctl("/dev/zero".into())),
            (
                "abstract".into(),
                Op::AbstractConnect(ports.abstract_name.clone()),
            ),
        ];
        let out = spawn_child(&spec(&fx, &ports, Compat::BestEffort, after), Some("2"));
        let status = out.status.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
        let missing: Vec<&str> = status["not_enforced"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["feature"].as_str().unwrap())
            .collect();
        assert_eq!(
            missing,
            [
                "truncate",
                "tcp-ports",
                "ioctl-dev",
                "scope-abstract-unix",
                "scope-signals"
            ]
        );
        assert_eq!(status["enforced"], true);
        assert_eq!(status["kernel_abi"], 2);
        assert_eq!(
            out.preflight.as_ref().unwrap()["landlock"]["not_enforced"],
            status["not_enforced"]
        );
        out.expect("read_b", libc::EACCES);
        out.expect("write_a", libc::EACCES);
        out.expect("truncate_a", 0);
        out.expect("connect_denied", 0);
        out.expect("ioctl_zero", libc::ENOTTY);
        out.expect("abstract", 0);
    }

    #[test]
    fn best_effort_without_landlock_runs_unconfined_and_says_so() {
        let fx = Fixture::new();
        let ports = ports();
        let after = vec![("read_b".into(), Op::Read(fx.p("b/b.txt")))];
        let out = spawn_child(&spec(&fx, &ports, Compat::BestEffort, after), Some("0"));
        let status = out.status.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
        assert_eq!(status["enforced"], false);
        assert_eq!(status["not_enforced"][0]["feature"], "filesystem");
        out.expect("read_b", 0);
    }

    #[test]
    fn doctor_reports_the_fake_abi_and_the_default_profile_gap() {
        let out = Command::new(crate::support::cargo_binary())
            .arg("doctor")
            .env(FAKE_ABI_ENV, "4")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(
            text.contains("ABI 4: lacks ioctl-dev, scope-abstract-unix, scope-signals"),
            "{text}"
        );
        assert!(text.contains("needs Landlock ABI 6"), "{text}");
        let json = Command::new(crate::support::cargo_binary())
            .args(["doctor", "--json"])
            .env(FAKE_ABI_ENV, "4")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["landlock"]["abi"], 4);
        assert_eq!(v["default_profile_enforceable"], false);
    }
}

#[test]
fn doctor_on_this_kernel() {
    let out = Command::new(crate::support::binary())
        .args(["doctor", "--json"])
        .env_remove(FAKE_ABI_ENV)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let abi = crate::support::kernel_landlock_abi();
    assert_eq!(v["landlock"]["abi"], serde_json::json!(abi));
    let checks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "landlock",
        "user namespaces",
        "seccomp",
        "ia32 emulation",
        "io_uring",
        "memfd",
        "cgroup v2",
    ] {
        assert!(checks.contains(&name), "{checks:?}");
    }
    // MFD_NOEXEC_SEAL came with Linux 6.3: the probe must agree with the kernel's version.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap());
    let version = (nums.next().unwrap(), nums.next().unwrap());
    assert_eq!(
        v["memfd_noexec_seal"],
        serde_json::json!(version >= (6, 3)),
        "{release}"
    );
    // The default profile needs Landlock ABI 6 (its scopes): enforceable exactly when the
    // kernel has it (and user namespaces and seccomp work, which every jail test here needs).
    let enforceable = abi.is_some_and(|a| a >= 6)
        && v["user_namespaces"]["unprivileged_allowed"] == true
        && v["seccomp"]["filter_usable"] == true;
    assert_eq!(v["default_profile_enforceable"], enforceable, "{v:#}");
    assert_eq!(out.status.code(), Some(if enforceable { 0 } else { 1 }));
}

#[test]
fn restrict_with_uses_the_supervisors_probe() {
    // The jail passes the support preflight found; a lower ABI there means less is handled,
    // and the status says exactly what.
    let fx = Fixture::new();
    let ports = ports();
    let mut policy = fx.policy(&ports);
    policy.landlock.mode = Compat::BestEffort;
    let out = spawn_child(
        &Spec {
            policy,
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: Some(crate::support::api::preflight::LandlockSupport::Available(
                3,
            )),
            after: vec![
                ("read_b".into(), Op::Read(fx.p("b/b.txt"))),
                ("truncate_a".into(), Op::Truncate(fx.p("a/t.txt"))),
                ("ioctl_zero".into(), Op::Ioctl("/dev/zero".into())),
            ],
        },
        None,
    );
    let status = out.status.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
    assert_eq!(status["kernel_abi"], 3);
    assert_eq!(status["not_enforced"][0]["feature"], "tcp-ports");
    out.expect("read_b", libc::EACCES);
    out.expect("truncate_a", libc::EACCES); // ABI 3 has truncate
    out.expect("ioctl_zero", libc::ENOTTY); // but not ioctl-dev
}

#[test]
fn a_support_value_above_the_kernel_fails_closed() {
    let Some(real) = crate::support::kernel_landlock_abi() else {
        panic!("these layer tests need a kernel with Landlock");
    };
    let fx = Fixture::new();
    let ports = ports();
    let out = spawn_child(
        &Spec {
            policy: fx.policy(&ports),
            drop_to: Some(NOBODY),
            before: vec![],
            preflight: false,
            support: Some(crate::support::api::preflight::LandlockSupport::Available(
                real + 1,
            )),
            after: vec![],
        },
        None,
    );
    let e = out.error.as_ref().unwrap_or_else(|| panic!("{}", out.raw));
    assert_eq!(e["kind"], "setup", "{e}");
    assert!(out.status.is_none());
}
