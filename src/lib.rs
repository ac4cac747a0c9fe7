//! tooljail: run untrusted tool calls inside a jail built from a TOML profile.
//!
//! The data flow (see docs/design.md): argv + profile files -> [`profile`] (as written, spans
//! kept) -> [`policy::Policy`] (resolved, pure data) -> [`preflight`] (kernel features) ->
//! [`plan`] (the launch plan) -> [`supervisor`] (parent) / [`jail`] (child) -> report + exit.

pub mod audit;
pub mod cgroup;
pub mod channel;
pub mod cli;
pub mod commands;
pub mod error;
pub mod export;
pub mod host;
pub mod isolation;
pub mod jail;
pub mod learn;
pub mod mcp;
pub mod net;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod preflight;
pub mod profile;
pub mod relay;
pub mod report;
pub mod shown;
pub mod sink;
pub mod state;
pub mod supervisor;
pub mod sys;
pub mod tty;
pub mod why;

pub use error::{Error, ErrorKind, Result};
