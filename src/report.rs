//! The run report: one JSON document per run telling an orchestrator precisely what happened,
//! without parsing stderr. The schema is versioned (`schema`) and documented in docs/report.md.

use crate::error::{exit, Error};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

pub const SCHEMA: &str = "tooljail.report/1";

/// How the run ended, from the orchestrator's point of view. (Also the values of
/// `tooljail audit --outcome`, spelled as in the report.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Outcome {
    /// The command exited by itself; `exit_code` is its status.
    Exited,
    /// The command was killed by a signal nobody in tooljail sent for a limit.
    Signaled,
    /// The wall-clock limit fired (exit 124).
    Timeout,
    /// Another resource limit stopped the command (`stopped_by` names it).
    Limit,
    /// A security rule stopped the command (e.g. a seccomp kill).
    Violation,
    /// A call rule refused to start the command (`stopped_by`: `rate_limit`, `loop_guard` or
    /// `budget`); nothing ran.
    Refused,
    /// The caller cancelled the call: tooljail got SIGINT, SIGTERM or SIGHUP while the command
    /// ran and passed it on (`signal` says which, when the command died of it).
    Cancelled,
    /// The jail could not be built or the command could not be executed; it never ran.
    // `setup-error` is accepted on the command line too.
    #[value(alias = "setup-error")]
    SetupError,
}

/// A limit that may have stopped the command: reached, by the evidence, but the kernel keeps
/// no record of what it refused, so tooljail cannot say it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MayHaveBeen {
    /// `limit`.
    pub kind: String,
    /// `open_files`, ...: the names of `stopped_by`.
    pub name: String,
    /// What tooljail saw, in words.
    pub evidence: String,
    /// Why that is not certainty.
    pub uncertain: String,
    /// The flag or profile key that lifts it.
    pub remedy: String,
    pub liftable: bool,
}

/// Which limit or rule stopped the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedBy {
    /// `limit` or `rule`.
    pub kind: String,
    /// `wall_time`, `cpu_time`, `memory`, `processes`, `file_size`, `open_files`,
    /// `scratch_full`, or a rule name such as `seccomp:ptrace`.
    pub name: String,
    /// The evidence, in words (e.g. "SIGXCPU after 1s of CPU time").
    pub evidence: String,
    /// What lifts it: the flag or profile key to change, or why nothing can. (Absent in
    /// records written before tooljail said it; they read back as written.)
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remedy: String,
    /// Whether a caller or profile can lift it at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liftable: Option<bool>,
    /// A rate limit: when a call of the same labels may start again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// A budget or the loop guard: what was used (calls, or milliseconds) and the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedSyscall {
    /// The syscall's name; `unknown` for the numbers tooljail's table has no name for (one
    /// entry per arch, see `examples`); `(others)` for the last entry when the list was cut at
    /// its cap (64 entries): its `count` is every denial not listed, so the counts always add
    /// up to the number of denied calls.
    pub name: String,
    /// `x86_64`, `aarch64`; empty for `(others)`, which may mix architectures.
    pub arch: String,
    pub count: u64,
    /// For `unknown`: the first few distinct syscall numbers seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<u32>,
    /// What would allow it: the `[syscalls]` key to change, or why nothing can (absent for
    /// `(others)`, which may mix rules, and in records written before tooljail said it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remedy: String,
    /// Whether a profile can allow it at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liftable: Option<bool>,
}

/// What a [`PolicyDenial`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialKind {
    /// An exec (execve, execveat) of a file in a place without exec.
    Exec,
    /// A file mapped executable (a shared library, a Python C extension, a native Node module)
    /// from a place without exec.
    MapExec,
    /// A connect the network mode (no route out) or `[network] tcp_connect` refused.
    Connect,
    /// A syscall the filter denied (also counted in `denied_syscalls`).
    Syscall,
    /// A write to a file in a read-only place (a bind without `--rw`, or the read-only root).
    Write,
}

/// One refusal by tooljail's own policy, typed, so a caller (an agent) can lift it instead of
/// retrying blindly on "Permission denied".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDenial {
    pub kind: DenialKind,
    /// The file, as the command saw it (exec, map_exec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The address and port (connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The syscall (syscall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// The rule that refused it.
    pub rule: String,
    /// How to lift it: the flag or profile key, or why nothing can.
    pub hint: String,
    /// Whether a flag or profile can lift it at all.
    pub liftable: bool,
    /// What exactly allows it: the flag and the profile line (absent in records written before
    /// tooljail said it, and when nothing can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lift: Option<Lift>,
}

