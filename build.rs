//! Records the git commit tooljail is built from (when built from a checkout) for
//! `tooljail --version`. Outside a checkout (a crate tarball) the version stands alone.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let version = env!("CARGO_PKG_VERSION");
    let long = match commit {
        Some(c) if dirty => format!("{version} (git {c}, modified)"),
        Some(c) => format!("{version} (git {c})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=TOOLJAIL_LONG_VERSION={long}");
    // Re-run when HEAD moves or the index changes (commit, checkout, add).
    for f in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
