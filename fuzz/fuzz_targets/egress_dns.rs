//! A datagram a jailed command sends the egress proxy's resolver (in the supervisor, on the
//! host), read as a DNS query: never a panic. A query read keeps its id and a lower-case name;
//! its answer carries the id and the question back as they came, and holds exactly one record
//! of the asked type when an address of that type is allowed (none for NXDOMAIN or another
//! type). A query not read is dropped or answered FORMERR with its id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use tooljail::net::dns;

fuzz_target!(|data: &[u8]| {
    let q = match dns::parse(data) {
        Ok(q) => q,
        Err(None) => return,
        Err(Some(id)) => {
            let e = dns::format_error(id);
            assert_eq!(e[..2], id.to_be_bytes());
            assert_eq!(e.len(), 12);
            return;
        }
    };
    assert_eq!(data[..2], q.id.to_be_bytes());
    assert_eq!(q.name, q.name.to_ascii_lowercase());
    let addrs: [IpAddr; 2] = ["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
    for allowed in [None, Some(&addrs[..])] {
        let a = dns::answer(&q, allowed);
        assert_eq!(a[..2], data[..2], "the id");
        assert!(a[2] & 0x80 != 0, "a response");
        let records = u16::from_be_bytes([a[6], a[7]]);
        let record_len = match (allowed, q.qtype) {
            (Some(_), dns::A) => 16,
            (Some(_), dns::AAAA) => 28,
            _ => 0,
        };
        assert_eq!(usize::from(records), usize::from(record_len > 0));
        let question = a.len() - 12 - record_len;
        assert!(question >= 5 && 12 + question <= data.len(), "{question}");
        assert_eq!(a[12..12 + question], data[12..12 + question], "the question");
        assert_eq!(a[3] & 15, if allowed.is_some() { 0 } else { 3 });
    }
});
