//! The audit trail: one JSON line per run (the run's report, compact) appended to a log that a
//! security reviewer queries with `tooljail audit`. A record is written for refused and failed
//! runs too.
//!
//! Whole records under concurrency: each record is written with a single `write(2)` on an
//! `O_APPEND` descriptor while holding an exclusive `flock(2)` on it. O_APPEND makes the kernel
//! pick the offset atomically; the lock guarantees that a short write (which regular files do not
//! produce short of ENOSPC, but a network file system might) is completed before anyone else
//! appends. tests/it/audit.rs proves it with 200 concurrent runs.

pub mod chain;

use crate::error::Error;
use crate::report::{Outcome, Report};
use crate::sink::FileMode;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
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

/// The fix for an audit log that cannot be opened.
const HINT: &str = "pass --audit-log PATH to a writable file in an existing directory, \
                    or set enabled = false in [audit]";

/// [`default_path`] for the calling process: its real uid, `$XDG_STATE_HOME` and `$HOME`, each
/// resolved (`realpath`) when it exists. A home reached through a link the system made
/// (`/home -> var/home`, `/home -> /gpfs/home`) is the caller's own way in; what lies below it
/// (`.local/state/tooljail`, which a jail given the home could plant as a link) is walked
/// without following links ([`crate::sink::ensure_dir`]).
pub fn caller_default_path() -> Option<PathBuf> {
    let real = |var: &str| {
        std::env::var(var).ok().map(|v| {
            std::fs::canonicalize(&v)
                .ok()
                .and_then(|p| p.to_str().map(str::to_owned))
                .unwrap_or(v)
        })
    };
    default_path(
        nix::unistd::getuid().as_raw(),
        real("XDG_STATE_HOME").as_deref(),
        real("HOME").as_deref(),
    )
}

/// An audit log opened for appending. Opened before the jail is built, while tooljail still has
/// the invoking user's rights (root's log stays root's even though the jail runs as nobody).
pub struct AuditLog {
    file: File,
    path: PathBuf,
}

