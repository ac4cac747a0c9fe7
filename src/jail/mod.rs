//! The child side: pid 1 of the jail ([`init`]), the new root ([`rootfs`]), and the command's
//! last steps before execve ([`exec`]). Everything here runs after clone, in the new namespaces;
//! a failure is sent to the supervisor as a structured [`Error`] over the error pipe, and the
//! command never runs.

mod caps;
mod exec;
pub mod init;
pub mod landlock;
mod rootfs;
pub mod seccomp;

use crate::error::Error;
use std::os::fd::{BorrowedFd, OwnedFd};

/// The pipe ends the jail's pid 1 keeps after clone.
#[derive(Debug)]
pub struct ChildFds {
    /// Read end of the sync pipe: one byte = "id maps written, go"; EOF = the supervisor died.
    pub sync_rx: OwnedFd,
    /// Write end of the error pipe (CLOEXEC): one JSON-encoded [`Error`] per failure.
    pub err_tx: OwnedFd,
    /// Write end of the status pipe: pid 1 writes the command's raw wait status (i32, native
    /// endian) when it ends.
    pub status_tx: OwnedFd,
    /// The command's end of the seccomp hand-off socket (it sends the filter's listener fd to
    /// the supervisor). Pid 1 closes its copy once the command is forked.
    pub seccomp_tx: Option<OwnedFd>,
}

/// The uid and gid the jail runs as on the host (the supervisor's, after it dropped root).
/// The jail's user namespace maps them to 0 for pid 1; the command's own nested user namespace
/// maps them back to these same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostIds {
    pub uid: u32,
    pub gid: u32,
}

/// Send `e` to the supervisor. Best effort: if the pipe is gone the supervisor is gone too, and
/// PR_SET_PDEATHSIG is about to kill us.
pub(crate) fn report(err_tx: BorrowedFd<'_>, e: &Error) {
    if let Ok(json) = serde_json::to_vec(e) {
        // One write, smaller than PIPE_BUF in practice, so messages from pid 1 and the command
        // never interleave.
        let _ = nix::unistd::write(err_tx, &json);
    }
}

/// Turns an I/O error of a named setup step into the structured error the supervisor renders.
pub(crate) fn step(name: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let name = name.into();
    move |e| Error::setup(name, &e)
}
