//! The only `unsafe` in tooljail: thin, safe wrappers around the raw syscalls the supervisor and
//! the jail need (clone3, the new mount API, openat2, pidfd, wait4, memory scrubbing). Each
//! wrapper states its contract above it; each `unsafe` block states the invariant it relies on.
//!
//! Everything returns `std::io::Result` so callers can turn the errno into a structured
//! [`crate::Error::setup`] naming the step.
//!
//! The crate denies `unsafe_code` everywhere else (Cargo.toml `[lints]`); this module alone
//! allows it.
#![allow(unsafe_code)]

pub mod fd;
pub mod landlock;
pub mod mount;
pub mod net;
pub mod process;
pub mod seccomp;
pub mod tty;

use std::io;

/// `-1` from a raw syscall becomes the thread's errno as an `io::Error`.
fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The raw errno of an `io::Error`, or EIO when it carries none.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}
