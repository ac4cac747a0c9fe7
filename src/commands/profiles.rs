//! `tooljail profiles`: every profile found, where it comes from, and what it is for.

use crate::error::Result;
use crate::host::RealHost;
use crate::profile::search::{list, search_dirs, toml_files};

pub fn profiles() -> Result<i32> {
    let dirs = search_dirs(&RealHost);
    let found = list(&RealHost, &dirs, |d| toml_files(d));
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
