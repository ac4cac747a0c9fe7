//! The Policy: a profile (or a stack of profiles plus command-line overrides) fully resolved into
//! plain data. Variables are expanded, `extends` merged, host paths canonical and checked, sizes
//! and durations parsed, syscall groups expanded. Nothing here performs I/O: resolution reads the
//! host only through [`crate::host::Host`], which tests replace with a fake.
//!
//! Everything downstream (preflight, the launch plan, the jail, the report) reads the Policy and
//! nothing else, so `tooljail explain` shows exactly what will be enforced.

mod budget;
pub mod command;
mod export;
mod filesystem;
mod isolation;
mod network;
pub mod resolve;
pub mod size;
pub mod syscalls;

pub use budget::{Budget, Label, RateRule};
pub use export::{Export, ExportWhen, Output, OutputCap, OutputMode, DEFAULT_FORBID};
pub use filesystem::{Access, Bind, FileKind, Filesystem, Place, Scratch};
pub use isolation::{Isolation, IsolationMode, Wall};
pub use network::{
    domain_matches, proxy_env, Credential, CredentialSource, Egress, NetMode, Network,
    CREDENTIAL_PLACEHOLDER, PROXY_PORT,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The fully resolved jail description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Profiles that were merged, outermost (the one the user named) last.
    pub profiles: Vec<ProfileSource>,
    /// The description of the profile the user named (first line of its `description`).
    pub description: String,
    pub filesystem: Filesystem,
    pub network: Network,
    pub syscalls: Syscalls,
    pub landlock: Landlock,
    pub limits: Limits,
    /// The command's complete environment, in order. Nothing else is passed.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the jail (absolute, inside-the-jail path).
    pub cwd: PathBuf,
    /// Hostname inside the jail's UTS namespace.
    pub hostname: String,
    pub export: Export,
    /// Caps on the command's stdout and stderr; left out of the serialized Policy when there
    /// are none (no relay), so older hashes hold.
    #[serde(default, skip_serializing_if = "Output::is_default")]
    pub output: Output,
    pub budget: Budget,
    pub audit: Audit,
    /// Which walls build the jail (DESIGN.md, "Isolation modes"). Left out of the serialized
    /// Policy when it is the full jail with no requirement, so the hash of every Policy written
    /// before this key existed is unchanged.
    #[serde(default, skip_serializing_if = "Isolation::is_default")]
    pub isolation: Isolation,
    /// `[command]`: which command lines may run. Left out of the serialized Policy when it has
    /// no rules, so older hashes hold.
    #[serde(default, skip_serializing_if = "command::CommandRules::is_default")]
    pub command: command::CommandRules,
    /// `[server]`: a long-lived stdio server's profile. Left out of the serialized Policy when
    /// absent, so the hash of every other Policy is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
}

/// A server profile (`[server]`): `state` is its only writable host path (a read-write bind,
/// named to the server as `$STATE_DIRECTORY`), and its stdio passes straight through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub state: PathBuf,
    /// The directory did not exist at resolution (its bind is left out): the `resolve` stage
    /// creates it (0700) and resolves again. In the JSON form only when true, so the Policy
    /// survives the round trip `explain --json` promises and a server whose directory exists
    /// hashes as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
}

