//! The audit log's hash chain: every record tooljail appends carries, in a `chain` field put
//! first on its line, its sequence number in the log and the SHA-256 of the line before it (of
//! its bytes, the newline excluded; 64 zeros for the first line of a log):
//!
//! ```text
//! {"chain":{"seq":7,"prev":"9f86d0…"},"schema":"tooljail.report/1",…}
//! ```
//!
//! [`verify`] walks a log and names the first record that was removed, changed or inserted: a
//! gap in the sequence is a removal, a link that names an earlier line than the one before it
//! is an insertion of the lines between, a link that no longer matches the line before it (the
//! sequence unbroken) is a change of that line. Lines without a `chain` field before the first
//! chained record are records of a tooljail that did not chain (still read by `tooljail audit`,
//! counted, not verifiable); one after it is an insertion.
//!
//! What the chain cannot show, from the log alone: the removal or change of the last records
//! (nothing follows them), and a rewrite of everything from the change to the end (there is no
//! key). [`Verified::head`] is the anchor for both: kept elsewhere, the last record's hash shows
//! later that the log still holds it and everything before it.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, BufRead};

/// The `prev` of a log's first line.
pub const GENESIS: [u8; 32] = [0; 32];

/// One record's place in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub seq: u64,
    pub prev: [u8; 32],
}

#[derive(Deserialize)]
struct RawLink {
    seq: u64,
    prev: String,
}

#[derive(Deserialize)]
struct ChainField {
    chain: Option<RawLink>,
}

/// SHA-256 of a line (without its newline).
pub fn hash(line: &[u8]) -> [u8; 32] {
    Sha256::digest(line).into()
}

pub fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The link a line carries, if it is a chained record.
pub fn link_of(line: &[u8]) -> Option<Link> {
    let raw = serde_json::from_slice::<ChainField>(line).ok()?.chain?;
    Some(Link {
        seq: raw.seq,
        prev: unhex(&raw.prev)?,
    })
}

/// The link of a record appended after `last` (the log's last line, `None` when it is empty):
/// the next number after a chained record, 1 after anything else.
pub fn next_link(last: Option<&[u8]>) -> Link {
    match last {
        None => Link {
            seq: 1,
            prev: GENESIS,
        },
        Some(line) => Link {
            seq: link_of(line).map_or(1, |l| l.seq.saturating_add(1)),
            prev: hash(line),
        },
    }
}

/// `body` (a JSON object, as serde writes a report) with `"chain":{…}` as its first member.
pub fn splice(link: &Link, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "{{\"chain\":{{\"seq\":{},\"prev\":\"{}\"}}",
        link.seq,
        hex(&link.prev)
    );
    let rest = body.strip_prefix(b"{").unwrap_or(body);
    let mut line = head.into_bytes();
    if rest != b"}" {
        line.push(b',');
    }
    line.extend_from_slice(rest);
    line
}

/// A log whose chain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Chained records.
    pub records: u64,
    /// Records before the first chained one, written by a tooljail that did not chain.
    pub unchained: u64,
    /// The last record's number and hash.
    pub head: Option<(u64, [u8; 32])>,
}

/// The first place where the chain breaks: a 1-based line number and what happened there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub line: usize,
    pub what: String,
}

/// One non-blank line of a log as [`verify`] sees it.
struct Entry {
    /// 1-based line number.
    n: usize,
    hash: [u8; 32],
    link: Option<Link>,
}

/// Walk the log's lines (blank ones skipped) and check every link.
pub fn verify(reader: impl BufRead) -> io::Result<Result<Verified, Break>> {
    let mut entries = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        if !line.iter().all(u8::is_ascii_whitespace) {
            entries.push(Entry {
                n: i + 1,
                hash: hash(&line),
                link: link_of(&line),
            });
        }
    }
    let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
    let mut out = Verified {
        records: 0,
        unchained: 0,
        head: None,
    };
    for (i, e) in entries.iter().enumerate() {
        let before = i.checked_sub(1).map(|b| &entries[b]);
        let want = Link {
            seq: out.head.map_or(1, |(s, _)| s.saturating_add(1)),
            prev: before.map_or(GENESIS, |b| b.hash),
        };
        match e.link {
            None if out.head.is_none() => out.unchained += 1,
            Some(link) if link == want => {
                out.records += 1;
                out.head = Some((link.seq, e.hash));
            }
            link => return Ok(Err(diagnose(&entries, i, link, want, &seen, &out))),
        }
        seen.insert(e.hash, e.n);
    }
    Ok(Ok(out))
}

