//! The Policy: a profile (or a stack of profiles plus command-line overrides) fully resolved into
//! plain data. Variables are expanded, `extends` merged, host paths canonical and checked, sizes
//! and durations parsed, syscall groups expanded. Nothing here performs I/O: resolution reads the
//! host only through [`crate::host::Host`], which tests replace with a fake.
//!
//! Everything downstream (preflight, the launch plan, the jail, the report) reads the Policy and
//! nothing else, so `tooljail explain` shows exactly what will be enforced.

mod budget;
pub mod command;
mod network;
pub mod resolve;
pub mod size;
pub mod syscalls;

pub use budget::{Budget, Label, RateRule};
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

/// What exists inside the jail. Anything not listed here is absent (ENOENT), not denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// Bind mounts from the host, in the order they are made (parents before children).
    pub binds: Vec<Bind>,
    /// The size-capped tmpfs that holds every writable byte the jail has of its own.
    pub scratch: Scratch,
    /// Device nodes bound from the host into the jail's /dev (a fixed, audited set, and the
    /// GPU nodes found when `gpu` is set).
    pub devices: Vec<PathBuf>,
    /// `--gpu` / `[filesystem] gpu`: the GPU nodes found are among `devices`. Left out of
    /// the serialized Policy when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gpu: bool,
    /// `[filesystem] observe_writes`: opens for writing are shown to the supervisor, so a write
    /// refused by a read-only place is named in the report (one round trip per open for
    /// writing). Left out of the serialized Policy when true (the default).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub observe_writes: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bind {
    /// Canonical host path (symlinks resolved at resolution time).
    pub source: PathBuf,
    /// Absolute path inside the jail (usually equal to `source`).
    pub target: PathBuf,
    pub access: Access,
    /// Whether files below this bind may be executed (Landlock execute right; without it the
    /// mount is also `noexec`).
    pub exec: bool,
    /// File or directory, as found on the host at resolution time. Landlock gives a file rule
    /// only file rights.
    pub kind: FileKind,
    /// Where this rule was written, for errors and `explain` (`file:line:col` or `--ro`).
    pub origin: String,
}

impl Bind {
    /// The source as a path below `/` (`.` for `/` itself), to open relative to a descriptor
    /// of the host's root.
    pub fn source_below_root(&self) -> &std::path::Path {
        match self.source.strip_prefix("/") {
            Ok(p) if p.as_os_str().is_empty() => std::path::Path::new("."),
            Ok(p) => p,
            Err(_) => &self.source,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Dir,
    File,
}

/// The scratch tmpfs. One superblock, one size cap: the working/home directory, /tmp and
/// /dev/shm are all directories of it, so a disk filler hits one wall wherever it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scratch {
    /// Where the scratch work directory appears inside the jail.
    pub path: PathBuf,
    /// Size cap in bytes.
    pub size: u64,
    /// Whether files in scratch may be executed.
    pub exec: bool,
    /// Whether /tmp inside is a directory of scratch (otherwise /tmp does not exist).
    pub tmp: bool,
    /// Whether /dev/shm inside is a directory of scratch.
    pub shm: bool,
}

/// Where a path inside the jail lies (see [`Policy::place_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    Bind(&'a Bind),
    Scratch(&'a Scratch),
}

impl Place<'_> {
    /// Whether files here may be executed.
    pub fn exec(&self) -> bool {
        match self {
            Place::Bind(b) => b.exec,
            Place::Scratch(s) => s.exec,
        }
    }

    /// Whether files here may be written.
    pub fn writable(&self) -> bool {
        match self {
            Place::Bind(b) => b.access == Access::ReadWrite,
            Place::Scratch(_) => true,
        }
    }
}

/// The isolation mode and what the profile refuses to run without.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolation {
    pub mode: IsolationMode,
    /// Walls the profile will not run without (`requires = [...]`): a mode that lacks one is
    /// refused before anything runs.
    pub requires: Vec<Wall>,
}

impl Isolation {
    pub fn is_default(&self) -> bool {
        *self == Isolation::default()
    }
}

/// How the jail is built. The full jail is the default and the only mode chosen without being
/// asked (DESIGN.md invariant 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationMode {
    /// Namespaces, a new root, Landlock, seccomp, rlimits, the scratch tmpfs.
    #[default]
    Full,
    /// No namespace: the command is forked by the supervisor and confined by Landlock (the only
    /// filesystem and TCP wall), seccomp, rlimits, capabilities and no_new_privs; for
    /// containers whose seccomp profile forbids namespaces. What it lacks: [`Wall::lacking`].
    Landlock,
}

impl IsolationMode {
    pub fn name(self) -> &'static str {
        match self {
            IsolationMode::Full => "full",
            IsolationMode::Landlock => "landlock",
        }
    }
}

/// A wall of the full jail that a weaker mode may lack; a profile names the ones it needs in
/// `requires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wall {
    /// What the profile does not name does not exist (ENOENT), rather than being denied.
    MountNamespace,
    /// The command sees no host process; every process of the jail dies with it, also when
    /// tooljail is SIGKILLed.
    PidNamespace,
    /// A private network stack: no UDP, raw or unix-socket path to the host's network.
    NetworkNamespace,
    /// Private SysV IPC and POSIX message queues, capped at the memory limit.
    IpcNamespace,
    /// Its own hostname.
    UtsNamespace,
    /// The scratch directory is a tmpfs with a size cap, and /tmp and /dev/shm are private.
    ScratchTmpfs,
}

