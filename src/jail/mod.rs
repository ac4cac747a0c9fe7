//! (placeholder)
pub mod landlock;
