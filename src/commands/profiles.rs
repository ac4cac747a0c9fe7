//! `tooljail profiles`: every profile found, where it comes from, and what it is for.

use crate::error::Result;
use crate::policy::resolve::{Host, RealHost};
use crate::profile::search::{search_dirs, BUILTINS};
use std::path::PathBuf;

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

pub fn profiles() -> Result<i32> {
    let dirs = search_dirs(&RealHost);
    let found = list(&RealHost, &dirs, |d| {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        names.sort();
        names
    });
    println!(
        "search path: {}",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for f in &found {
        let mut note = String::new();
        if let Some(s) = &f.shadows {
            note = format!(" (shadows {s})");
        }
        if f.shadowed {
            note = " (shadowed: an earlier profile of this name is used)".into();
        }
        println!("{:<16} {:<48} {}{note}", f.name, f.origin, f.description);
    }
    Ok(0)
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
