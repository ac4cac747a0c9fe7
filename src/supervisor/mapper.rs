//! The id-map writer of a root caller's jail: a child forked while tooljail is still root, that
//! stays root, writes the jail's id maps for the supervisor, and exits.
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
//! The mapper takes one request from the supervisor over a socket pair only the two hold (the
//! supervisor is non-dumpable, the mapper is root: no other process can reach either end): a
//! pid. It writes the maps only for a child of the supervisor (its own parent) and only with
//! the ids fixed before the fork (the jail's uid and gid mapped to 0), answers with an errno
//! (0: written), and exits. It exits too when the supervisor goes away (EOF).

use super::identity::{self, IdMap, JailIdentity};
use crate::error::{Error, Result};
use crate::sys::process::{self, Forked};
use std::os::fd::{AsRawFd, OwnedFd};

/// The supervisor's handle on its mapper: the socket and the mapper's pid (reaped on drop).
pub struct Mapper {
    socket: Option<OwnedFd>,
    /// Until reaped.
    pid: Option<i32>,
}

/// Fork the mapper. Call while still root, before [`identity::become_jail_user`]; the caller is
/// single-threaded (checked by the supervisor's preamble).
pub fn spawn(who: &JailIdentity) -> Result<Mapper> {
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
            let code = match process::close_fds_except(&[theirs.as_raw_fd()]) {
                Ok(()) => serve(&theirs, who),
                Err(e) => crate::sys::errno_of(&e),
            };
            process::exit_now(i32::from(code != 0))
        }
        Forked::Parent { pid, .. } => {
            drop(theirs);
            Ok(Mapper {
                socket: Some(ours),
                pid: Some(pid),
            })
        }
    }
}

/// The mapper's one request: read a pid, check it is the supervisor's child, write its maps,
/// answer the errno. Returns the errno (0: written; EOF: nothing asked).
fn serve(socket: &OwnedFd, who: &JailIdentity) -> i32 {
    let mut buf = [0u8; 4];
    let pid = match nix::unistd::read(socket.as_raw_fd(), &mut buf) {
        Ok(4) => i32::from_ne_bytes(buf),
        Ok(_) | Err(_) => return 0,
    };
    let errno = if parent_of(pid) == Some(nix::unistd::getppid().as_raw()) {
        let root = |outside| IdMap { inside: 0, outside };
        match identity::write_id_maps(&pid.to_string(), root(who.uid), root(who.gid)) {
            Ok(()) => 0,
            Err(e) => e.errno.unwrap_or(libc::EIO),
        }
    } else {
        libc::EPERM
    };
    let _ = nix::unistd::write(socket, &errno.to_ne_bytes());
    errno
}

/// The parent pid of `pid` (`PPid:` of /proc/PID/status, readable for any task).
fn parent_of(pid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

impl Mapper {
    /// Ask the mapper to write the id maps of `pid` (the jail's pid 1, our child), and wait for
    /// its answer. The mapper exits after one request.
    pub fn write_maps(&mut self, pid: i32) -> Result<()> {
        let step = || format!("write the jail's id maps (/proc/{pid}/uid_map, as root)");
        let socket = self
            .socket
            .take()
            .ok_or_else(|| Error::setup(step(), libc::EALREADY))?;
        nix::unistd::write(&socket, &pid.to_ne_bytes())
            .map_err(|e| Error::setup(step(), e as i32))?;
        let mut buf = [0u8; 4];
        let errno = match nix::unistd::read(socket.as_raw_fd(), &mut buf) {
            Ok(4) => i32::from_ne_bytes(buf),
            Ok(_) => libc::EPIPE,
            Err(e) => e as i32,
        };
        // It has answered and exits: reap it now, so that the jail's pid 1 is the only child
        // left for the rest of the run.
        drop(socket);
        self.reap();
        if errno != 0 {
            return Err(Error::setup(step(), errno));
        }
        Ok(())
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
