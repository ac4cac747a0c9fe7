//! `tooljail man [PAGE]`: the manual pages, built into the binary. The pages in man/ are
//! generated from the clap definitions and the profile-format doc (tests/it/generated.rs keeps
//! them current); a `cargo install` puts no page where man(1) looks, so the binary carries them.

use crate::cli::ManArgs;
use crate::error::{Error, Result};
use std::io::Write;
use std::process::{Command, Stdio};

/// Every page, by the name `tooljail man` takes.
const PAGES: &[(&str, &str)] = &[
    ("tooljail", include_str!("../../man/tooljail.1")),
    ("run", include_str!("../../man/tooljail-run.1")),
    ("check", include_str!("../../man/tooljail-check.1")),
    ("explain", include_str!("../../man/tooljail-explain.1")),
    ("profiles", include_str!("../../man/tooljail-profiles.1")),
    ("doctor", include_str!("../../man/tooljail-doctor.1")),
    ("audit", include_str!("../../man/tooljail-audit.1")),
    ("state", include_str!("../../man/tooljail-state.1")),
    ("why", include_str!("../../man/tooljail-why.1")),
    ("learn", include_str!("../../man/tooljail-learn.1")),
    ("mcp", include_str!("../../man/tooljail-mcp.1")),
    ("man", include_str!("../../man/tooljail-man.1")),
    ("profile", include_str!("../../man/tooljail-profile.5")),
];

/// The roff source of `page` (also `tooljail-run`, `tooljail-profile` as man(1) names them).
pub fn page(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix("tooljail-").unwrap_or(name);
    PAGES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

pub fn man(args: &ManArgs) -> Result<i32> {
    let Some(text) = page(&args.page) else {
        let names: Vec<&str> = PAGES.iter().map(|(n, _)| *n).collect();
        return Err(Error::usage(format!("no manual page \"{}\"", args.page))
            .with_hint(format!("the pages are: {}", names.join(", "))));
    };
    if !args.raw {
        // man(1) formats for the terminal (or as plain text into a pipe); `-l -` reads the page
        // from stdin.
        if let Ok(mut child) = Command::new("man")
            .args(["-l", "-"])
            .stdin(Stdio::piped())
            .spawn()
        {
            if let Some(mut stdin) = child.stdin.take() {
                // A reader that quit early (q in the pager) closes the pipe: not an error.
                let _ = stdin.write_all(text.as_bytes());
            }
            let status = child
                .wait()
                .map_err(|e| Error::usage(format!("man(1) failed: {e}")))?;
            if status.success() {
                return Ok(0);
            }
        }
        crate::shown::say("man(1) is not available; printing the page's roff source");
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(0),
        // `tooljail man --raw | head`: the reader is gone.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::usage(format!("cannot write the page: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_built_in_and_found_by_both_names() {
        for (name, text) in PAGES {
            assert!(text.contains(".TH "), "{name}: not a man page");
            assert_eq!(page(name), Some(*text));
            assert_eq!(page(&format!("tooljail-{name}")), Some(*text));
        }
        assert!(page("run").unwrap().contains(".TH tooljail-run 1"));
        assert!(page("profile")
            .unwrap()
            .contains(".TH \"TOOLJAIL-PROFILE\" \"5\""));
        assert_eq!(page("bogus"), None);
    }
}
