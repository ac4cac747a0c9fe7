//! What exists inside the jail: the binds, the scratch directory, the devices, and which of
//! them a path lies in ([`Place`]).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
