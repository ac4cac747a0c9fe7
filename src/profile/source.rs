//! Profile texts and positions: the loaded files, byte offset -> `file:line:col`, and TOML
//! parse errors turned into positioned, actionable [`Error`]s (with "did you mean" for typos).

use super::schema::{with_source, Item, Layer, SECTIONS};
use crate::error::{Error, Location};
use std::path::PathBuf;

/// One loaded profile text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Identity for `extends` cycles and de-duplication: the canonical path, or `builtin:NAME`.
    pub id: String,
    /// The profile's name (file stem, or the built-in's name).
    pub name: String,
    /// `builtin:NAME`, or the file's path: what errors and `explain` print as the file.
    pub origin: String,
    /// The directory holding the file (`${PROFILE_DIR}`, relative `extends`); `None` for
    /// built-ins.
    pub dir: Option<PathBuf>,
    pub text: String,
}

/// Every profile text loaded for one resolution, indexed by [`Item::src`].
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> usize {
        self.files.push(file);
        self.files.len() - 1
    }

    /// `origin:line:col` of a byte offset in source `src`.
    pub fn locate(&self, src: usize, offset: usize) -> Location {
        match self.files.get(src) {
            Some(f) => {
                let (line, col) = line_col(&f.text, offset);
                Location::Span {
                    file: f.origin.to_string(),
                    line,
                    col,
                }
            }
            None => Location::from(format!("<unknown source {src}>")),
        }
    }

    /// Where an item was written.
    pub fn at<T>(&self, item: &Item<T>) -> Location {
        self.locate(item.src, item.span.start)
    }

    /// Where character `index` (a byte index into the *parsed* value) of a string item was
    /// written. Exact when the string was written without escapes (the usual case); otherwise
    /// the start of the string, which is still the right entry.
    pub fn at_char(&self, item: &Item<String>, index: usize) -> Location {
        let Some(f) = self.files.get(item.src) else {
            return self.at(item);
        };
        let raw = f.text.get(item.span.clone()).unwrap_or("");
        let plain = raw.len() == item.value.len() + 2
            && (raw.starts_with('"') || raw.starts_with('\''))
            && raw.get(1..raw.len() - 1) == Some(item.value.as_str());
        if plain {
            self.locate(item.src, item.span.start + 1 + index)
        } else {
            self.at(item)
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Parse source `src` of `sources` into a [`Layer`]. TOML stops at the first error, so this
/// reports one error per file.
pub fn parse(sources: &Sources, src: usize) -> Result<Layer, Error> {
    let f = &sources.files[src];
    with_source(src, || toml::from_str::<Layer>(&f.text)).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (message, hint) = explain_toml_error(e.message());
        Error::profile(sources.locate(src, offset), message).with_hint(hint)
    })
}

/// The backquoted words of a serde message: "unknown field `x`, expected one of `a`, `b`".
fn backquoted(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

/// The closest candidate by Jaro-Winkler similarity, if it is close enough to be a typo. The word
/// is compared as written and with common abbreviations spelt out (`rw_paths` ~ `read_write`).
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let spelt = spell_out(word);
    candidates
        .iter()
        .map(|c| {
            let score = strsim::jaro_winkler(word, c).max(strsim::jaro_winkler(&spelt, c));
            (score, *c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Turn serde/toml's message into (what, what to do) in the profile's own terms.
fn explain_toml_error(msg: &str) -> (String, String) {
    // One line per error: toml's parser messages may span several.
    let one_line = msg.trim().replace('\n', ": ");
    let msg = one_line.as_str();
    let words = backquoted(msg);
    if let Some(key) = msg.strip_prefix("unknown field ").and(words.first()) {
        let expected = &words[1..];
        let section = SECTIONS
            .iter()
            .find(|(_, keys)| {
                keys.len() == expected.len() && keys.iter().all(|k| expected.contains(k))
            })
            .map_or("this table", |(name, _)| name);
        let hint = match suggest(key, expected) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("valid keys here: {}", expected.join(", ")),
        };
        return (format!("unknown key \"{key}\" in {section}"), hint);
    }
    if let Some(value) = msg.strip_prefix("unknown variant ").and(words.first()) {
        let expected = &words[1..];
        let hint = match suggest(value, expected) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("use one of: {}", expected.join(", ")),
        };
        return (format!("unknown value \"{value}\""), hint);
    }
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        return (
            msg.replace('`', "\""),
            "see docs/profile-format.md for the type of each key".into(),
        );
    }
    if msg.starts_with("duplicate key") {
        return (
            msg.replace('`', "\""),
            "write each key once per table".into(),
        );
    }
    (
        format!("invalid TOML: {}", msg.replace('`', "\"")),
        "fix the syntax at this position".into(),
    )
}

/// `word` with the abbreviations people use for profile keys spelt out and filler words
/// ("paths", "dirs") dropped: `rw_paths` -> `read_write`, `ro-dirs` -> `read_only`.
fn spell_out(word: &str) -> String {
    word.to_ascii_lowercase()
        .split(['_', '-'])
        .filter(|t| !matches!(*t, "paths" | "path" | "dirs" | "dir" | "list" | "files"))
        .map(|t| match t {
            "rw" | "readwrite" | "writable" | "writeable" => "read_write",
            "ro" | "readonly" => "read_only",
            "exec" | "execute" | "executables" | "bin" => "executable",
            "syscall" | "seccomp" => "syscalls",
            "net" => "network",
            "environment" => "env",
            "timeout" | "wall" => "wall_time",
            "mem" => "memory",
            "procs" | "pids" | "nproc" => "processes",
            "fds" | "nofile" => "open_files",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("_")
}