impl AuditLog {
    /// Open `path` for appending through [`crate::sink`]: no symbolic link in any component,
    /// every directory on the way the caller's or root's and writable by nobody else (sticky
    /// ones aside), and the file a regular one with one link owned by the caller or root (or
    /// /dev/null). `default_location`: `path` is the caller's default log ([`default_path`]),
    /// whose missing directories are created (0750) the same way. A path the caller named
    /// (`--audit-log`, `[audit] log`) must be in an existing directory: tooljail, perhaps
    /// running as root, creates no directory a user chose.
    pub fn open(path: &Path, default_location: bool) -> Result<AuditLog, Error> {
        let opened = crate::sink::split(path).and_then(|(dir, name)| {
            let dir = if default_location {
                crate::sink::ensure_dir(&dir, 0o750)?
            } else {
                crate::sink::open_dir(&dir)?
            };
            dir.create_file(&name, FileMode::Append)
        });
        let file = opened.map_err(|e| e.into_error("audit log", path, HINT))?;
        room_for_records(&file, path)?;
        Ok(AuditLog {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as a single line, linked to the line before it ([`chain`]): under the
    /// lock, the log's last line is read back, and the record carries its hash and the next
    /// sequence number. A last line cut short by a crash (no newline) is ended first, so the
    /// new record starts a line of its own.
    pub fn append(&self, report: &Report) -> std::io::Result<()> {
        // A learning run's record of every path and syscall is for `tooljail learn`, not the
        // log: the audit record keeps what every record has.
        let body = match &report.observed {
            Some(_) => serde_json::to_vec(&Report {
                observed: None,
                ..report.clone()
            }),
            None => serde_json::to_vec(report),
        }
        .expect("Report serializes");
        let lock =
            nix::fcntl::Flock::lock(self.file.try_clone()?, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| std::io::Error::from(e))?;
        let mut f: &File = &lock;
        let result = last_line(f).and_then(|tail| {
            let mut line = Vec::with_capacity(body.len() + 110);
            if tail.as_ref().is_some_and(|(_, ended)| !ended) {
                line.push(b'\n');
            }
            let link = chain::next_link(tail.as_ref().map(|(l, _)| l.as_slice()));
            line.extend(chain::splice(&link, &body));
            line.push(b'\n');
            f.write_all(&line)
        });
        drop(lock);
        result
    }
}

/// Free space the audit log's file system must have before a call runs: a record is a few KiB
/// (a long argv or many denials make it longer), so a log on a full file system is refused
/// before anything runs rather than found full after the command ran and its record is lost.
pub const MIN_FREE_BYTES: u64 = 64 << 10;

/// Refuse a log on a file system without [`MIN_FREE_BYTES`] free for this caller (the null
/// device excepted).
fn room_for_records(file: &File, path: &Path) -> Result<(), Error> {
    if !file
        .metadata()
        .map_err(|e| Error::usage(format!("audit log {}: {e}", path.display())))?
        .is_file()
    {
        return Ok(());
    }
    let st = nix::sys::statvfs::fstatvfs(file)
        .map_err(|e| Error::usage(format!("audit log {}: statvfs: {e}", path.display())))?;
    let free = st.blocks_available().saturating_mul(st.fragment_size());
    if free < MIN_FREE_BYTES {
        return Err(Error::usage(format!(
            "audit log {}: its file system has {free} bytes free, under the 64 KiB tooljail \
             needs to be sure this call's record fits",
            path.display()
        ))
        .with_hint("free space there, or name a log elsewhere with --audit-log"));
    }
    Ok(())
}

/// The last line of `file` that is not blank (without its newline; blank lines are skipped as
/// [`chain::verify`] skips them) and whether the file ends with a newline, read backwards from
/// the end in 8 KiB steps; `None` for a file with no such line (and the null device).
fn last_line(file: &File) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    use std::os::unix::fs::FileExt;
    const STEP: u64 = 8192;
    let blank = |seg: &[u8]| seg.iter().all(u8::is_ascii_whitespace);
    let mut end = file.metadata()?.len();
    let mut tail: Vec<u8> = Vec::new();
    let mut complete = false;
    while end > 0 && !complete {
        let start = end.saturating_sub(STEP);
        let mut chunk = vec![0; usize::try_from(end - start).unwrap_or(0)];
        file.read_exact_at(&mut chunk, start)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        // Complete once a newline precedes the last non-blank line, or the file's start does.
        let segs: Vec<&[u8]> = tail.split(|b| *b == b'\n').collect();
        complete = start == 0 || segs.iter().rposition(|s| !blank(s)).is_some_and(|i| i > 0);
        end = start;
    }
    let ended = tail.last() == Some(&b'\n');
    Ok(tail
        .split(|b| *b == b'\n')
        .rfind(|s| !blank(s))
        .map(|line| (line.to_vec(), ended)))
}

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
                id.jail_uid.map(|u| u.to_string()),
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

/// Read every record of the log that matches `filter`, in log order. A line that is not a
/// record (torn by a crash mid-write, invalid UTF-8, foreign) is returned in the second list,
/// never dropped silently, and never stops the reading of the lines after it.
pub fn query(path: &Path, filter: &Filter) -> Result<(Vec<Report>, Vec<BadLine>), Error> {
    let read_err = |e: std::io::Error| {
        Error::usage(format!("audit log {}: {e}", path.display()))
            .with_hint("pass --log PATH to the audit log to read")
    };
    read_records(BufReader::new(File::open(path).map_err(read_err)?), filter).map_err(read_err)
}

/// [`query`] over any reader of log lines: the records that match `filter` and the lines that
/// are not records, each with its 1-based line number.
pub fn read_records(
    mut reader: impl BufRead,
    filter: &Filter,
) -> std::io::Result<(Vec<Report>, Vec<BadLine>)> {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Report>(&line) {
            Ok(r) if filter.matches(&r) => records.push(r),
            Ok(_) => {}
            Err(e) => bad.push(BadLine {
                line: number,
                error: if line.last() == Some(&b'\n') {
                    e.to_string()
                } else {
                    format!("{e} (no newline: the last write was cut short)")
                },
            }),
        }
    }
    Ok((records, bad))
}

/// A time bound for `--since`/`--until`: RFC 3339 (`2026-11-23T08:00:00Z`, with a numeric
/// offset such as `+01:00`, or with no zone at all, taken as UTC) or a duration ago (`90m`,
/// `2h`, `7days`).
pub fn parse_time(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    if let Some(t) = parse_rfc3339(s) {
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

/// RFC 3339 with `Z`, no zone (UTC), or a `±HH:MM` offset, which humantime does not read.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Some(t);
    }
    // `…T09:00:00+01:00`: the offset is the last 6 bytes, after the seconds.
    let split = s.len().checked_sub(6)?;
    let (local, offset) = (s.get(..split)?, s.get(split..)?);
    let (sign, hh_mm) = (offset.as_bytes()[0], offset.get(1..)?);
    if !local.contains('T') && !local.contains(' ') {
        return None;
    }
    let (hh, mm) = hh_mm.split_once(':')?;
    if hh.len() != 2 || mm.len() != 2 {
        return None;
    }
    let (hh, mm): (u64, u64) = (hh.parse().ok()?, mm.parse().ok()?);
    if hh > 23 || mm > 59 {
        return None;
    }
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = std::time::Duration::from_secs(hh * 3600 + mm * 60);
    // Local time = UTC + offset, so UTC = local - offset.
    match sign {
        b'+' => t.checked_sub(shift),
        b'-' => t.checked_add(shift),
        _ => None,
    }
}

/// The readable table `tooljail audit` prints by default: a header, then one row per record.
/// USER is who started tooljail, AS the user the jail ran as.
pub fn table(records: &[Report]) -> String {
    let mut out = format!(
        "{:<24} {:<12} {:<12} {:<12} {:<12} {:>4} {:>10}  COMMAND\n",
        "STARTED", "USER", "AS", "TOOL", "OUTCOME", "EXIT", "DURATION"
    );
    for r in records {
        let id = &r.identity;
        let caller = cell(
            &id.caller_user
                .clone()
                .unwrap_or_else(|| id.caller_uid.to_string()),
        );
        let jail = match (&id.jail_user, id.jail_uid) {
            (Some(name), _) => cell(name),
            (None, Some(uid)) => uid.to_string(),
            (None, None) => "-".into(),
        };
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cmd = cell(&r.argv.join(" "));
        let cmd = if cmd.chars().count() > 60 {
            format!("{}…", cmd.chars().take(59).collect::<String>())
        } else {
            cmd
        };
        out.push_str(&format!(
            "{:<24} {:<12} {:<12} {:<12} {:<12} {:>4} {:>8}ms  {}\n",
            cell(&r.started_at),
            caller,
            jail,
            cell(id.tool.as_deref().unwrap_or("-")),
            outcome,
            r.exit_status,
            r.duration_ms,
            cmd
        ));
    }
    out
}

/// A table cell on one line: control characters (a newline in an argument or a label) are
/// escaped, so one record is always one row and cannot forge another.
fn cell(s: &str) -> String {
    crate::shown::one_line(s).into_owned()
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
        let log = AuditLog::open(&path, false).unwrap();
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
        // Numeric offsets: 09:00+01:00 and 03:00-05:00 are both 08:00 UTC.
        let eight = now - Duration::from_secs(7200);
        assert_eq!(parse_time("2026-11-23T09:00:00+01:00", now).unwrap(), eight);
        assert_eq!(parse_time("2026-11-23T03:00:00-05:00", now).unwrap(), eight);
        assert_eq!(
            parse_time("2026-11-23T08:00:00.000+00:00", now).unwrap(),
            eight
        );
        assert!(parse_time("2026-11-23T08:00:00+1:00", now).is_err());
        assert!(parse_time("2026-11-23T08:00:00+24:00", now).is_err());
        assert!(parse_time("xx€+01:00", now).is_err());
    }

