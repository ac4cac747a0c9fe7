//! The report writer round trip: a report holding arbitrary strings (the argv, the working
//! directory, warnings and an error message, as a command or a profile can make them), written
//! as `--report` writes it and as the audit log appends it, reads back as the same Report; and
//! any JSON that reads as a Report writes back to the same Report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tooljail::audit::{chain, read_records, Filter};
use tooljail::error::Error;
use tooljail::report::Report;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<Report>(data) {
        check(&r);
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let argv: Vec<String> = parts
        .next()
        .unwrap_or("")
        .split(' ')
        .map(str::to_string)
        .collect();
    let mut r = Report::begin(argv);
    r.cwd = parts.next().map(str::to_string);
    r.warnings = parts
        .next()
        .map(|w| w.lines().map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(msg) = parts.next() {
        r.fail(&Error::profile(parts.next().unwrap_or("p.toml:1:1"), msg));
    }
    check(&r);
});

fn check(r: &Report) {
    // As `--report FILE` writes it: pretty JSON and a newline.
    let mut pretty = serde_json::to_vec_pretty(r).expect("Report serializes");
    pretty.push(b'\n');
    let back: Report = serde_json::from_slice(&pretty).expect("the report reads back");
    assert_eq!(&back, r);
    // As the audit log appends it: one line, the chain spliced in first.
    let body = serde_json::to_vec(r).expect("Report serializes");
    let link = chain::next_link(None);
    let mut line = chain::splice(&link, &body);
    assert!(!line.contains(&b'\n'), "a record spans lines");
    line.push(b'\n');
    let (records, bad) = read_records(&line[..], &Filter::default()).expect("reading memory");
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(records.as_slice(), std::slice::from_ref(r));
    assert_eq!(chain::link_of(&line[..line.len() - 1]), Some(link));
    assert!(chain::verify(&line[..]).expect("reading memory").is_ok());
}
