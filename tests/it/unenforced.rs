//! `[budget]` is in the profile format but not enforced by this version: a run whose profile
//! sets it must refuse to start (exit 125, nothing runs), never run unlimited. (`[export]` is
//! enforced: tests/it/export.rs.)

use crate::support::{each_identity, profile_file, run};

#[test]
fn profiles_setting_unenforced_keys_do_not_run() {
    for (section, line) in [
        ("budget", "calls_per_minute = 10"),
        ("budget", "max_identical_calls = 3"),
    ] {
        let (_dir, profile) =
            profile_file(&format!("extends = [\"default\"]\n[{section}]\n{line}\n"));
        each_identity(|ctx| {
            let out = crate::support::records_dir();
            let marker = out.path().join("MARKER");
            let touch = format!("touch {}", marker.display());
            let log = out.path().join("audit.jsonl");
            let r = run(ctx.tooljail([
                "run".as_ref(),
                "--audit-log".as_ref(),
                log.as_os_str(),
                "-p".as_ref(),
                profile.as_os_str(),
                "--rw".as_ref(),
                out.path().as_os_str(),
                "--".as_ref(),
                "sh".as_ref(),
                "-c".as_ref(),
                touch.as_ref(),
            ]));
            r.expect(125)
                .expect_stderr_contains("is not enforced by this version");
            assert!(!marker.exists(), "the command ran\n{}", r.dump());
        });
    }
}
