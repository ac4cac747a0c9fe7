//! File descriptors handed to tooljail by its caller.

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
