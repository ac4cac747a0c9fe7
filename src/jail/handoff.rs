//! How the command gets its two channels to the supervisor (the status channel and the seccomp
//! hand-off socket) without holding them while it is dumpable.
//!
//! The command must write its own nested user namespace's id maps, which needs it dumpable for
//! a moment (`exec::nest_user_namespace`): then any host process of the jail's uid may read its
//! memory and take its descriptors. So pid 1 forks it holding nothing above stdio, and hands the
//! channels over only once it is non-dumpable again: pid 1 listens on an abstract unix socket
//! (autobound, a name the kernel picks), the command connects after the maps, and pid 1 sends
//! the two descriptors to the one peer whose pid (SO_PEERCRED, in pid 1's pid namespace) is
//! the command's. A host process is outside that pid namespace (its pid reads 0) and is turned
//! away; in a private network namespace it cannot even reach the socket.

use crate::error::{Error, Result};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

fn setup(what: &str) -> impl Fn(nix::errno::Errno) -> Error + '_ {
    move |e| Error::setup(format!("{what} (channel hand-off)"), e as i32)
}

fn seqpacket() -> Result<OwnedFd> {
    socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(setup("socket"))
}

/// Pid 1's listening socket and its abstract name.
pub struct Listener {
    fd: OwnedFd,
    name: Vec<u8>,
}

/// Listen on a fresh abstract unix socket whose name the kernel picks (autobind).
pub fn listen() -> Result<Listener> {
    let fd = seqpacket()?;
    socket::bind(fd.as_raw_fd(), &UnixAddr::new_unnamed()).map_err(setup("bind"))?;
    let addr: UnixAddr = socket::getsockname(fd.as_raw_fd()).map_err(setup("getsockname"))?;
    let name = addr
        .as_abstract()
        .ok_or_else(|| {
            Error::setup(
                "autobind an abstract socket (channel hand-off)",
                libc::EINVAL,
            )
        })?
        .to_vec();
    socket::listen(&fd, socket::Backlog::new(4).map_err(setup("listen"))?)
        .map_err(setup("listen"))?;
    Ok(Listener { fd, name })
}

impl Listener {
    /// The abstract name the command connects to.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Pid 1, after forking `command`: wait until it connects (or ends: `Ok` then, its wait
    /// status tells the rest), and send it `fds` in order. Peers other than `command` are
    /// closed unanswered.
    pub fn give(self, command: i32, fds: &[BorrowedFd<'_>]) -> Result<()> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let pidfd = crate::sys::process::pidfd_open(command)
            .map_err(|e| Error::setup("pidfd_open the command (channel hand-off)", &e))?;
        loop {
            let mut set = [
                PollFd::new(self.fd.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut set, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(setup("poll")(e)),
                Ok(_) => {}
            }
            let ready = |p: &PollFd<'_>| p.revents().is_some_and(|r| !r.is_empty());
            if !ready(&set[0]) {
                // The command ended without connecting.
                return Ok(());
            }
            let conn = crate::sys::fd::accept(self.fd.as_fd())
                .map_err(|e| Error::setup("accept the command (channel hand-off)", &e))?;
            let peer = socket::getsockopt(&conn, socket::sockopt::PeerCredentials)
                .map_err(setup("read the peer's credentials"))?;
            if peer.pid() != command {
                continue;
            }
            for fd in fds {
                crate::sys::seccomp::send_fd(conn.as_fd(), *fd, libc::MSG_NOSIGNAL)
                    .map_err(|e| Error::setup("send the channels (channel hand-off)", &e))?;
            }
            return Ok(());
        }
    }
}

/// The command, once non-dumpable again: connect to pid 1's socket `name` and receive `count`
/// descriptors (close-on-exec), in the order pid 1 sent them.
pub fn take(name: &[u8], count: usize) -> Result<Vec<OwnedFd>> {
    let fd = seqpacket()?;
    let addr = UnixAddr::new_abstract(name).map_err(setup("name the socket"))?;
    socket::connect(fd.as_raw_fd(), &addr).map_err(setup("connect to pid 1"))?;
    (0..count)
        .map(|_| {
            crate::sys::seccomp::recv_fd(fd.as_fd())
                .map_err(|e| Error::setup("receive the channels (channel hand-off)", &e))?
                .ok_or_else(|| Error::setup("receive the channels (channel hand-off)", libc::EPIPE))
        })
        .collect()
}