impl Wall {
    pub const ALL: [Wall; 6] = [
        Wall::MountNamespace,
        Wall::PidNamespace,
        Wall::NetworkNamespace,
        Wall::IpcNamespace,
        Wall::UtsNamespace,
        Wall::ScratchTmpfs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Wall::MountNamespace => "mount-namespace",
            Wall::PidNamespace => "pid-namespace",
            Wall::NetworkNamespace => "network-namespace",
            Wall::IpcNamespace => "ipc-namespace",
            Wall::UtsNamespace => "uts-namespace",
            Wall::ScratchTmpfs => "scratch-tmpfs",
        }
    }

    /// What a run in `--isolation landlock` does instead, for the report, `explain` and
    /// docs/security.md. Exhaustive: a new wall must say what the mode does without it.
    pub fn without(self) -> &'static str {
        match self {
            Wall::MountNamespace => "paths the profile does not name exist and are denied by Landlock (EACCES), not absent; the host's /proc is visible read-only; no private /dev, /dev/pts or /dev/shm",
            Wall::PidNamespace => "the command sees host processes; descendants left when it ends are killed by the supervisor (a child subreaper), but survive a SIGKILL of tooljail itself",
            Wall::NetworkNamespace => "in modes none and loopback, seccomp refuses AF_INET and AF_INET6 sockets (EAFNOSUPPORT), so no server the tool starts is reachable even on loopback; in mode host, Landlock limits TCP bind and connect to the listed ports and UDP, including DNS, reaches the host's network (as in the full jail)",
            Wall::IpcNamespace => "SysV IPC and POSIX message queues are the host's, not capped by the memory limit",
            Wall::UtsNamespace => "the hostname is the host's",
            Wall::ScratchTmpfs => "the scratch is a fresh 0700 directory under /tmp, removed afterwards (left behind if tooljail itself is SIGKILLed), with no size cap (only the file-size limit); /tmp and /dev/shm are not writable",
        }
    }

    /// The walls a mode lacks.
    pub fn lacking(mode: IsolationMode) -> Vec<Wall> {
        match mode {
            IsolationMode::Full => Vec::new(),
            IsolationMode::Landlock => Wall::ALL.to_vec(),
        }
    }
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

/// What may leave the scratch directory when the command ends (src/export/). The keys added
/// after the first version are left out of the serialized Policy at their defaults, so the hash
/// of a Policy that exports nothing is what it was before they existed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// Host directory exported files are copied to; `None` = nothing leaves.
    pub to: Option<PathBuf>,
    /// Glob patterns relative to `from`.
    pub patterns: Vec<String>,
    /// Largest file that may be exported, in bytes.
    pub max_bytes: u64,
    /// The directory below the scratch that files are exported from (relative; empty = the
    /// scratch itself).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// The profile's own forbidden patterns, on top of [`DEFAULT_FORBID`] (a file matching one
    /// is refused even if it matches `patterns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbid: Vec<String>,
    /// Files the default forbid list (by name and by content) does not refuse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Total bytes of all exported files (`None` before any export is set: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_total_bytes: u64,
    /// Most files exported.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_files: u64,
    /// Replace a file of the same name in `to`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub overwrite: bool,
    /// When files are exported.
    #[serde(default, skip_serializing_if = "ExportWhen::is_default")]
    pub when: ExportWhen,
    /// A refused file fails the call, and nothing is exported.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strict: bool,
}

/// Files no profile exports unless it lists them in `allow`: executables, libraries and
/// scripts, by name. The same files are refused by content too (an ELF header, a `#!` line),
/// whatever their name.
pub const DEFAULT_FORBID: &[&str] = &[
    "**/*.so",
    "**/*.so.*",
    "**/*.exe",
    "**/*.dll",
    "**/*.dylib",
    "**/*.sh",
    "**/*.bash",
    "**/*.py",
    "**/*.pyc",
    "**/*.pl",
    "**/*.rb",
    "**/*.bat",
    "**/*.cmd",
    "**/*.ps1",
    "**/*.elf",
];

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// `[export] when`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportWhen {
    /// Only a command that exited 0.
    #[default]
    Success,
    /// However the command ended (a timeout and a kill too).
    Always,
}

impl ExportWhen {
    fn is_default(&self) -> bool {
        *self == ExportWhen::default()
    }
}

/// `[output]`: caps on what the command's stdout and stderr pass to the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub stdout: Option<OutputCap>,
    pub stderr: Option<OutputCap>,
}

impl Output {
    fn is_default(&self) -> bool {
        *self == Output::default()
    }
}

/// One capped stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputCap {
    /// Bytes of the command's output the caller receives, at most (the marker line aside).
    pub max: u64,
    pub mode: OutputMode,
}

/// `[output] mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputMode {
    /// The first `max` bytes.
    #[default]
    #[serde(rename = "head")]
    Head,
    /// The first and the last `max / 2` bytes.
    #[serde(rename = "head+tail")]
    HeadTail,
}

impl OutputMode {
    pub fn name(self) -> &'static str {
        match self {
            OutputMode::Head => "head",
            OutputMode::HeadTail => "head+tail",
        }
    }
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
        let json = serde_json::to_vec(self).expect("Policy serializes");
        let digest = Sha256::digest(&json);
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
