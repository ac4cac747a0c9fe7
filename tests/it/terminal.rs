//! The caller's terminal is not the command's to keep (issue 13 item 6): a command given the
//! caller's terminal as stdio that changes its settings and window size leaves it, once the
//! jail has ended, exactly as it was; the ioctls that would change it in ways that cannot be
//! put back (exclusive mode, line discipline) are refused. Tried on a real pseudo-terminal.

use crate::support::{each_identity, finish, Ctx};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `stty -a` of the terminal `fd` (its settings, window size and line discipline), as root.
fn stty(fd: &OwnedFd, args: &[&str]) -> String {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::from(fd.try_clone().unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success(), "stty {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// What the command wrote to the terminal: the master side, read without blocking.
fn drain(master: &OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(master.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The hostile command: new settings and window size (and says they took), then exclusive
/// mode and another line discipline, each reported as `NAME ok` or `NAME ERRNO`.
const HOSTILE: &str = r#"
stty intr ^A -echo -icanon rows 7 cols 9 && stty -a | head -2
python3 - <<'PY'
import fcntl, struct, termios
for name, arg in (("TIOCEXCL", 0), ("TIOCSETD", struct.pack("i", 2))):
    try:
        fcntl.ioctl(1, getattr(termios, name), arg)
        print(name, "ok")
    except OSError as e:
        print(name, e.errno)
PY
"#;

fn hostile_on_a_pty(ctx: &Ctx) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let (master, slave) = (pty.master, pty.slave);
    nix::fcntl::fcntl(
        master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    stty(&slave, &["rows", "30", "cols", "100"]);
    let before = stty(&slave, &["-a"]);
    let before_termios = nix::sys::termios::tcgetattr(slave.as_fd()).unwrap();

    let records = crate::support::records_dir();
    let log = records.path().join("audit.jsonl");
    let mut cmd = ctx.tooljail([
        "--audit-log",
        log.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        HOSTILE,
    ]);
    let tty = || Stdio::from(slave.try_clone().unwrap());
    cmd.process_group(0)
        .stdin(tty())
        .stdout(tty())
        .stderr(tty());
    // (support::spawn would give the run pipes; it retries ETXTBSY, as this does.)
    let child = loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => break r.expect("spawn"),
        }
    };
    let r = finish(child, Duration::from_secs(30), "hostile on a pty".into());
    let said = drain(&master);
    assert!(!r.timed_out, "{}\n{said}", r.dump());
    assert_eq!(r.code(), 0, "{}\n{said}", r.dump());
    // The command did change the terminal while it ran (else this test proves nothing)...
    assert!(
        said.contains("rows 7; columns 9") && said.contains("intr = ^A"),
        "the hostile command's changes did not take:\n{said}"
    );
    // ... and could not take it for itself or swap its line discipline.
    assert!(said.contains("TIOCEXCL 1"), "{said}");
    assert!(said.contains("TIOCSETD 1"), "{said}");
    // After the jail: as before, to the last flag.
    assert_eq!(
        stty(&slave, &["-a"]),
        before,
        "terminal after the run\n{said}"
    );
    assert!(
        nix::sys::termios::tcgetattr(slave.as_fd()).unwrap() == before_termios,
        "termios after the run differ\n{said}"
    );
}

#[test]
fn a_command_leaves_the_callers_terminal_as_it_found_it() {
    if !crate::support::need_python() {
        return;
    }
    each_identity(hostile_on_a_pty);
}
