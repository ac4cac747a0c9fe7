//! The supervisor's record of denials: one entry per syscall, the unknown bucket, the cap,
//! exact totals and the one-line stderr summary.
#![allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    reason = "test counts are small"
)]

use super::*;
use crate::policy::syscalls::Arch;

#[test]
fn summary_line() {
    let mut d = Denials::default();
    assert_eq!(d.summary_line(), None);
    // Entries are keyed by (arch, number): use the real numbers.
    let mk = |name: &str, rule| denial(name, Arch::X86_64.number(name).unwrap(), rule);
    d.record(&mk("ptrace", DenialRule::Profile));
    d.record(&mk("setns", DenialRule::Profile));
    d.record(&mk("setns", DenialRule::Profile));
    assert_eq!(
        d.summary_line().unwrap(),
        "tooljail: denied syscalls: ptrace(x86_64) x1, setns(x86_64) x2; allow them in \
         [syscalls] if the tool needs them"
    );
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        json.contains("\"name\":\"setns\"") && json.contains("\"count\":2"),
        "{json}"
    );
    let mut h = Denials::default();
    h.record(&mk("bpf", DenialRule::Hardening));
    assert!(h.summary_line().unwrap().contains("unsafe_allow"));
}

fn denial(name: &str, nr: u32, rule: DenialRule) -> Denial {
    Denial {
        name: name.into(),
        arch: "x86_64".into(),
        nr,
        pid: 1,
        rule,
        errno: Some(1),
        kill: false,
    }
}

#[test]
fn unknown_numbers_share_one_entry_with_examples() {
    let mut d = Denials::default();
    for nr in 1000..21_000u32 {
        d.record(&denial(&format!("syscall_{nr}"), nr, DenialRule::Profile));
    }
    d.record(&denial("ptrace", 101, DenialRule::Hardening));
    let e = d.entries();
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].name, UNKNOWN);
    assert_eq!(e[0].count, 20_000);
    assert_eq!(
        e[0].examples,
        (1000..1000 + MAX_UNKNOWN_EXAMPLES as u32).collect::<Vec<_>>()
    );
    assert_eq!((e[1].name.as_str(), e[1].count), ("ptrace", 1));
    assert_eq!((d.others(), d.total()), (0, 20_001));
    let line = d.summary_line().unwrap();
    assert!(line.len() < 400, "{line}");
    assert!(
        line.starts_with("tooljail: denied syscalls: unknown(x86_64) x20000 (nr 1000, 1001, "),
        "{line}"
    );
    assert!(line.contains("ptrace(x86_64) x1"), "{line}");
    // Per architecture: aarch64's unknown numbers are another entry.
    let mut a = denial("syscall_5000", 5000, DenialRule::Profile);
    a.arch = "aarch64".into();
    d.record(&a);
    assert_eq!(d.entries().len(), 3);
}

#[test]
fn distinct_entries_are_capped_and_the_totals_stay_exact() {
    let arch = Arch::X86_64;
    let names: Vec<(u32, &str)> = (0..=arch.max_nr())
        .filter_map(|nr| arch.name_of(nr).map(|n| (nr, n)))
        .take(MAX_ENTRIES + 30)
        .collect();
    assert_eq!(names.len(), MAX_ENTRIES + 30);
    let mut d = Denials::default();
    for _ in 0..3 {
        for (nr, name) in &names {
            d.record(&denial(name, *nr, DenialRule::Profile));
        }
    }
    assert_eq!(d.entries().len(), MAX_ENTRIES);
    assert!(d.entries().iter().all(|e| e.count == 3));
    assert_eq!(d.others(), 30 * 3);
    assert_eq!(d.total(), 3 * names.len() as u64);
    // The report form ends with the honest remainder.
    let json: serde_json::Value = serde_json::to_value(&d).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), MAX_ENTRIES + 1);
    assert_eq!(list[MAX_ENTRIES]["name"], OTHERS);
    assert_eq!(list[MAX_ENTRIES]["count"], 90);
    let sum: u64 = list.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, d.total());
    // The stderr line names a few and sums the rest.
    let line = d.summary_line().unwrap();
    assert!(line.len() < 400, "{} chars: {line}", line.len());
    let rest = d.total() - 8 * 3;
    assert!(
        line.contains(&format!("... and {rest} more denials")),
        "{line}"
    );
    // Without the cap being hit there is no (others) entry.
    let mut small = Denials::default();
    small.record(&denial("ptrace", 101, DenialRule::Hardening));
    let json = serde_json::to_string(&small).unwrap();
    assert!(
        !json.contains(OTHERS) && !json.contains("examples"),
        "{json}"
    );
}
