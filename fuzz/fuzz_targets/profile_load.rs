//! Arbitrary bytes as a profile file, loaded, merged (it may extend the built-ins) and resolved
//! against an in-memory host: never a panic, and every error says where it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tooljail::cli::PolicyArgs;
use tooljail::policy::resolve::Options;
use tooljail::host::fake::FakeHost;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut host = FakeHost::debian();
    host.dir("/p").file("/p/f.toml", text);
    let args = PolicyArgs {
        profiles: vec!["/p/f.toml".into()],
        ..PolicyArgs::default()
    };
    for opts in [Options::default(), Options { check_only: true }] {
        match tooljail::profile::resolve_args(&host, &args, opts) {
            Ok(policy) => {
                // What resolves must also survive the JSON round trip `explain --json` promises.
                let json = serde_json::to_string(&policy).expect("Policy serializes");
                let back: tooljail::policy::Policy =
                    serde_json::from_str(&json).expect("Policy JSON parses");
                assert_eq!(back, policy);
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                for e in errors {
                    assert!(e.location != tooljail::error::Location::None, "unpositioned error: {e}");
                    assert!(!e.to_string().contains('\n'), "multi-line error: {e:?}");
                }
            }
        }
    }
});
