//! Arbitrary bytes as an audit log, read as `tooljail audit` reads it and verified as
//! `tooljail audit --verify` does: never a panic; every non-blank line is a record or a named
//! bad line (never dropped); a break names a line of the log.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tooljail::audit::{chain, read_records, Filter};

fuzz_target!(|data: &[u8]| {
    let (records, bad) = read_records(data, &Filter::default()).expect("reading memory");
    let lines = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    assert_eq!(
        records.len() + bad.len(),
        lines.count(),
        "a line was neither a record nor bad"
    );
    let total = data.split(|b| *b == b'\n').count();
    assert!(bad
        .iter()
        .all(|b| b.line >= 1 && b.line <= total && !b.error.is_empty()));
    match chain::verify(data).expect("reading memory") {
        Ok(v) => assert!(usize::try_from(v.records + v.unchained).unwrap() <= total),
        Err(b) => assert!(
            b.line >= 1 && b.line <= total && !b.what.is_empty(),
            "{b:?}"
        ),
    }
    // Appending a record to whatever the log holds gives a line the chain accepts after it.
    let last = data
        .split(|b| *b == b'\n')
        .rfind(|l| !l.iter().all(u8::is_ascii_whitespace));
    let link = chain::next_link(last);
    let line = chain::splice(&link, br#"{"schema":"x"}"#);
    assert_eq!(chain::link_of(&line), Some(link));
});
