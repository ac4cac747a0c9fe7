//! Call state: the rules that span calls (rate limits, the loop guard, session budgets) and the
//! store that remembers the calls. Touched only when the Policy has a call rule: a call without
//! one opens no store.
//!
//! ```text
//!   rules.rs     the decisions, pure: what the store observed against [budget]
//!   store.rs     the schema and each decision as SQL, shared by both stores
//!   sqlite.rs    the default store (WAL, BEGIN IMMEDIATE)
//!   postgres.rs  the fleet's store (a transaction holding the calls table's lock)
//!   place.rs     where the SQLite file lives: no symlinks, owner-only
//! ```
//!
//! docs/state.md has the semantics and the schema.

mod place;
mod postgres;
pub mod rules;
mod sqlite;
pub mod store;

use crate::error::{Error, ErrorKind, Result};
use std::path::PathBuf;
pub use store::{Store, StoreError, Used};

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Url {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Url {
    /// `sqlite:PATH` or `postgres://...` (`postgresql://...`).
    pub fn parse(s: &str) -> Option<Url> {
        if let Some(p) = s.strip_prefix("sqlite:") {
            return (!p.is_empty()).then(|| Url::Sqlite(PathBuf::from(p)));
        }
        (s.starts_with("postgres://") || s.starts_with("postgresql://"))
            .then(|| Url::Postgres(s.to_string()))
    }

    /// The store a call uses: `--state` (or `TOOLJAIL_STATE`), else the profile's
    /// `[budget] state`, else the default SQLite file.
    pub fn choose(flag: Option<&str>, profile: Option<&str>) -> Result<Url> {
        if let Some(f) = flag {
            return Url::parse(f).ok_or_else(|| {
                Error::usage(format!("--state {f:?}: not a store URL"))
                    .with_hint("use sqlite:/path/state.db or postgres://user@host/db")
            });
        }
        if let Some(url) = profile.and_then(Url::parse) {
            return Ok(url);
        }
        place::default_path().map(Url::Sqlite).ok_or_else(|| {
            Error::new(
                ErrorKind::State,
                "state store",
                "HOME and XDG_STATE_HOME are unset",
            )
            .with_hint("pass --state sqlite:/path/state.db")
        })
    }

    /// For messages: the URL without a password.
    pub fn shown(&self) -> String {
        match self {
            Url::Sqlite(p) => format!("sqlite:{}", p.display()),
            Url::Postgres(u) => redact(u),
        }
    }
}

/// Open the store (`create`: make the SQLite file and its directory when missing).
pub fn open(url: &Url, create: bool) -> Result<Box<dyn Store>> {
    let opened: std::result::Result<Box<dyn Store>, StoreError> = match url {
        Url::Sqlite(p) => sqlite::Sqlite::open(p, create).map(|s| Box::new(s) as Box<dyn Store>),
        Url::Postgres(u) => postgres::Postgres::open(u).map(|s| Box::new(s) as Box<dyn Store>),
    };
    opened.map_err(|e| error(url, e))
}

/// A store failure as the one error line: fail closed, exit 125, retryable on a lock timeout.
pub fn error(url: &Url, e: StoreError) -> Error {
    let hint = if e.retryable {
        "another call held the store's lock too long; retry the call"
    } else {
        "fix or move the store (see docs/state.md), or run without [budget] rules"
    };
    let mut err = Error::new(
        ErrorKind::State,
        format!("state store {}", url.shown()),
        e.message,
    )
    .with_hint(hint);
    err.retryable = e.retryable;
    err
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Wait (up to a second) until this process is single-threaded again: a PostgreSQL client's
/// runtime joins its threads when dropped, but the kernel may list an exiting thread a moment
/// longer. The supervisor refuses to clone with more than one thread.
pub fn settle_threads() {
    for _ in 0..100 {
        if crate::sys::process::thread_count().is_ok_and(|n| n == 1) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
fn redact(u: &str) -> String {
    let Some((scheme, rest)) = u.split_once("://") else {
        return u.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(x) => x,
        None => return u.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => u.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Url::parse("sqlite:/x/s.db"),
            Some(Url::Sqlite("/x/s.db".into()))
        );
        assert_eq!(Url::parse("sqlite:"), None);
        assert_eq!(Url::parse("mysql://x"), None);
        assert_eq!(
            Url::parse("postgres://u:pw@h/db").unwrap().shown(),
            "postgres://u:***@h/db"
        );
        assert!(Url::choose(Some("nope"), None).is_err());
        assert_eq!(
            Url::choose(Some("sqlite:/a"), Some("sqlite:/b")).unwrap(),
            Url::Sqlite("/a".into())
        );
    }
}
