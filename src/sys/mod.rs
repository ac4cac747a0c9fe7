//! (placeholder)
pub mod seccomp;
