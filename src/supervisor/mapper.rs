//! The helper of a root caller: a child forked while tooljail is still root, that stays root,
//! writes the jail's id maps for the supervisor and, at the end, renames the report into place.
//!
//! Why: after root drops to the jail's user, every other host process of that uid (nobody's
//! daemons, or the `--user`'s own processes) has the supervisor's uid. Writing
//! `/proc/PID/uid_map` needs the jail's pid 1 to be dumpable (a non-dumpable task's /proc files
//! belong to root), and a dumpable pid 1 — or a supervisor made dumpable so that its clone is
//! born dumpable — can be read and robbed by any process of that uid: its environment (the
//! root caller's), its memory, its fds through pidfd_getfd or /proc/PID/fd (the audit log and
//! report root opened, the status channel, the seccomp hand-off socket). Root can open a
//! non-dumpable task's uid_map, so with the maps written here neither the supervisor nor pid 1
//! is ever dumpable.
//!
//! The mapper takes requests from the supervisor over a socket pair only the two hold (the
//! supervisor is non-dumpable, the mapper is root: no other process can reach either end) and
//! answers each with an errno (0: done):
//! - `M` + a pid: it writes the maps only for a child of the supervisor (its own parent) and
//!   only with the ids fixed before the fork (the jail's uid and gid mapped to 0);
//! - `R` + two names, then a directory descriptor: the one rename root's report needs when the
//!   jail has ended (`sink::Replacement`: the temporary file over the report's name), which
//!   the supervisor, by then the jail's user, may not do in root's directory. Only single
//!   components, only inside the directory given.
//!
//! It exits when the supervisor closes the socket (EOF), at the latest when tooljail ends.

use super::identity::{self, IdMap, JailIdentity};
use crate::error::{Error, Result};
use crate::sys::process::{self, Forked};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// The supervisor's handle on its mapper: the socket and the mapper's pid (reaped on drop).
pub struct Mapper {
    socket: Option<OwnedFd>,
    /// Until reaped.
    pid: Option<i32>,
}

/// Fork the mapper when tooljail runs as root (`None` otherwise). Call while still root, in a
/// single-threaded process (tooljail is, until the supervisor's preamble checks it again).
pub fn spawn(who: &JailIdentity) -> Result<Option<Mapper>> {
    if !nix::unistd::getuid().is_root() && !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::setup("create the id-map writer's socket", e as i32))?;
    match process::fork().map_err(|e| Error::setup("fork the id-map writer", &e))? {
        Forked::Child => {
            drop(ours);
            // Only its socket: the audit log, the report and the caller's fds are closed.
            if process::close_fds_except(&[theirs.as_raw_fd()]).is_err() {
                process::exit_now(1);
            }
            serve(&theirs, who);
            process::exit_now(0)
        }
        Forked::Parent { pid, .. } => {
            drop(theirs);
            Ok(Some(Mapper {
                socket: Some(ours),
                pid: Some(pid),
            }))
        }
    }
}

/// The mapper's loop: one request at a time until EOF, each answered with an errno.
fn serve(socket: &OwnedFd, who: &JailIdentity) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match nix::unistd::read(socket.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let errno = match (buf[0], &buf[1..n]) {
            (b'M', pid) => pid
                .try_into()
                .map_or(libc::EINVAL, |b| write_maps_of(i32::from_ne_bytes(b), who)),
            (b'R', names) => rename(socket, names),
            _ => libc::EINVAL,
        };
        if nix::unistd::write(socket, &errno.to_ne_bytes()).is_err() {
            return;
        }
    }
}

/// Request `M`: the jail's id maps for `pid`, if it is the supervisor's child.
fn write_maps_of(pid: i32, who: &JailIdentity) -> i32 {
    if parent_of(pid) != Some(nix::unistd::getppid().as_raw()) {
        return libc::EPERM;
    }
    let root = |outside| IdMap { inside: 0, outside };
    match identity::write_id_maps(&pid.to_string(), root(who.uid), root(who.gid)) {
        Ok(()) => 0,
        Err(e) => e.errno.unwrap_or(libc::EIO),
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

/// The parent pid of `pid` (`PPid:` of /proc/PID/status, readable for any task).
fn parent_of(pid: i32) -> Option<i32> {
    crate::sys::read_text_at(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

impl Mapper {
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

    /// Ask the mapper to write the id maps of `pid` (the jail's pid 1, our child).
    pub fn write_maps(&mut self, pid: i32) -> Result<()> {
        let mut request = vec![b'M'];
        request.extend(pid.to_ne_bytes());
        self.ask(&request, None).map_err(|e| {
            Error::setup(
                format!("write the jail's id maps (/proc/{pid}/uid_map, as root)"),
                &e,
            )
        })
    }
}

impl crate::sink::Renamer for Mapper {
    fn rename_in(&mut self, dir: BorrowedFd<'_>, from: &CStr, to: &CStr) -> std::io::Result<()> {
        let mut request = vec![b'R'];
        request.extend(from.to_bytes());
        request.push(0);
        request.extend(to.to_bytes());
        self.ask(&request, Some(dir))
    }
}

impl Mapper {
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

impl Drop for Mapper {
    /// Close the socket (an idle mapper sees EOF and exits) and reap it.
    fn drop(&mut self) {
        drop(self.socket.take());
        self.reap();
    }
}
