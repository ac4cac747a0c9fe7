//! Network modes, the controlling terminal, and mount points that must not follow symlinks.
#![allow(
    unsafe_code,
    clippy::multiple_unsafe_ops_per_block,
    reason = "pre_exec hooks make the caller's terminal the child's, as a login shell has it"
)]

use crate::support::{each_identity, finish, profile_file, run, tempdir, Ctx};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

fn jail(ctx: &Ctx, args: &[&str]) -> crate::support::Run {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    run(ctx.tooljail(a))
}

#[test]
fn network_none_cannot_reach_the_host_but_has_its_own_loopback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED");
    let host_netns = std::fs::read_link("/proc/self/ns/net").unwrap();
    each_identity(|ctx| {
        // A network namespace of its own, not the host's.
        let r = jail(ctx, &["--", "readlink", "/proc/self/ns/net"]);
        r.expect(0);
        assert!(r.stdout.starts_with("net:["), "{}", r.dump());
        assert_ne!(
            r.stdout.trim(),
            host_netns.to_str().unwrap(),
            "{}",
            r.dump()
        );
        let r = jail(ctx, &["--", "bash", "-c", &connect]);
        assert_ne!(r.code(), 0, "{}", r.dump());
        assert!(!r.stdout.contains("CONNECTED"), "{}", r.dump());
        assert!(
            listener.accept().is_err(),
            "the host listener got a connection\n{}",
            r.dump()
        );
        // The same probe with the host's network and the port allowed does connect: the probe
        // itself works. (Host mode with no port listed denies every TCP connect: Landlock.)
        let (_dir, profile) = profile_file(&format!(
            "extends = [\"default\"]\n[network]\nmode = \"host\"\ntcp_connect = [{port}]\n"
        ));
        let profile = profile.to_str().unwrap();
        let r = jail(ctx, &["-p", profile, "--", "bash", "-c", &connect]);
        r.expect(0).expect_stdout_contains("CONNECTED");
        while listener.accept().is_ok() {}
    });
    if !crate::support::need_python() {
        return;
    }
    let script = "import socket\n\
        s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n\
        c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n\
        c.sendall(b'ping'); print('LO-OK', a.recv(4).decode())\n";
    each_identity(|ctx| {
        jail(ctx, &["--", "python3", "-c", script])
            .expect(0)
            .expect_stdout_contains("LO-OK ping");
        jail(ctx, &["--net", "loopback", "--", "python3", "-c", script])
            .expect(0)
            .expect_stdout_contains("LO-OK ping");
    });
}

#[test]
fn no_controlling_terminal_to_inject_into() {
    if !crate::support::need_python() {
        return;
    }
    // The command reports its controlling terminal (tty_nr, field 7 of /proc/self/stat; 0 when
    // it has none), then tries to push a byte into the terminal's input.
    let script = "import fcntl, termios, sys\n\
        stat = open('/proc/self/stat').read().rsplit(')', 1)[1].split()\n\
        print('TTY_NR', stat[4])\n\
        try:\n    fcntl.ioctl(0, termios.TIOCSTI, b'@')\n    print('INJECTED')\n\
        except OSError as e:\n    print('TIOCSTI-DENIED', e.errno)\n";
    let tty_nr = |out: &str| -> i64 {
        out.lines()
            .find_map(|l| l.trim().strip_prefix("TTY_NR "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no TTY_NR line in {out:?}"))
    };
    // Control: the same script started the same way, outside the jail, does hold the pty as its
    // controlling terminal; so a 0 below is the jail's doing (its setsid), not the harness's.
    {
        let pty = nix::pty::openpty(None, None).unwrap();
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", script]);
        with_controlling_terminal(&mut cmd, &pty.slave);
        let r = finish(
            cmd.spawn().unwrap(),
            Duration::from_secs(30),
            "python3".into(),
        );
        let out = drain(&pty.master);
        assert_ne!(
            tty_nr(&out),
            0,
            "the control has no controlling terminal\n{}",
            r.dump()
        );
    }
    each_identity(|ctx| {
        let pty = nix::pty::openpty(None, None).unwrap();
        let (master, slave): (OwnedFd, OwnedFd) = (pty.master, pty.slave);
        // Raw mode: no echo, no line buffering, so an injected byte would be readable at once.
        let mut t = nix::sys::termios::tcgetattr(&slave).unwrap();
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(&slave, nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
        let mut cmd = ctx.tooljail(["run", "--", "python3", "-c", script]);
        // tooljail gets the pty as its controlling terminal, as from an interactive shell: only
        // the jail's own setsid keeps the command from injecting into it.
        with_controlling_terminal(&mut cmd, &slave);
        let child = cmd.spawn().unwrap();
        let r = finish(
            child,
            Duration::from_secs(30),
            "tooljail run -- python3 TIOCSTI".into(),
        );
        // What the jail wrote to the terminal.
        let out = drain(&master);
        // The command is in a session of its own, with no controlling terminal at all.
        assert_eq!(
            tty_nr(&out),
            0,
            "the command holds a controlling terminal\n{out:?}\n{}",
            r.dump()
        );
        assert!(
            out.contains("TIOCSTI-DENIED"),
            "terminal output: {out:?}\n{}",
            r.dump()
        );
        assert!(!out.contains("INJECTED"), "terminal output: {out:?}");
        // Nothing was pushed into the terminal's input queue.
        nix::fcntl::fcntl(
            slave.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut input = [0u8; 16];
        let got = nix::unistd::read(slave.as_raw_fd(), &mut input);
        assert!(
            matches!(got, Err(nix::errno::Errno::EAGAIN)),
            "bytes injected into the caller's terminal: {got:?} {:?}",
            &input
        );
        assert_eq!(r.code(), 0, "{}", r.dump());
    });
}

#[test]
fn a_symlink_inside_a_rw_bind_cannot_redirect_a_later_mount() {
    each_identity(|ctx| {
        let dir = tempdir(0o777);
        let outside = tempdir(0o755);
        // Inside the jail, DIR/link points at OUTSIDE: a mount on it would land there.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let d = dir.path().to_str().unwrap();
        let link = format!("{d}/link");
        let r = jail(ctx, &["--rw", d, "--ro", &link, "--", "true"]);
        r.expect(125).expect_stderr_contains("symlink");
    });
}

/// Start `cmd` in a new session whose controlling terminal is `tty`, with `tty` as its stdin,
/// stdout and stderr (what an interactive shell gives the programs it starts).
fn with_controlling_terminal(cmd: &mut std::process::Command, tty: &OwnedFd) {
    // SAFETY: setsid and ioctl are async-signal-safe; stdin (fd 0) is the pty slave here.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::from(tty.try_clone().unwrap()))
        .stdout(Stdio::from(tty.try_clone().unwrap()))
        .stderr(Stdio::from(tty.try_clone().unwrap()));
}

/// Everything written to the pty so far, read from its master side without blocking.
fn drain(master: &OwnedFd) -> String {
    nix::fcntl::fcntl(
        master.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = std::fs::File::from(master.try_clone().unwrap()).read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

use std::os::unix::process::CommandExt;