/// What broke at `entries[i]`, whose `link` is not `want` (what follows the line before it).
fn diagnose(
    entries: &[Entry],
    i: usize,
    link: Option<Link>,
    want: Link,
    seen: &HashMap<[u8; 32], usize>,
    out: &Verified,
) -> Break {
    let n = entries[i].n;
    let prev_line = i.checked_sub(1).map_or(0, |b| entries[b].n);
    let range = |first: usize, last: usize, what: &str| Break {
        line: first,
        what: if first == last {
            format!("line {first} was inserted ({what})")
        } else {
            format!("lines {first} to {last} were inserted ({what})")
        },
    };
    // A later line follows the line before this one: everything from here to it was put in.
    if let Some(j) = entries[i + 1..].iter().position(|e| e.link == Some(want)) {
        let last = entries[i + j].n;
        let by = format!("line {} links to line {prev_line}", entries[i + j + 1].n);
        return range(n, last, &by);
    }
    let Some(link) = link else {
        return Break {
            line: n,
            what: format!(
                "line {n} carries no chain link after chained records: inserted (or written \
                 by a tooljail that does not chain)"
            ),
        };
    };
    // This line links to an earlier one: everything between that one and this was put in.
    let named = if link.prev == GENESIS {
        Some(0)
    } else {
        seen.get(&link.prev).copied()
    };
    if let Some(k) = named.filter(|k| *k < prev_line) {
        let by = format!("line {n} links to the record before");
        return range(k + 1, prev_line, &by);
    }
    if link.seq > want.seq {
        let gone = link.seq - want.seq;
        let at = if prev_line == 0 {
            "at the start of the log".to_string()
        } else {
            format!("between line {prev_line} and line {n}")
        };
        return Break {
            line: n,
            what: format!(
                "{gone} record{} removed {at} (record {} follows record {})",
                if gone == 1 { " was" } else { "s were" },
                link.seq,
                want.seq.saturating_sub(1)
            ),
        };
    }
    if link.seq == want.seq && out.head.is_some() {
        return Break {
            line: prev_line,
            what: format!(
                "line {prev_line} was changed (line {n}'s link no longer matches it, or line \
                 {n}'s own link was changed)"
            ),
        };
    }
    Break {
        line: n,
        what: format!(
            "line {n} does not follow the record before it (record {} where {} was due): \
             inserted or moved",
            link.seq, want.seq
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chained log of `n` records with bodies `{"n":i}`.
    fn log(n: u64) -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for i in 1..=n {
            let link = next_link(lines.last().map(Vec::as_slice));
            lines.push(splice(&link, format!("{{\"n\":{i}}}").as_bytes()));
        }
        lines
    }

    fn check(lines: &[Vec<u8>]) -> Result<Verified, Break> {
        let text: Vec<u8> = lines
            .iter()
            .flat_map(|l| [l.as_slice(), b"\n"].concat())
            .collect();
        verify(text.as_slice()).unwrap()
    }

    #[test]
    fn splice_puts_the_link_first_and_the_line_stays_json() {
        let l = splice(
            &Link {
                seq: 3,
                prev: [0xab; 32],
            },
            br#"{"a":1}"#,
        );
        let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(
            link_of(&l),
            Some(Link {
                seq: 3,
                prev: [0xab; 32]
            })
        );
        assert!(l.starts_with(br#"{"chain":{"seq":3,"prev":"abab"#));
    }

    #[test]
    fn a_whole_log_verifies() {
        let v = check(&log(5)).unwrap();
        assert_eq!(v.records, 5);
        assert_eq!(v.head.unwrap().0, 5);
        assert_eq!(check(&[]).unwrap().records, 0);
    }

    #[test]
    fn old_unchained_records_before_the_chain_are_counted() {
        let mut lines = vec![br#"{"old":1}"#.to_vec(), br#"{"old":2}"#.to_vec()];
        for i in 0..2 {
            let link = next_link(lines.last().map(Vec::as_slice));
            lines.push(splice(&link, format!("{{\"n\":{i}}}").as_bytes()));
        }
        let v = check(&lines).unwrap();
        assert_eq!((v.unchained, v.records), (2, 2));
        // An unchained line after the chain began is an insertion.
        lines.insert(3, br#"{"forged":1}"#.to_vec());
        assert_eq!(check(&lines).unwrap_err().line, 4);
    }

    #[test]
    fn a_removed_line_is_named() {
        for gone in 0..4 {
            let mut lines = log(5);
            lines.remove(gone);
            let b = check(&lines).unwrap_err();
            assert_eq!(b.line, gone + 1, "{b:?}");
            assert!(b.what.contains("1 record was removed"), "{b:?}");
        }
    }

    #[test]
    fn a_changed_line_is_named() {
        for changed in 0..4 {
            let mut lines = log(5);
            let s = String::from_utf8(lines[changed].clone()).unwrap();
            lines[changed] = s
                .replace(&format!("\"n\":{}", changed + 1), "\"n\":99")
                .into_bytes();
            let b = check(&lines).unwrap_err();
            assert_eq!(b.line, changed + 1, "{b:?}");
            assert!(b.what.contains("was changed"), "{b:?}");
        }
    }

    #[test]
    fn an_inserted_line_is_named_even_with_a_valid_looking_link() {
        for at in 1..5 {
            let mut lines = log(5);
            // A forger who links the new line correctly to the one before it.
            let link = next_link(Some(&lines[at - 1]));
            lines.insert(at, splice(&link, br#"{"forged":1}"#));
            let b = check(&lines).unwrap_err();
            assert_eq!(b.line, at + 1, "{b:?}");
            assert!(b.what.contains("inserted"), "{b:?}");
        }
        let mut lines = log(3);
        lines.insert(0, splice(&next_link(None), br#"{"forged":1}"#));
        assert_eq!(check(&lines).unwrap_err().line, 1);
        // A record replayed (copied) further down.
        for at in 1..5 {
            let mut lines = log(5);
            lines.insert(at, lines[0].clone());
            let b = check(&lines).unwrap_err();
            assert_eq!(b.line, at + 1, "{b:?}");
            assert!(b.what.contains("inserted"), "{b:?}");
        }
    }
}
