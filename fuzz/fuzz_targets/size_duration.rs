//! Sizes and durations as a profile or the command line writes them, and the audit filter's
//! time bounds: the parsers never panic, a size written back by `format_size` parses to the
//! same number, and a refusal always says why.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};
use tooljail::policy::size::{format_size, parse_duration, parse_size};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_size(text) {
        Ok(n) => {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{text:?} -> {n}");
        }
        Err(why) => assert!(!why.is_empty() && !why.contains('\n')),
    }
    match parse_duration(text) {
        Ok(d) => {
            // humantime's own formatting reads back to the same duration.
            let written = humantime::format_duration(d).to_string();
            assert_eq!(parse_duration(&written), Ok(d), "{text:?} -> {written:?}");
        }
        Err(why) => assert!(!why.is_empty()),
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    if let Err(why) = tooljail::audit::parse_time(text, now) {
        assert!(!why.is_empty());
    }
});
