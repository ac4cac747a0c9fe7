//! The man pages and shell completions are generated from the clap definitions in src/cli.rs
//! (the one source of truth) and committed, so packages and `man -l` need no build step. This
//! test fails when a committed file is stale. Regenerate with:
//!
//!     TOOLJAIL_REGENERATE=1 cargo test --test it generated

use crate::support::api::cli::Cli;
use clap::CommandFactory;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every generated file, as (path relative to the repository, expected contents).
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    // The long version carries the git commit; generated files must not change per commit.
    let cmd = Cli::command().long_version(env!("CARGO_PKG_VERSION"));

    // tooljail.1: clap's sections, then the hand-written ones (exit status, environment, files,
    // examples) from man/fragments/tooljail.1.tail.
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    man.render_subcommands_section(&mut page).unwrap();
    page.extend(std::fs::read(root().join("man/fragments/tooljail.1.tail")).unwrap());
    man.render_version_section(&mut page).unwrap();
    out.push((PathBuf::from("man/tooljail.1"), page));

    // One page per subcommand: tooljail-run.1, tooljail-check.1, ...
    for sub in cmd.get_subcommands() {
        // clap keeps names as &'static str; a few leaked bytes per test run are fine.
        let name: &'static str = Box::leak(format!("tooljail-{}", sub.get_name()).into_boxed_str());
        let sub = sub.clone().name(name).version(env!("CARGO_PKG_VERSION"));
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page).unwrap();
        out.push((PathBuf::from(format!("man/{name}.1")), page));
    }

    for (shell, file) in [
        (clap_complete::Shell::Bash, "tooljail.bash"),
        (clap_complete::Shell::Zsh, "_tooljail"),
        (clap_complete::Shell::Fish, "tooljail.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "tooljail", &mut buf);
        out.push((PathBuf::from("completions").join(file), buf));
    }
    out
}

#[test]
fn man_pages_and_completions_are_current() {
    let regenerate = std::env::var_os("TOOLJAIL_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (rel, want) in generated() {
        let path = root().join(&rel);
        let have = std::fs::read(&path).unwrap_or_default();
        if have != want {
            if regenerate {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &want).unwrap();
            } else {
                stale.push(rel.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {}; run `TOOLJAIL_REGENERATE=1 cargo test --test it generated` and commit",
        stale.join(", ")
    );
}

#[test]
fn every_subcommand_has_a_page() {
    // The subcommands, written here: a new one must be added to this list, and gets a page.
    const SUBCOMMANDS: [&str; 11] = [
        "run", "check", "explain", "profiles", "doctor", "audit", "state", "why", "learn", "mcp",
        "man",
    ];
    let cli: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    assert_eq!(cli, SUBCOMMANDS, "the CLI's subcommands changed");
    // The committed pages, as files: tooljail.1 plus one per subcommand, nothing else.
    let mut pages: Vec<String> = std::fs::read_dir(root().join("man"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".1"))
        .collect();
    pages.sort();
    let mut want: Vec<String> = SUBCOMMANDS
        .iter()
        .map(|s| format!("tooljail-{s}.1"))
        .chain(["tooljail.1".to_owned()])
        .collect();
    want.sort();
    assert_eq!(pages, want);
    // And the main page names each of them.
    let main = std::fs::read_to_string(root().join("man/tooljail.1")).unwrap();
    for sub in SUBCOMMANDS {
        assert!(
            main.contains(&format!("tooljail\\-{sub}(1)")),
            "man/tooljail.1 does not name tooljail-{sub}(1)"
        );
    }
}

/// man/tooljail-profile.5 is built from docs/profile-format.md by
/// `python3 man/fragments/profile-page.py` (pandoc). It must document every key the profile
/// schema accepts, and every section of the doc it is built from.
#[test]
fn profile_page_documents_every_key_and_section() {
    let page = std::fs::read_to_string(root().join("man/tooljail-profile.5")).unwrap();
    // Compare on the text without roff's escapes: `\-` for '-' and `\f[X]` font changes.
    let mut text = String::new();
    let mut rest = page.replace("\\-", "-");
    while let Some(i) = rest.find("\\f[") {
        text.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        rest = after[after.find(']').map_or(0, |j| j + 1)..].to_string();
    }
    text.push_str(&rest);
    let mut missing = Vec::new();
    for (section, keys) in crate::support::api::profile::schema::SECTIONS {
        for key in *keys {
            if !text.contains(key) {
                missing.push(format!("{key} ({section})"));
            }
        }
    }
    let doc = std::fs::read_to_string(root().join("docs/profile-format.md")).unwrap();
    for heading in doc.lines().filter_map(|l| l.strip_prefix("## ")) {
        let heading = heading.replace('`', "");
        if !text.contains(&heading) {
            missing.push(format!("section \"{heading}\""));
        }
    }
    assert!(
        missing.is_empty(),
        "man/tooljail-profile.5 is stale (missing {}); run `python3 man/fragments/profile-page.py`",
        missing.join(", ")
    );
}
