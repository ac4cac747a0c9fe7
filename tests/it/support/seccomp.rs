//! Shared harness of the seccomp tests: run a command with the filter installed by
//! `examples/seccomp_launch exec` (the command process's last step, alone), while this test
//! process holds the other end of the hand-off socket and serves a `Notifier`, as the
//! supervisor will. Runs as the current user and, when that is root, as the test user
//! (support::test_user) through setpriv. Every run is bounded by a timeout.

use crate::support::api::policy::{syscalls, Policy, SeccompAction};
use crate::support::api::seccomp::{self, Denial, Denials, Event, Notifier};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub denials: Vec<Denial>,
    pub summary: Option<String>,
    pub who: String,
}

impl Outcome {
    pub fn dump(&self) -> String {
        format!(
            "as {}: status {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- denials\n{:#?}",
            self.who, self.status, self.stdout, self.stderr, self.denials
        )
    }
    pub fn denied_names(&self) -> Vec<String> {
        self.denials.iter().map(|d| d.name.clone()).collect()
    }
}

/// The built-in default Policy with a syscall allow-list and action.
pub fn policy(allow: &[&str], action: SeccompAction) -> Policy {
    let mut p =
        crate::support::api::profile::policy_from_args(&Default::default()).expect("policy");
    let names: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    p.syscalls.allow = syscalls::expand(&names).expect("expand");
    p.syscalls.action = action;
    p
}

pub fn default_policy() -> Policy {
    policy(&["@system-service"], SeccompAction::Errno(libc::EPERM))
}

fn examples_dir() -> PathBuf {
    // target/debug/deps/TEST-HASH -> target/debug/examples
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples")
}

/// The users to run as: the current one, plus the test user (support::test_user) when root.
pub fn users() -> Vec<Option<u32>> {
    let mut v = vec![None];
    if nix::unistd::geteuid().is_root() {
        v.push(Some(super::test_user().1));
    }
    v
}

/// Run `argv` under `policy`'s filter. `@probe` in argv stands for the probe binary. `cwd`, if
/// given, is the command's working directory (made the user's when running as another user).
pub fn run(policy: &Policy, user: Option<u32>, cwd: Option<&Path>, argv: &[&str]) -> Outcome {
    let dir = super::tempdir(0o700);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ex = examples_dir();
    let launch = dir.path().join("seccomp_launch");
    let probe = dir.path().join("probe");
    super::copy_executable(&ex.join("seccomp_launch"), &launch, 0o755);
    super::copy_executable(&ex.join("probe"), &probe, 0o755);
    let policy_path = dir.path().join("policy.json");
    std::fs::write(&policy_path, serde_json::to_vec(policy).unwrap()).unwrap();
    std::fs::set_permissions(&policy_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let argv: Vec<String> = argv
        .iter()
        .map(|a| {
            if *a == "@probe" {
                probe.to_string_lossy().into_owned()
            } else {
                a.to_string()
            }
        })
        .collect();

    let prog = seccomp::compile(policy).expect("compile");
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let mut cmd = match user {
        None => Command::new(&launch),
        Some(uid) => {
            let mut c = Command::new("setpriv");
            let id = uid.to_string();
            c.args(["--reuid", &id, "--regid", &id, "--clear-groups"]);
            c.arg(&launch);
            c
        }
    };
    cmd.arg("exec").arg(&policy_path).arg("--").args(&argv);
    cmd.stdin(Stdio::from(theirs))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let home = cwd
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.path().to_path_buf());
    cmd.env("HOME", &home).current_dir(&home);
    let mut child = cmd.spawn().expect("spawn seccomp_launch");
    drop(cmd); // closes our copy of the child's end of the socket
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });

    let deadline = Instant::now() + TIMEOUT;
    let mut notifier: Option<Notifier> = None;
    let mut handoff_open = true;
    let mut handoff_error = None;
    let mut denials = Vec::new();
    let mut summary = Denials::default();
    let mut timed_out = false;
    let status = loop {
        let mut fds = Vec::new();
        if handoff_open {
            fds.push(PollFd::new(ours.as_fd(), PollFlags::POLLIN));
        }
        if let Some(n) = &notifier {
            fds.push(PollFd::new(n.fd(), PollFlags::POLLIN));
        }
        poll(&mut fds, PollTimeout::from(20u16)).expect("poll");
        let rev: Vec<PollFlags> = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        drop(fds);
        let mut i = 0;
        if handoff_open {
            if rev[0].intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
                handoff_open = false;
                // A hand-off that fails is a failed run, never a run without a notifier
                // (whose denials would then go unseen).
                match Notifier::from_handoff(ours.as_fd(), &prog) {
                    Ok(n) => notifier = Some(n),
                    Err(e) => handoff_error = Some(format!("{e:?}")),
                }
            }
            i = 1;
        }
        if rev.get(i).is_some_and(|r| r.contains(PollFlags::POLLIN)) {
            let n = notifier.as_mut().unwrap();
            if let Some(Event::Denied(d)) = n.handle(None).expect("handle notification") {
                summary.record(&d);
                if d.kill {
                    let _ = child.kill();
                }
                denials.push(d);
            }
            continue;
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
        }
    };
    let o = Outcome {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
        denials,
        summary: summary.summary_line(),
        who: user.map_or("current user".into(), |u| format!("uid {u}")),
    };
    assert!(!timed_out, "timed out after {TIMEOUT:?}: {}", o.dump());
    if let Some(e) = handoff_error {
        panic!("the listener hand-off failed: {e}\n{}", o.dump());
    }
    o
}
