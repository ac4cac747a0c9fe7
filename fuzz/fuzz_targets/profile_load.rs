//! Arbitrary bytes as a profile file, loaded, merged (it may extend the built-ins) and resolved
//! against an in-memory host: never a panic, and every error says where it is.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;
use tooljail::cli::PolicyArgs;
use tooljail::host::fake::FakeHost;
use tooljail::policy::resolve::Options;

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
            Ok(policy) => checks::round_trips(&policy),
            Err(errors) => checks::placed_one_line(&errors),
        }
    }
});
