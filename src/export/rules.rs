//! Which scratch files may leave: the patterns that name them, the forbid lists (the profile's
//! and the shipped default), and the checks on a name and on the first bytes of a file. Pure:
//! no I/O, unit-tested here.

use crate::policy::{Export, DEFAULT_FORBID};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// What an entry is, by its own type (never what a symlink points to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Symlink,
    Fifo,
    Device,
    Socket,
}

/// A refusal: the rule's name (as the report spells it), what was found, and what lifts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: &'static str,
    pub detail: String,
    pub remedy: String,
}

impl Refusal {
    pub fn new(rule: &'static str, detail: impl Into<String>, remedy: impl Into<String>) -> Self {
        Refusal {
            rule,
            detail: detail.into(),
            remedy: remedy.into(),
        }
    }
}

/// The never-liftable remedy.
pub const CANNOT: &str = "cannot be lifted";

/// The compiled patterns of one Policy's `[export]`.
pub struct Rules {
    patterns: GlobSet,
    /// The profile's own `forbid`, with the text of each (to name the one that refused).
    forbid: (GlobSet, Vec<String>),
    /// The shipped default list, lifted for files that match `allow`.
    default_forbid: (GlobSet, Vec<String>),
    allow: GlobSet,
}

/// `*` and `?` never match `/`: `*.csv` is a file at the top of the export directory,
/// `**/*.csv` one at any depth (as in .gitignore).
fn glob(p: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(p).literal_separator(true).build()
}

fn set<'a>(pats: impl IntoIterator<Item = &'a str>) -> Result<(GlobSet, Vec<String>), String> {
    let mut b = GlobSetBuilder::new();
    let mut texts = Vec::new();
    for p in pats {
        b.add(glob(p).map_err(|e| format!("export pattern \"{p}\": {e}"))?);
        texts.push(p.to_string());
    }
    let s = b.build().map_err(|e| e.to_string())?;
    Ok((s, texts))
}

impl Rules {
    /// Compile the Policy's patterns (checked at resolution, so an error here is a bug).
    pub fn new(x: &Export) -> Result<Rules, String> {
        Ok(Rules {
            patterns: set(x.patterns.iter().map(String::as_str))?.0,
            forbid: set(x.forbid.iter().map(String::as_str))?,
            default_forbid: set(DEFAULT_FORBID.iter().copied())?,
            allow: set(x.allow.iter().map(String::as_str))?.0,
        })
    }

    /// Whether the patterns name `path` (relative to the export directory).
    pub fn wanted(&self, path: &str) -> bool {
        self.patterns.is_match(path)
    }

    /// Whether `allow` lifts the default forbid list (by name and by content) for `path`.
    pub fn allowed(&self, path: &str) -> bool {
        self.allow.is_match(path)
    }

    /// The forbid list that refuses `path` by its name, if one does: the profile's own list
    /// first (which `allow` does not lift), then the shipped default.
    pub fn forbidden(&self, path: &str) -> Option<Refusal> {
        if let Some(i) = self.forbid.0.matches(path).first() {
            return Some(Refusal::new(
                "forbid",
                format!("matches [export] forbid \"{}\"", self.forbid.1[*i]),
                "remove the pattern from [export] forbid",
            ));
        }
        if self.allowed(path) {
            return None;
        }
        self.default_forbid.0.matches(path).first().map(|i| {
            Refusal::new(
                "forbid",
                format!(
                    "matches the default forbid list (\"{}\": executables, libraries and scripts)",
                    self.default_forbid.1[*i]
                ),
                format!("[export] allow = [\"{path}\"]"),
            )
        })
    }

    /// Refuse by content what the default list refuses by name: an ELF file (executable or
    /// library) or a `#!` script, whatever it is called, unless `allow` names it.
    pub fn content(&self, path: &str, head: &[u8]) -> Option<Refusal> {
        if self.allowed(path) {
            return None;
        }
        let what = if head.starts_with(b"\x7fELF") {
            "an ELF executable or library"
        } else if head.starts_with(b"#!") {
            "a script (starts with #!)"
        } else {
            return None;
        };
        Some(Refusal::new(
            "content",
            format!("the file is {what}"),
            format!("[export] allow = [\"{path}\"]"),
        ))
    }
}

