//! The profile as written: one TOML file is one [`Layer`]. Every value keeps where it was written
//! ([`Item`]: source file and byte span), so errors found long after parsing (a missing path, an
//! unknown variable, an unknown syscall group) still point at the right file, line and column.
//!
//! Every struct denies unknown keys: a misspelt key is an error, never a silently ignored rule.
//! Key names are documented in docs/profile-format.md; the tables in [`SECTIONS`] must list the
//! same names (a test checks this), because they name the section in "unknown key" errors.

use crate::policy::{Compat, ExportWhen, IsolationMode, NetMode, OutputMode, Wall};
use serde::{Deserialize, Deserializer};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Range;

thread_local! {
    /// The source index [`Item`]s being deserialized belong to. serde gives a Deserialize impl
    /// no context, so [`with_source`] sets this around one `toml::from_str` call; it saves
    /// threading the index through every field by hand (and forgetting one).
    static CURRENT_SOURCE: Cell<usize> = const { Cell::new(0) };
}

/// Run `f` (a deserialization) with `src` as the source index of every [`Item`] it creates.
pub(crate) fn with_source<R>(src: usize, f: impl FnOnce() -> R) -> R {
    let before = CURRENT_SOURCE.with(|c| c.replace(src));
    let out = f();
    CURRENT_SOURCE.with(|c| c.set(before));
    out
}

/// A value and where it was written: `src` indexes [`super::source::Sources`], `span` is the
/// byte range of the value (quotes included for strings) in that source's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<T> {
    pub value: T,
    pub src: usize,
    pub span: Range<usize>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = toml::Spanned::<T>::deserialize(d)?;
        Ok(Item {
            src: CURRENT_SOURCE.with(Cell::get),
            span: s.span(),
            value: s.into_inner(),
        })
    }
}

/// A value written either as an integer or as a string: sizes (`1048576` or `"64M"`) and counts
/// that may be `"unlimited"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Int(i64),
    Str(String),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One profile file. Absent keys are `None`/empty: they inherit from the profiles this one
