//! (placeholder)
pub mod fd;