/// Only a regular file with one link leaves: never a symlink (it would point the host at a path
/// the jail chose), a hard link (a second name for a file the command may not own alone), a
/// fifo, a device or a socket.
pub fn by_type(kind: Kind, nlink: u64) -> Option<Refusal> {
    let (rule, what) = match kind {
        Kind::File if nlink > 1 => {
            return Some(Refusal::new(
                "hard_link",
                format!("a regular file with {nlink} links"),
                CANNOT,
            ))
        }
        Kind::File => return None,
        Kind::Symlink => ("symlink", "a symbolic link"),
        Kind::Fifo => ("fifo", "a fifo"),
        Kind::Device => ("device", "a device node"),
        Kind::Socket => ("socket", "a socket"),
    };
    Some(Refusal::new(
        rule,
        format!("{what}: only regular files leave the jail"),
        CANNOT,
    ))
}

/// A name that cannot be exported as it is: not UTF-8, a control character (a newline would
/// forge lines in whatever reads a listing), or `..` (never a path step; refused anywhere in a
/// name so no later join can make one).
pub fn bad_name(raw: &[u8]) -> Option<Refusal> {
    let remedy = "rename the file in the scratch (cannot be lifted)";
    let Ok(name) = std::str::from_utf8(raw) else {
        return Some(Refusal::new("name", "the name is not UTF-8", remedy));
    };
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(Refusal::new(
            "name",
            format!("the name holds the control character {c:?}"),
            remedy,
        ));
    }
    if name.contains("..") {
        return Some(Refusal::new("name", "the name holds \"..\"", remedy));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str], forbid: &[&str], allow: &[&str]) -> Rules {
        let v = |s: &[&str]| s.iter().map(|p| p.to_string()).collect();
        Rules::new(&Export {
            patterns: v(patterns),
            forbid: v(forbid),
            allow: v(allow),
            ..Export::default()
        })
        .unwrap()
    }

    #[test]
    fn star_stays_in_its_directory_and_double_star_does_not() {
        let r = rules(&["*.csv", "out/**/*.png"], &[], &[]);
        assert!(r.wanted("a.csv"));
        assert!(!r.wanted("sub/a.csv"));
        assert!(r.wanted("out/p.png") && r.wanted("out/x/y/p.png"));
        assert!(!r.wanted("p.png"));
        // A newline in a name does not hide it from a pattern (it is refused by name later).
        assert!(r.wanted("a\nb.csv"));
    }

    #[test]
    fn the_default_list_refuses_code_by_name_unless_allowed() {
        let r = rules(&["**"], &[], &["tools/*.py"]);
        for p in [
            "x.so",
            "lib/libz.so.1",
            "a.exe",
            "run.sh",
            "deep/m.py",
            "w.dll",
        ] {
            let f = r.forbidden(p).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(f.rule, "forbid");
            assert!(f.remedy.contains(p), "{f:?}");
        }
        assert!(r.forbidden("tools/m.py").is_none());
        assert!(r.forbidden("report.csv").is_none());
    }

    #[test]
    fn the_profiles_forbid_list_is_not_lifted_by_allow() {
        let r = rules(&["**"], &["secret*"], &["secret.txt"]);
        let f = r.forbidden("secret.txt").unwrap();
        assert!(f.detail.contains("\"secret*\""), "{f:?}");
    }

    #[test]
    fn content_refuses_elf_and_scripts_whatever_the_name() {
        let r = rules(&["**"], &[], &["ok.bin"]);
        assert_eq!(
            r.content("x.txt", b"\x7fELF\x02\x01").unwrap().rule,
            "content"
        );
        assert!(r.content("x.txt", b"#!/bin/sh\n").is_some());
        assert!(r.content("x.txt", b"a,b\n1,2\n").is_none());
        assert!(r.content("x.txt", b"").is_none());
        assert!(r.content("ok.bin", b"\x7fELF").is_none());
    }

    #[test]
    fn names_with_control_characters_dots_or_bad_utf8_are_refused() {
        assert!(bad_name(b"report.csv").is_none());
        assert!(bad_name(b"a.b.c").is_none());
        for bad in [
            &b"a\nb"[..],
            b"x\x1b[31m",
            b"..x",
            b"a..b",
            b"\xff.csv",
            b"del\x7f",
        ] {
            assert_eq!(bad_name(bad).map(|r| r.rule), Some("name"), "{bad:?}");
        }
    }
}
