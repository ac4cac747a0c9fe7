//! The audit trail: one JSON line per run (the run's report, compact) appended to a log that a
//! security reviewer queries with `tooljail audit`. A record is written for refused and failed
//! runs too.
//!
//! Whole records under concurrency: each record is written with a single `write(2)` on an
//! `O_APPEND` descriptor while holding an exclusive `flock(2)` on it. O_APPEND makes the kernel
//! pick the offset atomically; the lock guarantees that a short write (which regular files do not
//! produce short of ENOSPC, but a network file system might) is completed before anyone else
//! appends. tests/audit.rs proves it with 200 concurrent runs.

use crate::error::Error;
use crate::report::{Outcome, Report};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The default audit log for a user: `/var/log/tooljail/audit.jsonl` for root,
/// `$XDG_STATE_HOME/tooljail/audit.jsonl` (default `~/.local/state`) for everyone else.
pub fn default_path(uid: u32, xdg_state_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    if uid == 0 {
        return Some(PathBuf::from("/var/log/tooljail/audit.jsonl"));
    }
    let base = match (xdg_state_home, home) {
        (Some(x), _) if x.starts_with('/') => PathBuf::from(x),
        (_, Some(h)) if h.starts_with('/') => Path::new(h).join(".local/state"),
        _ => return None,
    };
    Some(base.join("tooljail/audit.jsonl"))
}

/// An audit log opened for appending. Opened before the jail is built, while tooljail still has
/// the invoking user's rights (root's log stays root's even though the jail runs as nobody).
pub struct AuditLog {
    file: File,
    path: PathBuf,
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<AuditLog, Error> {
        let fail = |what: &str, e: std::io::Error| {
            Error::usage(format!("audit log {}: {what}: {e}", path.display())).with_hint(
                "pass --audit-log PATH to a writable file, or set enabled = false in [audit]",
            )
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o750)
                    .create(dir)
                    .map_err(|e| fail("cannot create its directory", e))?;
            }
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| fail("cannot open for appending", e))?;
        Ok(AuditLog {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as a single line.
    pub fn append(&self, report: &Report) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(report).expect("Report serializes");
        line.push(b'\n');
        let lock =
            nix::fcntl::Flock::lock(self.file.try_clone()?, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| std::io::Error::from(e))?;
        let mut f: &File = &lock;
        let result = f.write_all(&line);
        drop(lock);
        result
    }
}

use std::os::unix::fs::DirBuilderExt;

/// What `tooljail audit` filters on. Every field that is set must match.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Matches the caller's or the jail's user name or uid.
    pub user: Option<String>,
    pub since: Option<SystemTime>,
    pub until: Option<SystemTime>,
    pub tool: Option<String>,
    pub session: Option<String>,
    pub outcome: Option<Outcome>,
}

