//! The child side: pid 1 of the jail ([`init`]), the new root ([`rootfs`]), and the command's
//! last steps before execve ([`exec`]). Everything here runs after clone, in the new namespaces;
//! a failure is sent to the supervisor as a structured [`Error`] over the channel
//! ([`crate::channel`]), and the command never runs.

mod alias;
mod caps;
mod exec;
mod handoff;
pub mod init;
pub mod landlock;
mod nest;
mod rootfs;
pub mod seccomp;
mod sysctl;

use crate::channel::{self, Message};
use crate::error::Error;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// The pipe ends the jail's pid 1 keeps after clone.
#[derive(Debug)]
pub struct ChildFds {
    /// Read end of the sync pipe: one byte = "id maps written, go"; EOF = the supervisor died.
    pub sync_rx: OwnedFd,
    /// Write end of the channel to the supervisor (CLOEXEC, so the command's copy closes at
    /// execve): typed messages, [`crate::channel`].
    pub chan_tx: OwnedFd,
    /// The command's end of the seccomp hand-off socket (it sends the filter's listener fd to
    /// the supervisor). Pid 1 closes its copy once the command is forked.
    pub seccomp_tx: Option<OwnedFd>,
    /// Only when the Policy exports: pid 1 sends an O_PATH fd of the scratch root over it once
    /// the scratch is mounted, so the supervisor can read the scratch after the jail is gone.
    pub scratch_tx: Option<OwnedFd>,
    /// Only when the Policy has `allow_domains`: pid 1 sends the egress proxy's listening
    /// socket (made in the jail's network namespace) to the supervisor over it.
    pub egress_tx: Option<OwnedFd>,
    /// Only when a credential has `terminate_tls`: the CA bundle the command trusts (the
    /// per-call CA's certificate among the host's), and where in the scratch pid 1 writes it.
    pub egress_bundle: Option<(std::path::PathBuf, String)>,
    /// Only when `[output]` caps the stream: the write end of the relay's pipe, which becomes
    /// the jail's stdout (stderr) in place of the caller's.
    pub stdout_tx: Option<OwnedFd>,
    pub stderr_tx: Option<OwnedFd>,
    /// The idmapped copies of writable binds the supervisor prepared while root, one slot per
    /// bind of the Policy (see [`crate::supervisor::idmap`]); attached by the rootfs step.
    pub idmapped: crate::supervisor::idmap::Trees,
}

/// The uid and gid the jail runs as on the host (the supervisor's, after it dropped root).
/// The jail's user namespace maps them to 0 for pid 1; the command's own nested user namespace
/// maps them back to these same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostIds {
    pub uid: u32,
    pub gid: u32,
}

/// The command without a jail around it (`isolation = "landlock"`): forked by the supervisor
/// itself, it dies with the supervisor (PR_SET_PDEATHSIG, checked against a parent that died
/// first) and takes the same last steps as in the full jail, minus the nested user namespace.
///
/// `sync_rx`: one byte from the supervisor once the command is in the jail cgroup (when there is
/// one); EOF means the supervisor gave up, and the command leaves without running.
pub fn command_without_namespaces(
    plan: &crate::plan::Plan,
    supervisor: i32,
    sync_rx: BorrowedFd<'_>,
    chan_tx: BorrowedFd<'_>,
    seccomp_tx: BorrowedFd<'_>,
) -> ! {
    let died = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| step("set PR_SET_PDEATHSIG")(e.into()))
        .err();
    if let Some(e) = died {
        report(chan_tx, &e);
        crate::sys::process::exit_now(e.exit_code());
    }
    if nix::unistd::getppid().as_raw() != supervisor {
        crate::sys::process::exit_now(125);
    }
    // Every signal's action back to the default in the wait for the go byte, as pid 1 does
    // for the command it forks (init.rs): the command itself only empties its signal mask.
    crate::sys::process::default_dispositions();
    let mut go = [0u8; 1];
    if !matches!(nix::unistd::read(sync_rx.as_raw_fd(), &mut go), Ok(1)) {
        crate::sys::process::exit_now(125);
    }
    exec::become_command(plan, Some((chan_tx, seccomp_tx)), None)
}

/// Tell the supervisor that a setup step failed (best effort: see [`channel::send`]).
pub(crate) fn report(chan_tx: BorrowedFd<'_>, e: &Error) {
    channel::send(chan_tx, &Message::SetupFailed { error: e.clone() });
}

/// Turns an I/O error of a named setup step into the structured error the supervisor renders.
/// The name becomes a `String` only when the step fails: most steps succeed, and pid 1 names
/// about a hundred of them per call.
pub(crate) fn step(name: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::setup(name, &e)
}