/// The flag and the profile line that allow a denied call, as a person would type them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lift {
    /// The command-line flag (`--exec /work/tools`), when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The profile section and key as written in a profile (`[network] tcp_connect = [443]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Where the rule that refused it was written (`file:line:col`, or a flag), when a profile
    /// line or flag made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl PolicyDenial {
    /// The stderr line after `tooljail: ` ([`crate::shown::say`] writes it on one line whatever
    /// the path holds): `denied: exec of /w/hello: ...; to allow it: --exec /w`.
    pub fn line(&self) -> String {
        let what = match (self.kind, &self.path, &self.address, &self.syscall) {
            (DenialKind::Exec, Some(p), _, _) => format!("exec of {p}"),
            (DenialKind::MapExec, Some(p), _, _) => format!("executable mapping of {p}"),
            (DenialKind::Connect, _, Some(a), _) => format!("connect to {a}"),
            (DenialKind::Write, Some(p), _, _) => format!("write to {p}"),
            (_, _, _, Some(s)) => format!("syscall {s}"),
            _ => "a call".to_string(),
        };
        format!("denied: {what}: {}; {}", self.rule, self.hint)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub caller_uid: u32,
    pub caller_user: Option<String>,
    /// The host uid the jail runs as (a transient uid when root started tooljail without
    /// `--user`); null
    /// when tooljail failed before deciding it (a bad `--report` or `--user`).
    pub jail_uid: Option<u32>,
    pub jail_user: Option<String>,
    pub session: Option<String>,
    pub agent: Option<String>,
    pub tool: Option<String>,
    /// The MCP client a call served (`tooljail mcp`): `name` and `version` from its
    /// `initialize`, and the request's `_meta`; absent for other callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub user_cpu_ms: u64,
    pub system_cpu_ms: u64,
    /// Largest resident set of any process in the jail, in KiB (rusage ru_maxrss).
    pub max_rss_kib: u64,
    /// Peak memory of the whole jail in bytes (cgroup memory.peak), when a cgroup enforced the
    /// memory limit and the kernel has memory.peak (Linux 5.19+).
    pub memory_peak_bytes: Option<u64>,
    /// Tasks (processes and threads) the jail held when the command ended, the command
    /// included, as the jail's pid 1 counted them.
    pub tasks_at_end: Option<u64>,
    /// Most tasks the jail held at once, sampled by the supervisor every 10 ms (only when
    /// RLIMIT_NPROC enforces the process limit).
    pub tasks_peak: Option<u64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub run_id: String,
    pub profiles: Vec<String>,
    pub policy_sha256: Option<String>,
    pub argv: Vec<String>,
    /// The caller's working directory on the host (lossy UTF-8: a report must always serialize,
    /// whatever bytes the directory's name holds).
    pub cwd: Option<String>,
    pub identity: Identity,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    pub outcome: Outcome,
    /// tooljail's own exit status for this run.
    pub exit_status: i32,
    /// The command's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed the command, by name (e.g. "SIGKILL").
    pub signal: Option<String>,
    pub stopped_by: Option<StoppedBy>,
    /// Limits the evidence says were reached but not, with certainty, what failed the command:
    /// each with why the kernel leaves it uncertain. Empty when the command succeeded; `None`
    /// only in records written before tooljail said it, which read back as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_have_been: Option<Vec<MayHaveBeen>>,
    pub denied_syscalls: Vec<DeniedSyscall>,
    /// What tooljail's own policy refused the command, each with the rule and how to lift it:
    /// execs and executable mappings of files in places without exec, and denied syscalls.
    /// Absent when empty (and in records written before tooljail kept it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denials: Vec<PolicyDenial>,
    /// What isolation was requested and what was applied (free-form per layer).
    pub isolation: serde_json::Value,
    pub resources: Resources,
    /// The error, when tooljail failed or refused.
    pub error: Option<ErrorRecord>,
    /// Whether retrying the same call may succeed.
    pub retryable: bool,
    /// Warnings printed on stderr (e.g. best-effort isolation that was not enforced).
    pub warnings: Vec<String>,
    /// What left the scratch (`[export]`), when the Policy exports anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportReport>,
    /// The capped streams (`[output]`), when a cap is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputReport>,
    /// A learning run's record (`tooljail learn`): every syscall, path and connect the
    /// command made. Absent from every other run, and from the audit record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<crate::supervisor::learning::Observed>,
    /// The egress proxy's account (`[network] allow_domains`), when the Policy has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkReport>,
}

/// What the egress proxy did for the call: every connection the command asked for, with its
/// verdict, and the counts (docs/network.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkReport {
    /// Where the command found the proxy, inside the jail.
    pub proxy: String,
    pub allow_domains: Vec<String>,
    pub allowed: u64,
    pub refused: u64,
    pub failed: u64,
    /// Connections past the first 1000, neither listed nor in the counts above.
    pub unlisted: u64,
    /// Requests that carried a credential's placeholder to a host not listed for it.
    pub placeholders_elsewhere: u64,
    pub connections: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The export stage's account: every file that left the scratch, and every file the patterns
