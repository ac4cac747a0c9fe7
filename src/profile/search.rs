//! Finding a profile by name or path, and the profiles built into the binary.
//!
//! Order: an argument containing `/` or ending in `.toml` is a path; `builtin:NAME` is the
//! embedded profile even when a file shadows it; otherwise NAME.toml is looked up in
//! `$XDG_CONFIG_HOME/tooljail/profiles` (default `~/.config/tooljail/profiles`),
//! `/etc/tooljail/profiles`, `/usr/share/tooljail/profiles`, and last among the built-ins.

use super::source::{suggest, SourceFile};
use crate::error::{Error, Location};
use crate::host::Host;
use std::io;
use std::path::{Path, PathBuf};

/// The shipped profiles, embedded so that a fresh `cargo install` works with no files.
pub const BUILTINS: &[(&str, &str)] = &[
    ("default", include_str!("../../profiles/default.toml")),
    ("base", include_str!("../../profiles/base.toml")),
    ("shell", include_str!("../../profiles/shell.toml")),
    ("shell-rw", include_str!("../../profiles/shell-rw.toml")),
    ("python", include_str!("../../profiles/python.toml")),
    (
        "python-report",
        include_str!("../../profiles/python-report.toml"),
    ),
    ("node", include_str!("../../profiles/node.toml")),
    ("git", include_str!("../../profiles/git.toml")),
    ("git-rw", include_str!("../../profiles/git-rw.toml")),
    ("git-github", include_str!("../../profiles/git-github.toml")),
    ("http", include_str!("../../profiles/http.toml")),
    ("search", include_str!("../../profiles/search.toml")),
    ("jq", include_str!("../../profiles/jq.toml")),
    ("build-c", include_str!("../../profiles/build-c.toml")),
    ("learn", include_str!("../../profiles/learn.toml")),
    (
        "pip-install",
        include_str!("../../profiles/pip-install.toml"),
    ),
    ("pip-pypi", include_str!("../../profiles/pip-pypi.toml")),
    ("mcp-node", include_str!("../../profiles/mcp-node.toml")),
    ("mcp-python", include_str!("../../profiles/mcp-python.toml")),
];

/// The directories searched for `NAME.toml`, in order.
pub fn search_dirs(host: &dyn Host) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let config = host
        .env("XDG_CONFIG_HOME")
        .filter(|v| v.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| host.home().map(|h| h.join(".config")));
    if let Some(c) = config {
        dirs.push(c.join("tooljail/profiles"));
    }
    dirs.push("/etc/tooljail/profiles".into());
    dirs.push("/usr/share/tooljail/profiles".into());
    dirs
}

/// Whether a profile argument names a file rather than a profile on the search path.
pub fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.ends_with(".toml")
}

/// A valid profile name: what may follow `-p` without being a path.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn builtin(name: &str) -> Option<SourceFile> {
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| SourceFile {
            name: n.to_string(),
            id: format!("builtin:{n}"),
            origin: format!("builtin:{n}"),
            dir: None,
            text: text.to_string(),
        })
}

/// Find and read profile `arg`. `relative_to` is the directory of the profile that names it
/// in `extends` (relative paths are relative to that file), `None` for the command line
/// (relative to the current directory). `location` is where `arg` was written, for errors.
pub fn find(
    host: &dyn Host,
    arg: &str,
    relative_to: Option<&Path>,
    location: &Location,
) -> Result<SourceFile, Error> {
    if let Some(name) = arg.strip_prefix("builtin:") {
        return builtin(name).ok_or_else(|| {
            Error::profile(location.clone(), format!("no built-in profile \"{name}\""))
                .with_hint(format!("built-in profiles: {}", builtin_names().join(", ")))
        });
    }
    if is_path(arg) {
        let path = Path::new(arg);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else if let Some(dir) = relative_to {
            dir.join(path)
                .components()
                .filter(|c| *c != std::path::Component::CurDir)
                .collect()
        } else {
            match host.cwd() {
                Ok(cwd) => cwd.join(path),
                Err(e) => {
                    return Err(Error::profile(
                        location.clone(),
                        format!("cannot resolve relative profile path \"{arg}\": {e}"),
                    )
                    .with_hint("give an absolute path"))
                }
            }
        };
        // Show a command-line path as the user wrote it; one from `extends` joined to its file's dir.
        let shown = if relative_to.is_none() {
            Path::new(arg)
        } else {
            path.as_path()
        };
        return read(host, &path, shown).map_err(|e| {
            file_fault(&e, shown).unwrap_or_else(|| {
                Error::profile(
                    location.clone(),
                    format!("cannot read profile \"{}\": {e}", path.display()),
                )
                .with_hint("check the path, or give a profile name (see `tooljail profiles`)")
            })
        });
    }
    if !valid_name(arg) {
        return Err(
            Error::profile(location.clone(), format!("invalid profile name \"{arg}\"")).with_hint(
                "names use letters, digits, '-', '_' and '.'; give a path with a '/' for a file",
            ),
        );
    }
    for dir in search_dirs(host) {
        let path = dir.join(format!("{arg}.toml"));
        match read(host, &path, &path) {
            Ok(f) => {
                return match untrusted(host, &path) {
                    None => Ok(f),
                    Some(why) => Err(Error::profile(
                        location.clone(),
                        format!("profile \"{}\" is not trusted: {why}", path.display()),
                    )
                    .with_hint(
                        "a profile on the search path, and every directory above it, must be \
                         owned by you or root (by root when tooljail runs as root) and writable \
                         by nobody else: fix it with chown/chmod go-w, or remove it",
                    )),
                };
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // A directory we may not search (e.g. root's HOME after dropping to nobody with
            // HOME unchanged): its files do not exist for us, as with `ls`. A file we can see
            // but not read is an error below, never skipped.
            Err(_) if host.kind(&path).is_err() => {}
            Err(e) => {
                return Err(file_fault(&e, &path).unwrap_or_else(|| {
                    Error::profile(
                        location.clone(),
                        format!("cannot read profile \"{}\": {e}", path.display()),
                    )
                    .with_hint("fix its permissions or remove it from the search path")
                }))
            }
        }
    }
    builtin(arg).ok_or_else(|| {
        let dirs: Vec<String> = search_dirs(host)
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let names = builtin_names();
        let hint = match suggest(arg, &names) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!(
                "looked for {arg}.toml in {}; run `tooljail profiles` to list what exists",
                dirs.join(", ")
            ),
        };
        Error::profile(location.clone(), format!("profile \"{arg}\" not found")).with_hint(hint)
    })
}