/// Where one merged profile came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSource {
    pub name: String,
    /// `builtin:NAME` for profiles embedded in the binary, else the file's path.
    pub origin: String,
    /// A file that takes a shipped profile's name with other contents (an installed copy of
    /// the shipped one does not). Not part of the Policy's identity.
    #[serde(skip)]
    pub shadows_builtin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Syscalls {
    /// Syscall names allowed (groups already expanded, sorted, deduplicated). Every other
    /// syscall gets `action`.
    pub allow: Vec<String>,
    /// What a syscall outside `allow` gets.
    pub action: SeccompAction,
    /// Always-denied hardening rules the profile explicitly turned off (visible in `explain`
    /// and the report). Empty in every shipped profile.
    pub unsafe_allow: Vec<String>,
    /// A learning run (`tooljail learn`, the hidden `run --learning`): every syscall the
    /// filter allows is shown to the supervisor, which records it and lets it run (see
    /// `plan::seccomp`). What is allowed and denied does not change. Left out of the
    /// serialized Policy when off, so the hashes of ordinary runs hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub observe_all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "errno")]
pub enum SeccompAction {
    /// Fail the syscall with this errno (EPERM = 1 by default).
    Errno(i32),
    /// Kill the whole process.
    Kill,
    /// Allow, but have the kernel log it (for writing profiles).
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Landlock {
    pub mode: Compat,
    /// Block connecting to abstract unix sockets outside the jail's Landlock domain (ABI 6).
    pub scope_abstract_unix: bool,
    /// Block signals to processes outside the jail's Landlock domain (ABI 6).
    pub scope_signals: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compat {
    /// The kernel must enforce everything the Policy asks, or nothing runs (exit 125).
    Required,
    /// Run with what the kernel offers and report exactly what was not enforced.
    BestEffort,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock time before the jail gets SIGTERM.
    #[serde(with = "humantime_serde_compat")]
    pub wall_time: Duration,
    /// Grace between SIGTERM and SIGKILL after the wall time.
    #[serde(with = "humantime_serde_compat")]
    pub kill_after: Duration,
    /// CPU seconds (RLIMIT_CPU), `None` = unlimited.
    #[serde(with = "humantime_serde_compat::option")]
    pub cpu_time: Option<Duration>,
    /// Memory in bytes (cgroup memory.max, or RLIMIT_DATA as the fallback).
    pub memory: Option<u64>,
    /// Processes/threads in the jail (cgroup pids.max, or RLIMIT_NPROC).
    pub processes: Option<u64>,
    /// Open file descriptors per process (RLIMIT_NOFILE).
    pub open_files: Option<u64>,
    /// Largest file the command may write (RLIMIT_FSIZE).
    pub file_size: Option<u64>,
    /// Whether cgroup v2 enforcement is required (no rlimit fallback).
    pub require_cgroup: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    pub enabled: bool,
    /// Audit log path; `None` = the default location for the invoking user.
    pub log: Option<PathBuf>,
}

/// Serialize durations as humantime strings ("30s", "1m 30s") so `explain --json` is readable
/// and round-trips.
pub mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use std::time::Duration;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

impl Policy {
    /// The writable bind through which the jail can change host path `path` (canonical, or
    /// the canonical directory it would be created in joined with its name), if any: a record
    /// tooljail writes there could be replaced by the command after the fact.
    pub fn writable_bind_holding(&self, path: &std::path::Path) -> Option<&Bind> {
        self.filesystem
            .binds
            .iter()
            .filter(|b| b.access == Access::ReadWrite)
            .find(|b| path.starts_with(&b.source))
    }

    /// Whether the command can write files that stay on the host: a read-write bind, or the
    /// scratch of landlock mode (a host directory).
    pub fn writes_host(&self) -> bool {
        self.isolation.mode == IsolationMode::Landlock
            || self
                .filesystem
                .binds
                .iter()
                .any(|b| b.access == Access::ReadWrite)
    }

    /// The place inside the jail that holds `path` (an absolute path as the command sees it):
    /// the innermost bind, or the scratch (its work dir, /tmp, /dev/shm) when no deeper bind
    /// lies on top of it. `None` for a path the Policy does not name.
    pub fn place_of(&self, path: &std::path::Path) -> Option<Place<'_>> {
        let s = &self.filesystem.scratch;
        let mut scratch = vec![s.path.as_path()];
        if s.tmp {
            scratch.push(std::path::Path::new("/tmp"));
        }
        if s.shm {
            scratch.push(std::path::Path::new("/dev/shm"));
        }
        let depth = |p: &std::path::Path| p.components().count();
        let bind = self
            .filesystem
            .binds
            .iter()
            .filter(|b| path.starts_with(&b.target))
            .max_by_key(|b| depth(&b.target));
        let in_scratch = scratch
            .into_iter()
            .filter(|p| path.starts_with(p))
            .max_by_key(|p| depth(p));
        match (bind, in_scratch) {
            (Some(b), Some(sp)) if depth(sp) > depth(&b.target) => Some(Place::Scratch(s)),
            (Some(b), _) => Some(Place::Bind(b)),
            (None, Some(_)) => Some(Place::Scratch(s)),
            (None, None) => None,
        }
    }

    /// Whether some place the command can see refuses exec (a bind without exec, or the
    /// scratch): then the filter shows execs and executable file mappings to the supervisor,
    /// which names the bind when the kernel refuses one.
    pub fn observes_exec(&self) -> bool {
        !self.filesystem.scratch.exec || self.filesystem.binds.iter().any(|b| !b.exec)
    }

    /// Whether some place the command can see refuses writes (a read-only bind; in the full
    /// jail also the root itself) and the profile did not turn the observation off: then the
    /// filter shows opens for writing to the supervisor, which names the place when the kernel
    /// refuses one (a `write` denial in the report).
    pub fn observes_writes(&self) -> bool {
        self.filesystem.observe_writes
            && (self.isolation.mode == IsolationMode::Full
                || self
                    .filesystem
                    .binds
                    .iter()
                    .any(|b| b.access != Access::ReadWrite))
    }

    /// sha256 of the canonical JSON form: the identity of what was enforced, for the report
    /// and the audit record.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        // Serialized straight into the hash: the JSON text is never held.
        let mut hasher = Sha256::new();
        serde_json::to_writer(&mut hasher, self).expect("Policy serializes");
        let digest = hasher.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The name of the profile the user asked for (the last one merged).
    pub fn name(&self) -> &str {
        self.profiles
            .last()
            .map(|p| p.name.as_str())
            .unwrap_or("default")
    }
}