/// extends (see [`super::merge`]).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Layer {
    pub description: Option<Item<String>>,
    pub extends: Vec<Item<String>>,
    pub cwd: Option<Item<String>>,
    pub hostname: Option<Item<String>>,
    /// `"full"` (the default) or `"landlock"` (no namespaces; see docs/containers.md).
    pub isolation: Option<Item<IsolationMode>>,
    /// Walls this profile will not run without (`["mount-namespace", ...]`).
    pub requires: Vec<Item<Wall>>,
    pub filesystem: FilesystemLayer,
    pub network: NetworkLayer,
    pub syscalls: SyscallsLayer,
    pub landlock: LandlockLayer,
    pub limits: LimitsLayer,
    pub env: EnvLayer,
    pub export: ExportLayer,
    pub output: OutputLayer,
    pub budget: BudgetLayer,
    pub audit: AuditLayer,
    /// `[command]`: globs over the command line (see [`crate::policy::command`]).
    pub command: CommandLayer,
    pub server: ServerLayer,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemLayer {
    pub read_only: Vec<Item<String>>,
    pub read_write: Vec<Item<String>>,
    pub executable: Vec<Item<String>>,
    pub devices: Vec<Item<String>>,
    pub scratch: ScratchLayer,
    /// `[filesystem.git]`: the git dir of a linked worktree or a submodule.
    pub git: GitLayer,
    /// The host's GPU device nodes (`--gpu`).
    pub gpu: Option<Item<bool>>,
    /// Show opens for writing to the supervisor, to name refused writes (default true).
    pub observe_writes: Option<Item<bool>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitLayer {
    pub work_tree: Option<Item<String>>,
    pub write: Option<Item<bool>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScratchLayer {
    pub path: Option<Item<String>>,
    pub size: Option<Item<Scalar>>,
    pub exec: Option<Item<bool>>,
    pub tmp: Option<Item<bool>>,
    pub shm: Option<Item<bool>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkLayer {
    pub mode: Option<Item<NetMode>>,
    pub tcp_connect: Vec<Item<PortEntry>>,
    pub tcp_bind: Vec<Item<PortEntry>>,
    /// Egress by domain through the supervisor's proxy (docs/network.md).
    pub allow_domains: Vec<Item<String>>,
    pub allow_ports: Vec<Item<PortEntry>>,
    pub hosts: BTreeMap<String, Item<String>>,
    pub credential: Vec<CredentialLayer>,
    /// Extra CA certificates (PEM files) the proxy trusts for servers it terminates TLS for.
    pub upstream_ca: Vec<Item<String>>,
}

/// `[[network.credential]]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialLayer {
    pub env: Option<Item<String>>,
    pub hosts: Vec<Item<String>>,
    pub header: Option<Item<String>>,
    pub from_env: Option<Item<String>>,
    pub from_file: Option<Item<String>>,
    /// The proxy terminates TLS to the credential's hosts to substitute it over HTTPS.
    pub terminate_tls: Option<Item<bool>>,
}

/// An entry of a port list: a port, or `"!N"` to remove port N that an extended profile lists
/// (as `"!VALUE"` removes from the other lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortEntry {
    Port(u16),
    Remove(u16),
}

impl<'de> Deserialize<'de> for PortEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a port number (1-65535), or \"!N\" to remove port N that an \
                                extended profile lists";
        impl serde::de::Visitor<'_> for V {
            type Value = PortEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortEntry, E> {
                u16::try_from(v)
                    .map(PortEntry::Port)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortEntry, E> {
                u16::try_from(v)
                    .map(PortEntry::Port)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortEntry, E> {
                v.strip_prefix('!')
                    .and_then(|n| n.parse::<u16>().ok())
                    .map(PortEntry::Remove)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyscallsLayer {
    pub allow: Vec<Item<String>>,
    pub deny: Vec<Item<String>>,
    pub action: Option<Item<String>>,
    pub unsafe_allow: Vec<Item<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LandlockLayer {
    pub mode: Option<Item<Compat>>,
    pub scope_abstract_unix: Option<Item<bool>>,
    pub scope_signals: Option<Item<bool>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsLayer {
    pub wall_time: Option<Item<String>>,
    pub kill_after: Option<Item<String>>,
    pub cpu_time: Option<Item<String>>,
    pub memory: Option<Item<Scalar>>,
    pub processes: Option<Item<Scalar>>,
    pub open_files: Option<Item<Scalar>>,
    pub file_size: Option<Item<Scalar>>,
    pub require_cgroup: Option<Item<bool>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvLayer {
    pub keep: Vec<Item<String>>,
    pub set: BTreeMap<String, Item<String>>,
    pub unset: Vec<Item<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportLayer {
    pub to: Option<Item<String>>,
    pub from: Option<Item<String>>,
    pub patterns: Vec<Item<String>>,
    pub forbid: Vec<Item<String>>,
    pub allow: Vec<Item<String>>,
    pub max_bytes: Option<Item<Scalar>>,
    pub max_total_bytes: Option<Item<Scalar>>,
    pub max_files: Option<Item<Scalar>>,
    pub overwrite: Option<Item<bool>>,
    pub when: Option<Item<ExportWhen>>,
    pub strict: Option<Item<bool>>,
}

/// `[server]`: the profile is for a long-lived stdio server (an MCP server): its one
/// persistent state directory is its only writable host path, and its stdio is not capped.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLayer {
    pub state: Option<Item<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputLayer {
    pub stdout_max: Option<Item<Scalar>>,
    pub stderr_max: Option<Item<Scalar>>,
    pub mode: Option<Item<OutputMode>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetLayer {
    pub calls_per_minute: Option<Item<Scalar>>,
    pub max_identical_calls: Option<Item<Scalar>>,
    pub identical_window: Option<Item<String>>,
    pub session_calls: Option<Item<Scalar>>,
    pub session_cpu: Option<Item<String>>,
    pub session_wall: Option<Item<String>>,
    pub state: Option<Item<String>>,
    /// `[[budget.rate]]`: a later profile's list replaces an earlier one's.
    pub rate: Option<Vec<RateLayer>>,
}

/// One `[[budget.rate]]` table: `limit` calls per `window`, counted per the `per` labels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLayer {
    pub per: Vec<Item<String>>,
    pub limit: Item<Scalar>,
    pub window: Item<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditLayer {
    pub enabled: Option<Item<bool>>,
    pub log: Option<Item<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandLayer {
    pub allow: Vec<Item<String>>,
    pub deny: Vec<Item<String>>,
}

/// Each table's name and keys, as in the structs above: serde reports an unknown key with the
/// list of expected ones, and this table turns that list back into "in [filesystem]".
pub const SECTIONS: &[(&str, &[&str])] = &[
    (
        "the top level",
        &[
            "description",
            "extends",
            "cwd",
            "hostname",
            "isolation",
            "requires",
            "filesystem",
            "network",
            "syscalls",
            "landlock",
            "limits",
            "env",
            "export",
            "output",
            "budget",
            "audit",
            "command",
            "server",
        ],
    ),
    (
        "[filesystem]",
        &[
            "read_only",
            "read_write",
            "executable",
            "devices",
            "scratch",
            "git",
            "gpu",
            "observe_writes",
        ],
    ),
    ("[filesystem.git]", &["work_tree", "write"]),
    (
        "[filesystem.scratch]",
        &["path", "size", "exec", "tmp", "shm"],
    ),
    (
        "[network]",
        &[
            "mode",
            "tcp_connect",
            "tcp_bind",
            "allow_domains",
            "allow_ports",
            "hosts",
            "credential",
            "upstream_ca",
        ],
    ),
    (
        "[[network.credential]]",
        &[
            "env",
            "hosts",
            "header",
            "from_env",
            "from_file",
            "terminate_tls",
        ],
    ),
    ("[syscalls]", &["allow", "deny", "action", "unsafe_allow"]),
    (
        "[landlock]",
        &["mode", "scope_abstract_unix", "scope_signals"],
    ),
    (
        "[limits]",
        &[
            "wall_time",
            "kill_after",
            "cpu_time",
            "memory",
            "processes",
            "open_files",
            "file_size",
            "require_cgroup",
        ],
    ),
    ("[env]", &["keep", "set", "unset"]),
    (
        "[export]",
        &[
            "to",
            "from",
            "patterns",
            "forbid",
            "allow",
            "max_bytes",
            "max_total_bytes",
            "max_files",
            "overwrite",
            "when",
            "strict",
        ],
    ),
    ("[output]", &["stdout_max", "stderr_max", "mode"]),
    ("[server]", &["state"]),
    (
        "[budget]",
        &[
            "calls_per_minute",
            "max_identical_calls",
            "identical_window",
            "session_calls",
            "session_cpu",
            "session_wall",
            "state",
            "rate",
        ],
    ),
    ("[[budget.rate]]", &["per", "limit", "window"]),
    ("[audit]", &["enabled", "log"]),
    ("[command]", &["allow", "deny"]),
];