/// named that did not, with the rule that refused it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportReport {
    /// The host directory files were copied to.
    pub to: String,
    /// Why nothing was exported at all (`when = "success"` and the command failed, the jail
    /// never ran, a strict refusal); absent when the export ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub exported: Vec<ExportedFile>,
    pub refused: Vec<RefusedFile>,
    /// Bytes exported, in all.
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedFile {
    /// Relative to the export directory, the same below `to`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedFile {
    /// Relative to the export directory (lossy UTF-8; control characters escaped by JSON).
    pub path: String,
    /// `name`, `symlink`, `hard_link`, `fifo`, `device`, `socket`, `forbid`, `content`,
    /// `max_bytes`, `max_total_bytes`, `max_files`, `exists` or `error`.
    pub rule: String,
    /// What was found, in words.
    pub detail: String,
    /// The key that lifts the rule, or "cannot be lifted".
    pub remedy: String,
}

/// Bytes of each capped stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<StreamReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<StreamReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamReport {
    /// The cap, in bytes.
    pub max: u64,
    /// `head` or `head+tail`.
    pub mode: String,
    /// Bytes of the command's output the caller received (the marker line not counted).
    pub written: u64,
    /// Bytes the command wrote that the caller did not receive.
    pub dropped: u64,
}

impl Report {
    /// A report for a run that starts now; the caller fills in the rest.
    pub fn begin(argv: Vec<String>) -> Report {
        Report {
            schema: SCHEMA.to_string(),
            run_id: new_run_id(),
            profiles: Vec::new(),
            policy_sha256: None,
            argv,
            cwd: std::env::current_dir()
                .ok()
                .map(|d| d.to_string_lossy().into_owned()),
            identity: Identity::default(),
            started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            duration_ms: 0,
            outcome: Outcome::SetupError,
            exit_status: exit::FAILED,
            exit_code: None,
            signal: None,
            stopped_by: None,
            may_have_been: Some(Vec::new()),
            denied_syscalls: Vec::new(),
            denials: Vec::new(),
            isolation: serde_json::Value::Null,
            resources: Resources::default(),
            error: None,
            retryable: false,
            warnings: Vec::new(),
            export: None,
            output: None,
            observed: None,
            network: None,
        }
    }

    /// Record that tooljail failed (or refused) before the command ran.
    pub fn fail(&mut self, e: &Error) {
        self.outcome = match e.kind {
            crate::error::ErrorKind::Refused => Outcome::Refused,
            _ => Outcome::SetupError,
        };
        self.exit_status = e.exit_code();
        self.retryable = e.retryable;
        self.error = Some(ErrorRecord::from(e));
    }
}

/// An [`Error`] as the report and the audit log keep it: its location rendered as text
/// (`where`), so a record reads the same whatever tooljail version wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub kind: crate::error::ErrorKind,
    /// `file:line:col`, `setup step "…"`, `--ro`, or empty when there is no better place.
    #[serde(rename = "where")]
    pub location: String,
    pub message: String,
    pub hint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    pub retryable: bool,
}

impl From<&Error> for ErrorRecord {
    fn from(e: &Error) -> ErrorRecord {
        ErrorRecord {
            kind: e.kind,
            location: e.location.to_string(),
            message: e.message.clone(),
            hint: e.hint.clone(),
            errno: e.errno,
            retryable: e.retryable,
        }
    }
}

