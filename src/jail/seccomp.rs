//! The command's last step before execve: install the seccomp program the plan compiled
//! ([`crate::plan::seccomp`]) and hand its user-notification listener to the supervisor
//! ([`crate::supervisor::notify`]).

use crate::error::{Error, Result};
use crate::plan::seccomp::{Program, HANDOFF_SEND_FLAGS};
use crate::policy::syscalls::Arch;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd};

/// Install `prog` on the calling (command) process and hand its notification listener to the
/// supervisor over `handoff` (a unix socket created before clone). The last step before
/// execve: no_new_privs is (re)asserted, the filter is loaded with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER (and TSYNC, so a stray thread cannot stay unfiltered),
/// and the listener is sent with one
/// `sendmsg(handoff, .., MSG_NOSIGNAL)`, which the program allows even when the profile does not
/// (see [`crate::plan::seccomp::compile_for`]). The listener fd is not closed here: it is O_CLOEXEC, so execve closes
/// it and no close(2) has to pass the filter. `handoff` should be O_CLOEXEC too.
///
/// Allocates once (the patched program); the command process is forked from a single-threaded
/// parent, where that is safe.
pub fn install(prog: &Program, handoff: BorrowedFd<'_>) -> Result<()> {
    if prog.is_empty() {
        return Err(Error::setup(
            "seccomp filter",
            "refusing to install an empty seccomp program",
        ));
    }
    if prog.arch() != Arch::NATIVE {
        return Err(Error::setup(
            "seccomp filter",
            format!("program compiled for {}", prog.arch().name()),
        ));
    }
    let insns = prog.for_handoff_fd(handoff.as_raw_fd());
    let raw: Vec<libc::sock_filter> = insns
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    crate::sys::seccomp::set_no_new_privs()
        .map_err(|e| setup_err("no_new_privs", &e, "the kernel refused PR_SET_NO_NEW_PRIVS"))?;
    let listener = crate::sys::seccomp::install_filter_with_listener(&raw).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::EBUSY) => {
                "a seccomp filter with a listener is already installed (tooljail inside \
                 tooljail or another supervisor): run tooljail outside it"
            }
            Some(libc::EINVAL) => {
                "the kernel lacks seccomp user notification with TSYNC_ESRCH and WAIT_KILLABLE_RECV (Linux >= 5.19)"
            }
            Some(libc::ESRCH) => "another thread of the command process could not be filtered",
            _ => "check that seccomp is enabled (CONFIG_SECCOMP_FILTER)",
        };
        setup_err("seccomp filter", &e, hint)
    })?;
    // The flags must be exactly those the filter lets through for the hand-off sendmsg.
    let flags = libc::MSG_NOSIGNAL;
    debug_assert_eq!(flags.unsigned_abs(), HANDOFF_SEND_FLAGS);
    crate::sys::seccomp::send_fd(handoff, listener.as_fd(), flags).map_err(|e| {
        setup_err(
            "hand the seccomp listener to the supervisor",
            &e,
            "the supervisor end of the hand-off socket is gone",
        )
    })?;
    // Leave the listener to O_CLOEXEC: closing it here would be one more syscall under the
    // filter, and the supervisor holds its own copy now.
    let _ = listener.into_raw_fd();
    Ok(())
}

fn setup_err(step: &str, e: &std::io::Error, hint: &str) -> Error {
    Error::setup(step, e).with_hint(hint)
}
