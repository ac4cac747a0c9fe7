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
    /// The command ran, and `[export] strict = true` refused what it left in the scratch.
    Export,
    /// The call state store could not be opened, read or written (src/state/).
    State,
    /// A call rule (rate limit, loop guard, budget) refused the call; nothing ran.
    Refused,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::NotFound => exit::NOT_FOUND,
            ErrorKind::NotExecutable => exit::NOT_EXECUTABLE,
            ErrorKind::Usage
            | ErrorKind::Profile
            | ErrorKind::Preflight
            | ErrorKind::Setup
            | ErrorKind::Export
            | ErrorKind::State
            | ErrorKind::Refused => exit::FAILED,
        }
    }
}

/// Where an error is, as data: sorted, compared and sent between processes as it is, rendered
/// to text only for people and records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum Location {
    /// A position in a profile file: 1-based line and column.
    Span {
        file: String,
        line: usize,
        col: usize,
    },
    /// A named thing that has no position: a flag (`--report`), a profile section
    /// (`[syscalls]`), a profile by name, a kernel feature.
    Named { what: String },
    /// A step of building the jail (in the supervisor, pid 1 or the command).
    Step { name: String },
    /// Nowhere better to point at.
    #[default]
    None,
}

impl Location {
    pub fn step(name: impl Into<String>) -> Location {
        Location::Step { name: name.into() }
    }

    /// The key that puts errors in reading order: positions by file, line and column first;
    /// everything else after them, all equal (a stable sort keeps the order they were found in).
    pub fn reading_order(&self) -> (bool, &str, usize, usize) {
        match self {
            Location::Span { file, line, col } => (false, file, *line, *col),
            _ => (true, "", 0, 0),
        }
    }

    fn map_text(self, f: impl Fn(String) -> String) -> Location {
        match self {
            Location::Span { file, line, col } => Location::Span {
                file: f(file),
                line,
                col,
            },
            Location::Named { what } => Location::Named { what: f(what) },
            Location::Step { name } => Location::Step { name: f(name) },
            Location::None => Location::None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Span { file, line, col } => write!(f, "{file}:{line}:{col}"),
            Location::Named { what } => f.write_str(what),
            Location::Step { name } => write!(f, "setup step \"{name}\""),
            Location::None => Ok(()),
        }
    }
}

/// A flag, section or other named place (empty: no location).
impl From<&str> for Location {
    fn from(what: &str) -> Location {
        Location::from(what.to_string())
    }
}

impl From<String> for Location {
    fn from(what: String) -> Location {
        if what.is_empty() {
            Location::None
        } else {
            Location::Named { what }
        }
    }
}

/// What made a setup step fail: the OS error it got, or a condition tooljail checked itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    Errno(i32),
    Message(String),
}

impl From<i32> for Cause {
    fn from(errno: i32) -> Cause {
        Cause::Errno(errno)
    }
}

impl From<String> for Cause {
    fn from(message: String) -> Cause {
        Cause::Message(message)
    }
}

impl From<&str> for Cause {
    fn from(message: &str) -> Cause {
        Cause::Message(message.to_string())
    }
}

impl From<&std::io::Error> for Cause {
    fn from(e: &std::io::Error) -> Cause {
        Cause::Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<nix::errno::Errno> for Cause {
    fn from(e: nix::errno::Errno) -> Cause {
        Cause::Errno(e as i32)
    }
}

/// An actionable error: `tooljail: WHERE: WHAT; HINT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub kind: ErrorKind,
    pub location: Location,
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
    pub fn new(kind: ErrorKind, location: impl Into<Location>, message: impl Into<String>) -> Self {
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

    pub fn profile(location: impl Into<Location>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Profile, location, message)
    }

    pub fn preflight(what: impl Into<Location>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Preflight, what, message)
    }

    /// A failed setup step: the one constructor for every step of building the jail, in the
    /// supervisor, pid 1 or the command. An OS error keeps its errno, and EAGAIN/ENOMEM/EMFILE
    /// type errors are marked retryable.
    pub fn setup(step: impl Into<String>, cause: impl Into<Cause>) -> Self {
        let at = Location::step(step);
        match cause.into() {
            Cause::Message(message) => Error::new(ErrorKind::Setup, at, message),
            Cause::Errno(errno) => {
                let message = std::io::Error::from_raw_os_error(errno).to_string();
                let mut e = Error::new(ErrorKind::Setup, at, message);
                e.errno = Some(errno);
                e.retryable = matches!(
                    errno,
                    libc::EAGAIN
                        | libc::ENOMEM
                        | libc::EMFILE
                        | libc::ENFILE
                        | libc::ENOSPC
                        | libc::EINTR
                );
                if e.retryable {
                    // Replaced by a step's own hint where it knows better.
                    e.hint = "a transient shortage on the host; the same call may pass when \
                              retried"
                        .into();
                }
                e
            }
        }
    }

    /// Escape control characters in every text field, so the error stays one line that a
    /// terminal shows as written (errors quote values from profiles and the command line).
    pub fn one_line(self) -> Self {
        fn clean(s: String) -> String {
            match crate::shown::one_line(&s) {
                std::borrow::Cow::Borrowed(_) => s,
                std::borrow::Cow::Owned(shown) => shown,
            }
        }
        Error {
            location: self.location.map_text(clean),
            message: clean(self.message),
            hint: clean(self.hint),
            ..self
        }
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
        if self.location != Location::None {
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
    fn locations_render_as_before_and_sort_in_file_order() {
        let span = |file: &str, line, col| Location::Span {
            file: file.into(),
            line,
            col,
        };
        assert_eq!(span("p.toml", 3, 1).to_string(), "p.toml:3:1");
        assert_eq!(
            Location::step("bind /x").to_string(),
            "setup step \"bind /x\""
        );
        assert_eq!(Location::from("--ro").to_string(), "--ro");
        assert_eq!(Location::from(""), Location::None);
        let mut v = vec![
            Location::from("--ro"),
            span("b.toml", 1, 1),
            Location::from("--rw"),
            span("a.toml", 10, 2),
            span("a.toml", 9, 5),
        ];
        v.sort_by(|a, b| a.reading_order().cmp(&b.reading_order()));
        assert_eq!(
            v,
            [
                span("a.toml", 9, 5),
                span("a.toml", 10, 2),
                span("b.toml", 1, 1),
                Location::from("--ro"),
                Location::from("--rw")
            ]
        );
        let e = Error::setup("x", "a\nb").one_line();
        assert_eq!(e.to_string(), "setup step \"x\": a\\nb");
    }

    #[test]
    fn setup_errors_know_what_is_transient() {
        assert!(Error::setup("clone", libc::EAGAIN).retryable);
        // A retryable error never leaves the caller without a hint.
        assert!(Error::setup("clone", libc::EAGAIN).hint.contains("retried"));
        assert!(Error::setup("bind /x", libc::ENOENT).hint.is_empty());
        assert!(!Error::setup("bind /x", libc::ENOENT).retryable);
        assert_eq!(Error::new(ErrorKind::NotFound, "", "x").exit_code(), 127);
    }
}