/// 128 random bits as 32 hex digits (from /dev/urandom; time and pid if that is unreadable,
/// which is unique enough for a run id or a private directory's name: neither is a secret).
pub fn new_run_id() -> String {
    use std::io::Read;
    let mut buf = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if random.is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        buf[..8].copy_from_slice(&u64::try_from(t % (1 << 64)).unwrap_or(0).to_le_bytes());
        buf[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the report goes: `--report FILE | - | fd:N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    File(PathBuf),
    Fd(i32),
}

impl std::str::FromStr for Sink {
    type Err = String;
    fn from_str(s: &str) -> Result<Sink, String> {
        if s == "-" {
            return Ok(Sink::Stdout);
        }
        if let Some(n) = s.strip_prefix("fd:") {
            let fd: i32 = n
                .parse()
                .map_err(|_| format!("`{s}`: expected fd:N with N a number"))?;
            if fd < 0 {
                return Err(format!("`{s}`: a file descriptor is not negative"));
            }
            return Ok(Sink::Fd(fd));
        }
        if s.is_empty() {
            return Err("an empty path; use FILE, `-` or fd:N".into());
        }
        Ok(Sink::File(PathBuf::from(s)))
    }
}

/// Check that `fd` is an open, writable descriptor and take a close-on-exec descriptor for the
/// report from it. Descriptors above 2 are claimed (and marked close-on-exec, so the jail never
/// inherits them); 0, 1 and 2 are duplicated instead, because the jailed command must keep its
/// standard streams: `--report fd:1` is stdout, shared with the command's output.
fn open_fd(fd: i32) -> Result<std::os::fd::OwnedFd, Error> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
    let bad = |what: String, hint: &str| {
        Error::usage(format!("--report fd:{fd}: {what}")).with_hint(hint.to_string())
    };
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(|e| {
        bad(
            e.desc().to_string(),
            "open the descriptor in the calling process and pass it to tooljail",
        )
    })?;
    if OFlag::from_bits_truncate(flags) & OFlag::O_ACCMODE == OFlag::O_RDONLY {
        return Err(bad(
            "the descriptor is read-only".into(),
            "pass a descriptor opened for writing",
        ));
    }
    if fd <= 2 {
        let dup = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(|e| {
            bad(
                format!("duplicate it: {}", e.desc()),
                "free a descriptor and retry",
            )
        })?;
        return Ok(crate::sys::fd::claim(dup));
    }
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| {
        bad(
            format!("mark it close-on-exec: {}", e.desc()),
            "pass an ordinary pipe or file descriptor",
        )
    })?;
    Ok(crate::sys::fd::claim(fd))
}

/// An opened report sink. Opened before the jail is built (launch step 1), so a bad `--report`
/// fails before anything runs, and an inherited fd is claimed before tooljail opens others.
pub enum OpenSink {
    /// Stdout or an inherited descriptor, written as it is.
    Stream(Box<dyn Write>),
    /// A file replaced all at once when the report is written, after the command is gone.
    Replace(crate::sink::Replacement),
}

/// The fix for a `--report FILE` that cannot be opened.
const FILE_HINT: &str = "name a writable file in an existing directory, `-` or fd:N";

impl Sink {
    /// Open the sink. A file is resolved by [`crate::sink`] (no symbolic link in any component,
    /// a directory only the caller or root can write) and written atomically when the jail has
    /// ended: a temporary file beside it, created now, renamed over it then. tooljail started as
    /// root is the jail's user by then; a child that stayed root renames root's report
    /// ([`OpenSink::write`]'s `renamer`).
    pub fn open(&self) -> Result<OpenSink, Error> {
        Ok(match self {
            Sink::Stdout => OpenSink::Stream(Box::new(std::io::stdout())),
            Sink::File(p) => crate::sink::split(p)
                .and_then(|(dir, name)| crate::sink::open_dir(&dir)?.replacement(&name))
                .map(OpenSink::Replace)
                .map_err(|e| e.into_error("--report", p, FILE_HINT))?,
            Sink::Fd(fd) => OpenSink::Stream(Box::new(std::fs::File::from(open_fd(*fd)?))),
        })
    }
}

impl OpenSink {
    /// Whether writing it renames a file into place (see [`Sink::open`]).
    pub fn renames(&self) -> bool {
        matches!(self, OpenSink::Replace(r) if r.renames())
    }

    /// Write the report as one JSON document followed by a newline. `renamer`: who may rename
    /// a file report into place when this process no longer may (see [`Sink::open`]).
    pub fn write(
        self,
        report: &Report,
        renamer: Option<&mut dyn crate::sink::Renamer>,
    ) -> std::io::Result<()> {
        let mut json = serde_json::to_vec_pretty(report).expect("Report serializes");
        json.push(b'\n');
        match self {
            OpenSink::Stream(mut w) => {
                w.write_all(&json)?;
                w.flush()
            }
            OpenSink::Replace(r) => r.commit(&json, renamer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_parse() {
        assert_eq!("-".parse::<Sink>(), Ok(Sink::Stdout));
        assert_eq!("fd:3".parse::<Sink>(), Ok(Sink::Fd(3)));
        assert_eq!("r.json".parse::<Sink>(), Ok(Sink::File("r.json".into())));
        assert!("fd:x".parse::<Sink>().is_err());
        assert!("fd:-1".parse::<Sink>().is_err());
    }

    #[test]
    fn report_round_trips() {
        let mut r = Report::begin(vec!["true".into()]);
        r.fail(&Error::profile("p.toml:1:1", "bad"));
        let json = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.outcome, Outcome::SetupError);
        assert_eq!(back.exit_status, 125);
        assert_eq!(r.run_id.len(), 32);
    }
}
