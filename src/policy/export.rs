//! What may leave the jail: files exported from the scratch directory, and the caps on the
//! command's stdout and stderr.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    pub(super) fn is_default(&self) -> bool {
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