/// Why a profile found on the search path cannot be trusted, if it cannot: the file or a
/// directory above it is owned by someone other than the caller or root (root alone when the
/// caller is root), or writable by group or others (a sticky directory, like /tmp, is writable
/// by others but lets nobody replace what its owner put there). Such a file could have been
/// planted by another user, or by a jail given a writable bind of the caller's home, to shadow
/// a profile the caller trusts.
fn untrusted(host: &dyn Host, path: &Path) -> Option<String> {
    let caller = host.uid();
    for p in path.ancestors() {
        let Ok((owner, mode)) = host.owner_and_mode(p) else {
            return Some(format!("cannot read the owner of {}", p.display()));
        };
        let owner_ok = owner == 0 || (caller != 0 && owner == caller);
        if !owner_ok {
            return Some(format!("{} is owned by uid {owner}", p.display()));
        }
        let sticky_dir = p != path && mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky_dir {
            return Some(format!(
                "{} is writable by {} (mode {:04o})",
                p.display(),
                if mode & 0o002 != 0 {
                    "anyone"
                } else {
                    "its group"
                },
                mode
            ));
        }
    }
    None
}

/// The text of shipped profile `name`, if there is one.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

/// A profile file whose bytes are no profile text (over the size cap, not UTF-8), as an error
/// at the position in the file.
fn file_fault(e: &io::Error, shown: &Path) -> Option<Error> {
    let f = e.get_ref()?.downcast_ref::<crate::host::FileFault>()?;
    let at = Location::Span {
        file: shown.display().to_string(),
        line: f.line,
        col: f.col,
    };
    Some(
        Error::profile(at, f.what.clone())
            .with_hint("a profile is a UTF-8 TOML file of at most 1 MiB; fix or replace the file"),
    )
}

fn read(host: &dyn Host, path: &Path, shown: &Path) -> io::Result<SourceFile> {
    let text = host.read_to_string(path)?;
    let id = host
        .canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(SourceFile {
        name,
        id,
        origin: shown.display().to_string(),
        dir: path.parent().map(Path::to_path_buf),
        text,
    })
}

/// One row of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    /// `builtin` or the file's path.
    pub origin: String,
    pub description: String,
    /// What this one hides: a file of the same name earlier on the search path, or a built-in.
    pub shadows: Option<String>,
    /// A profile of the same name earlier on the search path hides this one.
    pub shadowed: bool,
}

/// The `*.toml` file names in a real directory, sorted (nothing when it cannot be read): the
/// `read_dir` argument of [`list`] on the real host.
pub fn toml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

/// The profiles on the search path `dirs` (listed by `read_dir`), then the built-ins, in the
/// order `-p NAME` would consider them.
pub fn list(
    host: &dyn Host,
    dirs: &[PathBuf],
    read_dir: impl Fn(&PathBuf) -> Vec<String>,
) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let mut add = |name: String, origin: String, text: Option<String>| {
        let description = match text {
            Some(t) => describe(&t),
            None => "(unreadable)".into(),
        };
        let first = out
            .iter()
            .find(|f| f.name == name && !f.shadowed)
            .map(|f| f.origin.clone());
        if let Some(winner) = &first {
            if let Some(f) = out.iter_mut().find(|f| &f.origin == winner) {
                let what = if origin == "builtin" {
                    "builtin".to_string()
                } else {
                    origin.clone()
                };
                f.shadows.get_or_insert(what);
            }
        }
        out.push(Found {
            name,
            origin,
            description,
            shadows: None,
            shadowed: first.is_some(),
        });
    };
    for d in dirs {
        for file in read_dir(d) {
            let path = d.join(&file);
            let name = file.trim_end_matches(".toml").to_string();
            add(
                name,
                path.display().to_string(),
                host.read_to_string(&path).ok(),
            );
        }
    }
    for (name, text) in BUILTINS {
        add(name.to_string(), "builtin".into(), Some(text.to_string()));
    }
    out
}

/// The first line of a profile's `description`, or why there is none.
fn describe(text: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Only {
        description: Option<String>,
    }
    // Only the description is wanted here; other keys are `check`'s business.
    match toml::from_str::<toml::Table>(text) {
        Ok(t) => match toml::Value::Table(t).try_into::<Only>() {
            Ok(Only {
                description: Some(d),
            }) => d.lines().next().unwrap_or("").to_string(),
            _ => "(no description)".into(),
        },
        Err(_) => "(invalid TOML: run `tooljail check` on it)".into(),
    }
}
