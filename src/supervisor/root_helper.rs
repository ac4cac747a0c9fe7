//! The helper of a root caller that writes a report file: a child forked while tooljail is
//! still root, that stays root and, at the end, renames the report into place.
//!
//! Why: `--report FILE` is written to a temporary file beside FILE, created while tooljail is
//! root, and renamed over FILE when the jail has ended (`sink::Replacement`). By then the
//! supervisor is the jail's user, which may not rename in root's directory (or may not rename
//! root's file in a sticky one). The helper does that one rename.
//!
//! It is forked only when a call has a report file to put in place; a call without one has no
//! helper. It takes requests from the supervisor over a socket pair only the two hold (the
//! supervisor is non-dumpable, the helper is root: no other process can reach either end) and
//! answers each with an errno (0: done):
//! - `R` + two names, then a directory descriptor: the rename, only of single components,
//!   only inside the directory given.
//!
//! It exits when the supervisor closes the socket (EOF), at the latest when tooljail ends.
//! (The jail's id maps, which a helper once wrote too, are written by the supervisor itself
//! with the one capability it keeps until then: `identity::MapsCap`.)

use crate::error::{Error, Result};
use crate::sys::process::{self, Forked};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// The supervisor's handle on its helper: the socket and the helper's pid (reaped on drop).
pub struct RootHelper {
    socket: Option<OwnedFd>,
    /// Until reaped.
    pid: Option<i32>,
}

/// Fork the helper when tooljail runs as root (`None` otherwise). Call while still root, in a
/// single-threaded process (tooljail is, until the supervisor's preamble checks it again).
pub fn spawn() -> Result<Option<RootHelper>> {
    if !nix::unistd::getuid().is_root() && !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::setup("create the root helper's socket", e as i32))?;
    match process::fork().map_err(|e| Error::setup("fork the root helper", &e))? {
        Forked::Child => {
            drop(ours);
            // Only its socket: the audit log, the report and the caller's fds are closed.
            if process::close_fds_except(&[theirs.as_raw_fd()]).is_err() {
                process::exit_now(1);
            }
            serve(&theirs);
            process::exit_now(0)
        }
        Forked::Parent { pid, .. } => {
            drop(theirs);
            Ok(Some(RootHelper {
                socket: Some(ours),
                pid: Some(pid),
            }))
        }
    }
}

/// The helper's loop: one request at a time until EOF, each answered with an errno.
fn serve(socket: &OwnedFd) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match nix::unistd::read(socket.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let errno = match (buf[0], &buf[1..n]) {
            (b'R', names) => rename(socket, names),
            _ => libc::EINVAL,
        };
        if nix::unistd::write(socket, &errno.to_ne_bytes()).is_err() {
            return;
        }
    }
}

/// Request `R`: `from\0to` (single components), then the directory descriptor in a second
/// message.
fn rename(socket: &OwnedFd, names: &[u8]) -> i32 {
    let dir = match crate::sys::seccomp::recv_fd(socket.as_fd()) {
        Ok(Some(fd)) => fd,
        _ => return libc::EBADF,
    };
    let mut parts = names.split(|b| *b == 0);
    let (Some(from), Some(to), None) = (parts.next(), parts.next(), parts.next()) else {
        return libc::EINVAL;
    };
    let single = |n: &[u8]| !n.is_empty() && !n.contains(&b'/') && n != b"." && n != b"..";
    if !single(from) || !single(to) {
        return libc::EINVAL;
    }
    let (Ok(from), Ok(to)) = (CString::new(from), CString::new(to)) else {
        return libc::EINVAL;
    };
    match nix::fcntl::renameat(
        Some(dir.as_raw_fd()),
        from.as_c_str(),
        Some(dir.as_raw_fd()),
        to.as_c_str(),
    ) {
        Ok(()) => 0,
        Err(e) => e as i32,
    }
}

impl RootHelper {
    /// One request and its answer (the errno; 0: done).
    fn ask(&mut self, request: &[u8], fd: Option<BorrowedFd<'_>>) -> std::io::Result<()> {
        let socket = self
            .socket
            .as_ref()
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EPIPE))?;
        nix::unistd::write(socket, request)?;
        if let Some(fd) = fd {
            crate::sys::seccomp::send_fd(socket.as_fd(), fd, libc::MSG_NOSIGNAL)?;
        }
        let mut buf = [0u8; 4];
        let errno = match nix::unistd::read(socket.as_raw_fd(), &mut buf)? {
            4 => i32::from_ne_bytes(buf),
            _ => libc::EPIPE,
        };
        match errno {
            0 => Ok(()),
            e => Err(std::io::Error::from_raw_os_error(e)),
        }
    }
}

impl crate::sink::Renamer for RootHelper {
    fn rename_in(&mut self, dir: BorrowedFd<'_>, from: &CStr, to: &CStr) -> std::io::Result<()> {
        let mut request = vec![b'R'];
        request.extend(from.to_bytes());
        request.push(0);
        request.extend(to.to_bytes());
        self.ask(&request, Some(dir))
    }
}

impl RootHelper {
    /// Its pid, until reaped.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Tell it the call needs it no more: its socket is closed, and it exits on EOF while the
    /// call goes on; it is reaped when dropped. A request after this fails with EPIPE.
    pub fn dismiss(&mut self) {
        drop(self.socket.take());
    }

    fn reap(&mut self) {
        let Some(pid) = self.pid.take() else {
            return;
        };
        loop {
            match process::wait4(pid, true) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Ok(None) => {}
                _ => break,
            }
        }
    }
}

impl Drop for RootHelper {
    /// Close the socket (an idle helper sees EOF and exits) and reap it.
    fn drop(&mut self) {
        drop(self.socket.take());
        self.reap();
    }
}
