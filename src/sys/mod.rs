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

/// The whole text of a /proc or /sys file, read through `file`'s own offset: the open file's
/// read(2)s into one page-sized buffer until end of file, which is two reads for a file that
/// fits. `std::fs::read_to_string` first asks the size (statx and lseek, and such files say 0)
/// and then reads 32 bytes, 32, 64 and so on: for /proc/self/status, ten syscalls instead of
/// two, on the path of every call.
pub fn read_text(file: &std::fs::File) -> io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(4096);
    // Through `Take`, which has no size hint to ask for, not `File::read_to_string`.
    file.take(u64::MAX).read_to_string(&mut text)?;
    Ok(text)
}

/// [`read_text`] of the file at `path`.
pub fn read_text_at(path: impl AsRef<std::path::Path>) -> io::Result<String> {
    read_text(&std::fs::File::open(path)?)
}

/// The raw errno of an `io::Error`, or EIO when it carries none.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}
