//! The only place with `unsafe`: thin, safe wrappers around raw syscalls, each with its contract.

pub mod fd;
pub mod seccomp;