    #[test]
    fn bad_bytes_do_not_stop_the_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let good = serde_json::to_string(&record(
            "a",
            "t",
            "s",
            Outcome::Exited,
            "2026-11-23T08:00:00.000Z",
        ))
        .unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"\xff\xfe{\"sch\n");
        bytes.extend_from_slice(good.as_bytes());
        bytes.extend_from_slice(b"\n{\"schema\":\"tool");
        std::fs::write(&path, bytes).unwrap();
        let (records, bad) = query(&path, &Filter::default()).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), [1, 3]);
        assert!(bad[1].error.contains("no newline"), "{:?}", bad[1]);
    }

    #[test]
    fn table_rows_are_one_line_each() {
        let mut r = record(
            "alice",
            "t\nx",
            "s",
            Outcome::Exited,
            "2026-11-23T08:00:00.000Z",
        );
        r.argv = vec!["sh".into(), "-c".into(), "echo a\nFORGED ROW".into()];
        r.identity.jail_user = Some("nobody".into());
        let t = table(&[r]);
        assert_eq!(t.lines().count(), 2, "{t}");
        assert!(t.lines().next().unwrap().starts_with("STARTED"));
        assert!(t.contains("echo a\\nFORGED ROW"), "{t}");
        assert!(t.contains("alice") && t.contains("nobody"), "{t}");
    }
}
