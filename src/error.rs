//! One error type for everything tooljail itself can get wrong. Each error is rendered once, by
//! `main`, as one line in three parts: where (file:line:col or the setup step), what went wrong in
//! the profile's own terms, and what to do. The same fields go into the JSON report.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Exit statuses of tooljail's own outcomes, after `timeout(1)` and `env(1)`.
pub mod exit {
    /// The wall-clock timeout fired.
    pub const TIMEOUT: i32 = 124;
    /// tooljail failed (bad profile, bad arguments, setup failed): the command did not run.
    pub const FAILED: i32 = 125;
    /// The command was found but could not be executed.
    pub const NOT_EXECUTABLE: i32 = 126;
    /// The command was not found.
    pub const NOT_FOUND: i32 = 127;
    /// Base for "killed by signal N" (128 + N).
    pub const SIGNAL_BASE: i32 = 128;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad command-line usage.
    Usage,
    /// A profile could not be read, parsed or resolved.
    Profile,
    /// The kernel or host lacks something the Policy requires.
    Preflight,
    /// A step building the jail failed; the command never ran.
    Setup,
    /// The command does not exist inside the jail.
    NotFound,
    /// The command exists but cannot be executed.
    NotExecutable,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::NotFound => exit::NOT_FOUND,
            ErrorKind::NotExecutable => exit::NOT_EXECUTABLE,
            ErrorKind::Usage | ErrorKind::Profile | ErrorKind::Preflight | ErrorKind::Setup => {
                exit::FAILED
            }
        }
    }
}

/// An actionable error: `tooljail: WHERE: WHAT; HINT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub kind: ErrorKind,
    /// `file:line:col`, `setup step "…"`, `--ro`, or empty when there is no better place.
    #[serde(rename = "where")]
    pub location: String,
    /// What went wrong, in the profile's own terms.
    pub message: String,
    /// What to do about it; empty only when nothing useful can be said.
    pub hint: String,
    /// The OS error number behind a setup failure, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// True when retrying the same call may succeed (a transient resource shortage).
    pub retryable: bool,
}

impl Error {
    pub fn new(kind: ErrorKind, location: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            kind,
            location: location.into(),
            message: message.into(),
            hint: String::new(),
            errno: None,
            retryable: false,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, "", message)
    }

    pub fn profile(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Profile, location, message)
    }

    pub fn preflight(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Preflight, what, message)
    }

    /// A failed setup step. EAGAIN/ENOMEM/EMFILE-type errors are marked retryable.
    pub fn setup(step: impl Into<String>, errno: i32) -> Self {
        let message = std::io::Error::from_raw_os_error(errno).to_string();
        let mut e = Error::new(
            ErrorKind::Setup,
            format!("setup step \"{}\"", step.into()),
            message,
        );
        e.errno = Some(errno);
        e.retryable = matches!(
            errno,
            libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE | libc::ENOSPC | libc::EINTR
        );
        e
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.location.is_empty() {
            write!(f, "{}: ", self.location)?;
        }
        f.write_str(&self.message)?;
        if !self.hint.is_empty() {
            write!(f, "; {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_where_what_hint() {
        let e = Error::profile("p.toml:3:1", "unknown key \"rw\" in [filesystem]")
            .with_hint("did you mean \"read_write\"?");
        assert_eq!(
            e.to_string(),
            "p.toml:3:1: unknown key \"rw\" in [filesystem]; did you mean \"read_write\"?"
        );
        assert_eq!(e.exit_code(), 125);
    }

    #[test]
    fn setup_errors_know_what_is_transient() {
        assert!(Error::setup("clone", libc::EAGAIN).retryable);
        assert!(!Error::setup("bind /x", libc::ENOENT).retryable);
        assert_eq!(Error::new(ErrorKind::NotFound, "", "x").exit_code(), 127);
    }
}
