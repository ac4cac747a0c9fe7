//! Arbitrary bytes as up to four profile files that may extend each other (and the built-ins)
//! in any shape, cycles and diamonds included: loading and merging them never panics, never
//! recurses without end, gives the same answer twice, and every error says where it is.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;
use tooljail::cli::PolicyArgs;
use tooljail::host::fake::FakeHost;
use tooljail::policy::resolve::Options;

/// The files' names, as the inputs' `extends` entries (and the dictionary) spell them.
const FILES: [&str; 4] = ["/p/a.toml", "/p/b.toml", "/p/c.toml", "/p/d.toml"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut host = FakeHost::debian();
    host.dir("/p");
    // One file per part between form feeds; the first is the profile named on the command line.
    for (name, part) in FILES.iter().zip(text.split('\u{c}')) {
        host.file(name, part);
    }
    let args = PolicyArgs {
        profiles: vec![FILES[0].into()],
        ..PolicyArgs::default()
    };
    let first = tooljail::profile::resolve_args(&host, &args, Options::default());
    let again = tooljail::profile::resolve_args(&host, &args, Options::default());
    match (&first, &again) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "two resolutions of the same files differ");
            checks::round_trips(a);
            // The profile named on the command line is merged last, each profile once.
            assert_eq!(a.profiles.last().map(|p| p.origin.as_str()), Some(FILES[0]));
            let mut origins: Vec<&str> = a.profiles.iter().map(|p| p.origin.as_str()).collect();
            origins.sort_unstable();
            let n = origins.len();
            origins.dedup();
            assert_eq!(origins.len(), n, "a profile merged twice: {:?}", a.profiles);
        }
        (Err(a), Err(b)) => {
            assert_eq!(
                a.iter().map(ToString::to_string).collect::<Vec<_>>(),
                b.iter().map(ToString::to_string).collect::<Vec<_>>()
            );
            checks::placed_one_line(a);
        }
        _ => panic!("one resolution failed and the other did not"),
    }
});
