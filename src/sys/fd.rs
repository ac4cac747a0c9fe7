//! File descriptors handed to tooljail by its caller, and accepted connections.

use std::os::fd::{FromRawFd, OwnedFd};

/// Take ownership of an inherited descriptor number.
///
/// Contract: the caller has checked that `fd` is open (e.g. with `fcntl(F_GETFD)`), and nothing
/// else in tooljail owns it: it is called once per descriptor named on the command line
/// (`--report fd:N`), before tooljail opens files of its own.
pub fn claim(fd: i32) -> OwnedFd {
    // SAFETY: per the contract above, `fd` is an open descriptor that no other owner in this
    // process will close, so OwnedFd may close it exactly once.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `accept4(listener, NULL, NULL, SOCK_CLOEXEC)`: the next connection, as an owned descriptor.
pub fn accept(listener: std::os::fd::BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: null address pointers are allowed: the peer's address is not wanted.
    let r = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a successful accept4 returns a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}