impl Filter {
    pub fn matches(&self, r: &Report) -> bool {
        let id = &r.identity;
        if let Some(u) = &self.user {
            let names = [
                id.caller_user.clone(),
                id.jail_user.clone(),
                Some(id.caller_uid.to_string()),
                Some(id.jail_uid.to_string()),
            ];
            if !names.iter().flatten().any(|n| n == u) {
                return false;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let Ok(t) = humantime::parse_rfc3339_weak(&r.started_at) else {
                return false;
            };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if self
            .tool
            .as_ref()
            .is_some_and(|t| id.tool.as_ref() != Some(t))
        {
            return false;
        }
        if self
            .session
            .as_ref()
            .is_some_and(|s| id.session.as_ref() != Some(s))
        {
            return false;
        }
        if self.outcome.is_some_and(|o| r.outcome != o) {
            return false;
        }
        true
    }
}

/// A line of the log that is not a record (a torn or foreign line): reported, never hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub error: String,
}

/// Read every record of the log that matches `filter`, in log order.
pub fn query(path: &Path, filter: &Filter) -> Result<(Vec<Report>, Vec<BadLine>), Error> {
    let file = File::open(path).map_err(|e| {
        Error::usage(format!("audit log {}: {e}", path.display()))
            .with_hint("pass --log PATH to the audit log to read")
    })?;
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::usage(format!("audit log {}: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Report>(&line) {
            Ok(r) if filter.matches(&r) => records.push(r),
            Ok(_) => {}
            Err(e) => bad.push(BadLine {
                line: i + 1,
                error: e.to_string(),
            }),
        }
    }
    Ok((records, bad))
}

/// A time bound for `--since`/`--until`: RFC 3339 (`2026-11-23T08:00:00Z`, or without the
/// zone, taken as UTC) or a duration ago (`90m`, `2h`, `7days`).
pub fn parse_time(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    if let Ok(d) = humantime::parse_duration(s) {
        return now
            .checked_sub(d)
            .ok_or_else(|| format!("`{s}` reaches before 1970"));
    }
    Err(format!(
        "`{s}`: expected an RFC 3339 time (2026-11-23T08:00:00Z) or a duration ago (2h)"
    ))
}

/// The readable table `tooljail audit` prints by default.
pub fn table(records: &[Report]) -> String {
    let mut out = String::from(
        "STARTED                  USER         TOOL         OUTCOME      EXIT  DURATION  COMMAND\n",
    );
    for r in records {
        let user = r
            .identity
            .caller_user
            .clone()
            .unwrap_or_else(|| r.identity.caller_uid.to_string());
        let tool = r.identity.tool.clone().unwrap_or_else(|| "-".into());
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cmd = r.argv.join(" ");
        let cmd = if cmd.chars().count() > 60 {
            format!("{}…", cmd.chars().take(59).collect::<String>())
        } else {
            cmd
        };
        out.push_str(&format!(
            "{:<24} {:<12} {:<12} {:<12} {:>4} {:>8}ms  {}\n",
            r.started_at, user, tool, outcome, r.exit_status, r.duration_ms, cmd
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(user: &str, tool: &str, session: &str, outcome: Outcome, at: &str) -> Report {
        let mut r = Report::begin(vec!["echo".into(), "hi".into()]);
        r.identity.caller_user = Some(user.into());
        r.identity.tool = Some(tool.into());
        r.identity.session = Some(session.into());
        r.outcome = outcome;
        r.started_at = at.into();
        r
    }

    #[test]
    fn default_paths() {
        assert_eq!(
            default_path(0, None, None),
            Some("/var/log/tooljail/audit.jsonl".into())
        );
        assert_eq!(
            default_path(1000, None, Some("/home/a")),
            Some("/home/a/.local/state/tooljail/audit.jsonl".into())
        );
        assert_eq!(
            default_path(1000, Some("/s"), Some("/home/a")),
            Some("/s/tooljail/audit.jsonl".into())
        );
        assert_eq!(default_path(1000, Some("relative"), None), None);
    }

    #[test]
    fn filters_select_by_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AuditLog::open(&path).unwrap();
        log.append(&record(
            "alice",
            "git",
            "s1",
            Outcome::Exited,
            "2026-11-23T08:00:00.000Z",
        ))
        .unwrap();
        log.append(&record(
            "bob",
            "curl",
            "s2",
            Outcome::Timeout,
            "2026-11-23T09:00:00.000Z",
        ))
        .unwrap();
        log.append(&record(
            "alice",
            "curl",
            "s2",
            Outcome::SetupError,
            "2026-11-23T10:00:00.000Z",
        ))
        .unwrap();
        let q = |f: Filter| query(&path, &f).unwrap().0.len();
        assert_eq!(q(Filter::default()), 3);
        assert_eq!(
            q(Filter {
                user: Some("alice".into()),
                ..Default::default()
            }),
            2
        );
        assert_eq!(
            q(Filter {
                tool: Some("curl".into()),
                ..Default::default()
            }),
            2
        );
        assert_eq!(
            q(Filter {
                session: Some("s1".into()),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            q(Filter {
                outcome: Some(Outcome::Timeout),
                ..Default::default()
            }),
            1
        );
        let t = |s| humantime::parse_rfc3339_weak(s).unwrap();
        let window = Filter {
            since: Some(t("2026-11-23T08:30:00Z")),
            until: Some(t("2026-11-23T10:00:00Z")),
            ..Default::default()
        };
        let (got, bad) = query(&path, &window).unwrap();
        assert!(bad.is_empty());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].identity.caller_user.as_deref(), Some("bob"));
    }

    #[test]
    fn torn_lines_are_reported_not_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"schema\":\n").unwrap();
        let (records, bad) = query(&path, &Filter::default()).unwrap();
        assert!(records.is_empty());
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 1);
    }

    #[test]
    fn time_bounds_parse() {
        let now = humantime::parse_rfc3339_weak("2026-11-23T10:00:00Z").unwrap();
        assert_eq!(
            parse_time("2h", now).unwrap(),
            now - Duration::from_secs(7200)
        );
        assert_eq!(
            parse_time("2026-11-23T08:00:00Z", now).unwrap(),
            now - Duration::from_secs(7200)
        );
        assert!(parse_time("yesterday", now).is_err());
    }
}
