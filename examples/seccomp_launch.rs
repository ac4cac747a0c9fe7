//! Test and bench helper for the seccomp layer, without the rest of the jail.
//!
//!     seccomp_launch exec POLICY.json -- CMD ARGS...
//!         stdin is the hand-off socket: compile POLICY's filter, install it (sending the
//!         listener over stdin), put /dev/null on stdin, exec CMD. What the jail's command
//!         process does as its last step, minus everything else.
//!     seccomp_launch supervise POLICY.json -- CMD ARGS...
//!         the supervisor side too: spawn `exec` mode over a socketpair, answer notifications,
//!         print the one-line denial summary to stderr, exit with CMD's status.
//!
//! POLICY.json is a serialized Policy; `default` means the built-in default policy with the
//! `@system-service` allow-list.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::{dup2, execvp};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Command, Stdio};
use tooljail::jail::seccomp::install;
use tooljail::plan::seccomp;
use tooljail::policy::{syscalls, Policy};
use tooljail::supervisor::notify::{Denials, Event, Notifier};

fn load(path: &str) -> Policy {
    if path == "default" {
        let mut p = tooljail::profile::policy_from_args(&Default::default()).expect("policy");
        p.syscalls.allow = syscalls::expand(&["@system-service".to_string()]).expect("expand");
        return p;
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| die(&format!("{path}: {e}")));
    serde_json::from_str(&text).unwrap_or_else(|e| die(&format!("{path}: {e}")))
}

fn die(msg: &str) -> ! {
    eprintln!("seccomp_launch: {msg}");
    std::process::exit(125)
}

fn exec_mode(policy: &Policy, argv: &[String]) -> ! {
    let prog = seccomp::compile(policy).unwrap_or_else(|e| die(&e.to_string()));
    // Move the hand-off socket off stdin (std dups with F_DUPFD_CLOEXEC), then give stdin
    // /dev/null.
    let sock = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .unwrap_or_else(|e| die(&e.to_string()));
    let null = std::fs::File::open("/dev/null").unwrap_or_else(|e| die(&e.to_string()));
    dup2(null.as_raw_fd(), 0).unwrap_or_else(|e| die(&e.to_string()));
    drop(null);
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()).expect("nul"))
        .collect();
    install(&prog, sock.as_fd()).unwrap_or_else(|e| die(&e.to_string()));
    let e = execvp(&args[0], &args).unwrap_err();
    eprintln!("seccomp_launch: exec {}: {e}", argv[0]);
    std::process::exit(127)
}

fn supervise_mode(policy_path: &str, policy: &Policy, argv: &[String]) -> i32 {
    let prog = seccomp::compile(policy).unwrap_or_else(|e| die(&e.to_string()));
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap_or_else(|e| die(&e.to_string()));
    let exe = std::env::current_exe().unwrap_or_else(|e| die(&e.to_string()));
    let mut child = Command::new(exe)
        .arg("exec")
        .arg(policy_path)
        .arg("--")
        .args(argv)
        .stdin(Stdio::from(theirs))
        .spawn()
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut notifier: Option<Notifier> = None;
    let mut denials = Denials::default();
    // The hand-off socket is polled until the listener arrives (or the child side closes it);
    // after that only the listener: a hung-up socket would make poll return at once forever.
    let status = loop {
        let mut fds = Vec::with_capacity(1);
        match &notifier {
            None => fds.push(PollFd::new(ours.as_fd(), PollFlags::POLLIN)),
            Some(n) => fds.push(PollFd::new(n.fd(), PollFlags::POLLIN)),
        }
        let _ = poll(&mut fds, PollTimeout::from(50u16));
        let ev = fds[0].revents().unwrap_or(PollFlags::empty());
        drop(fds);
        match notifier.as_mut() {
            None if ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) => {
                match Notifier::from_handoff(ours.as_fd(), &prog) {
                    Ok(n) => notifier = Some(n),
                    Err(e) => {
                        let _ = child.wait();
                        die(&e.to_string());
                    }
                }
            }
            Some(n) if ev.contains(PollFlags::POLLIN) => {
                if let Ok(Some(Event::Denied(d))) = n.handle(None) {
                    denials.record(&d);
                    if d.kill {
                        let _ = child.kill();
                    }
                }
                continue;
            }
            _ => {}
        }
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
    };
    if let Some(line) = denials.summary_line() {
        eprintln!("{line}");
    }
    status
        .code()
        .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, path, rest) = match args.as_slice() {
        [m, p, dd, rest @ ..] if dd == "--" && !rest.is_empty() => (m.as_str(), p.as_str(), rest),
        _ => die("usage: seccomp_launch exec|supervise POLICY.json|default -- CMD ARGS..."),
    };
    let policy = load(path);
    match mode {
        "exec" => exec_mode(&policy, rest),
        "supervise" => std::process::exit(supervise_mode(path, &policy, rest)),
        _ => die("mode must be exec or supervise"),
    }
}
