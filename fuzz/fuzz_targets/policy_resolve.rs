//! The Policy resolver under arbitrary command-line overrides (`--ro`, `--rw`, `--exec`,
//! `--timeout`, `--memory`, `--limit`, `--env`, `--keep-env`, `--cwd`, `--export-to`,
//! `--export`, `--stdout-max`) on top of a shipped profile: never a panic; an error is one line
//! naming a file position or the flag; a Policy binds nothing that neither the profile nor a
//! flag named, and survives the JSON round trip `explain --json` promises.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;
use std::path::PathBuf;
use tooljail::cli::PolicyArgs;
use tooljail::host::fake::FakeHost;
use tooljail::policy::resolve::Options;
use tooljail::policy::Access;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Fields between NULs, each a flag's value: its first char picks the flag.
    let mut args = PolicyArgs {
        profiles: vec![["default", "python", "node", "shell"][usize::from(pick % 4)].into()],
        ..PolicyArgs::default()
    };
    for field in text.split('\0') {
        let mut chars = field.chars();
        let Some(flag) = chars.next() else { continue };
        let value = chars.as_str().to_string();
        match flag {
            'r' => args.ro.push(value.into()),
            'w' => args.rw.push(value.into()),
            'x' => args.exec.push(value.into()),
            't' => args.timeout = Some(value),
            'm' => args.memory = Some(value),
            'l' => args.limit.push(value),
            'e' => args.env.push(value),
            'k' => args.keep_env.push(value),
            'c' => args.cwd = Some(value.into()),
            'o' => args.export_to = Some(value.into()),
            'p' => args.export.push(value),
            's' => args.stdout_max = Some(value),
            _ => {}
        }
    }
    let host = FakeHost::debian();
    match tooljail::profile::resolve_args(&host, &args, Options::default()) {
        Ok(policy) => {
            let named: Vec<PathBuf> = args
                .ro
                .iter()
                .chain(&args.rw)
                .chain(&args.exec)
                .cloned()
                .collect();
            for b in &policy.filesystem.binds {
                let by_flag = b.origin.starts_with("--");
                assert!(
                    by_flag || b.origin.contains(".toml:") || b.origin.starts_with("builtin:"),
                    "bind {b:?} has no origin a profile or a flag could give"
                );
                if by_flag {
                    assert!(!named.is_empty(), "bind {b:?} from a flag nobody gave");
                }
                if b.access == Access::ReadWrite {
                    // Nothing becomes writable that neither a profile nor --rw made so. An
                    // --exec path with no bind of its own takes the access of the bind it lies
                    // in (docs/profile-format.md): writable only inside a writable one.
                    let in_writable = policy.filesystem.binds.iter().any(|o| {
                        o.access == Access::ReadWrite
                            && o.target != b.target
                            && b.target.starts_with(&o.target)
                    });
                    assert!(
                        !b.origin.starts_with("--ro")
                            && (!b.origin.starts_with("--exec") || in_writable),
                        "{b:?}"
                    );
                }
            }
            checks::round_trips(&policy);
        }
        Err(errors) => checks::placed_one_line(&errors),
    }
});
