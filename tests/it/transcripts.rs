//! CLI behaviour as transcripts that are documentation too: tests/cmd/*.md (help, `check`
//! errors, `explain`) are run by trycmd, each command with its exit status and whole output
//! (stdout and stderr, in the order written). `[..]` in a line and a `...` line stand for
//! output that may differ. After a deliberate change of the output, regenerate with
//! `TRYCMD=overwrite cargo test --test it transcripts` and read the diff.

#[test]
fn transcripts() {
    // No user profiles: an empty config directory, so only the built-ins resolve.
    let config = crate::support::tempdir(0o755);
    trycmd::TestCases::new()
        .register_bin("tooljail", crate::support::binary())
        .env("XDG_CONFIG_HOME", config.path().display().to_string())
        .case("tests/cmd/*.md");
}
