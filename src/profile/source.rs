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
    /// Where each line of each file starts ([`line_starts`]), made by [`Sources::add`]:
    /// resolution asks for a few hundred positions per call, each a binary search here instead
    /// of a count of the newlines before it.
    lines: Vec<Vec<usize>>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> usize {
        self.lines.push(line_starts(&file.text));
        self.files.push(file);
        self.files.len() - 1
    }

    /// `origin:line:col` of a byte offset in source `src`.
    pub fn locate(&self, src: usize, offset: usize) -> Location {
        match self.files.get(src) {
            Some(f) => {
                let (line, col) = match self.lines.get(src) {
                    Some(starts) => line_col_in(&f.text, starts, offset),
                    None => line_col(&f.text, offset),
                };
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
    line_col_in(text, &line_starts(text), offset)
}

/// The byte offset at which each line of `text` starts: 0, then one past each newline.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// [`line_col`], with `text`'s [`line_starts`] at hand.
fn line_col_in(text: &str, starts: &[usize], offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // The lines that start at or before `end`; `starts[0]` is 0, so there is at least one.
    let line = starts.partition_point(|s| *s <= end).max(1);
    let col = text[starts[line - 1]..end].chars().count() + 1;
    (line, col)
}

/// At most this many structural errors are collected from one file.
const MAX_FILE_ERRORS: usize = 64;

/// Parse source `src` of `sources` into a [`Layer`], with every structural error (unknown key
/// or table, wrong type, bad value) rather than the first: serde stops at the first, so after
/// each one the entry it is in (its key and value, or a whole unknown table) is blanked out —
/// spaces in place of its characters, newlines kept, so every later position stays exact —
/// and parsing goes on. The Layer of what is left is returned too, so resolution can report
/// the file's other (semantic) errors in the same run. A TOML syntax error stops it: nothing
/// after it can be read.
pub fn parse(sources: &Sources, src: usize) -> (Option<Layer>, Vec<Error>) {
    let f = &sources.files[src];
    let to_error = |e: &toml::de::Error| {
        let offset = e.span().map_or(0, |s| s.start);
        let (message, hint) = explain_toml_error(e.message());
        Error::profile(sources.locate(src, offset), message).with_hint(hint)
    };
    // The usual case, a profile without errors, is parsed once; the document with its entry
    // spans is parsed only for a profile that has errors.
    let mut e = match with_source(src, || toml::from_str::<Layer>(&f.text)) {
        Ok(layer) => return (Some(layer), Vec::new()),
        Err(e) => e,
    };
    let Ok(doc) = toml_edit::ImDocument::parse(f.text.as_str()) else {
        // A syntax error: serde's message and position for it.
        return (None, vec![to_error(&e)]);
    };
    let mut text = f.text.clone();
    let mut errors = Vec::new();
    loop {
        errors.push(to_error(&e));
        let entry = e.span().and_then(|s| entry_span(doc.as_table(), s.start));
        // Nothing left to blank out: the same error would come again.
        if errors.len() >= MAX_FILE_ERRORS || !entry.is_some_and(|r| blank(&mut text, r)) {
            return (None, errors);
        }
        e = match with_source(src, || toml::from_str::<Layer>(&text)) {
            Ok(layer) => return (Some(layer), errors),
            Err(e) => e,
        };
    }
}

/// The bytes of the innermost entry of `table` that holds byte `offset`: `key = value` for a
/// value, the header and every entry for a table (an unknown table goes whole).
fn entry_span(table: &toml_edit::Table, offset: usize) -> Option<std::ops::Range<usize>> {
    let holds = |r: &std::ops::Range<usize>| r.start <= offset && offset <= r.end;
    for (key, item) in table.iter() {
        let key_span = table.key(key).and_then(toml_edit::Key::span);
        let inner = |t: &toml_edit::Table| {
            let header = t.span();
            let entries = t.iter().filter_map(|(k, i)| {
                let start = t.key(k).and_then(toml_edit::Key::span).map(|s| s.start);
                Some(start?..i.span()?.end)
            });
            let all: Vec<std::ops::Range<usize>> = header.into_iter().chain(entries).collect();
            let start = all.iter().map(|r| r.start).min()?;
            let end = all.iter().map(|r| r.end).max()?;
            let whole = start..end;
            holds(&whole).then(|| entry_span(t, offset).unwrap_or(whole))
        };
        let found = match item {
            toml_edit::Item::Table(t) => inner(t),
            toml_edit::Item::ArrayOfTables(a) => a.iter().find_map(inner),
            toml_edit::Item::Value(v) => {
                let r = key_span.as_ref().map_or(0, |k| k.start)..v.span().map_or(0, |s| s.end);
                (key_span.is_some() && holds(&r)).then_some(r)
            }
            toml_edit::Item::None => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Replace the bytes of `range` in `text` with spaces, keeping newlines (and so every other
/// position). False when there was nothing left to blank.
fn blank(text: &mut String, range: std::ops::Range<usize>) -> bool {
    let end = range.end.min(text.len());
    let start = range.start.min(end);
    let bytes = &text.as_bytes()[start..end];
    if bytes.iter().all(|b| matches!(b, b' ' | b'\n')) {
        return false;
    }
    let blanked: String = bytes
        .iter()
        .map(|b| if *b == b'\n' { '\n' } else { ' ' })
        .collect();
    // Whole characters are replaced byte for byte, so the string stays UTF-8 as long as the
    // range falls on character boundaries, which toml_edit's spans do.
    if text.is_char_boundary(start) && text.is_char_boundary(end) {
        text.replace_range(start..end, &blanked);
        true
    } else {
        false
    }
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
