//! The jail's DNS answer (pure): a query for a name the rules allow gets the addresses the
//! proxy would connect to; any other name gets NXDOMAIN, and is reported. The resolver listens
//! on 127.0.0.1:53 inside the jail, where glibc looks when the profile binds no
//! /etc/resolv.conf. It answers A and AAAA (and, for an allowed name, an empty answer to any
//! other type); it never forwards a query, so nothing leaves the host by DNS.

/// A parsed question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// Lower case, without the trailing dot.
    pub name: String,
    pub qtype: u16,
    /// The question section as received (echoed in the answer).
    question: Vec<u8>,
    /// The recursion-desired bit.
    rd: bool,
}

pub const A: u16 = 1;
pub const AAAA: u16 = 28;
const NXDOMAIN: u8 = 3;
const FORMERR: u8 = 1;

/// Parse a standard query holding one question. `Err(Some(id))`: answer FORMERR; `Err(None)`:
/// drop it.
pub fn parse(msg: &[u8]) -> Result<Query, Option<u16>> {
    if msg.len() < 12 {
        return Err(None);
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let (flags, qd) = (msg[2], u16::from_be_bytes([msg[4], msg[5]]));
    if flags & 0x80 != 0 {
        return Err(None); // a response, not a query
    }
    if flags & 0x78 != 0 || qd != 1 {
        return Err(Some(id)); // not QUERY, or not one question
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(at).ok_or(Some(id))?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return Err(Some(id)); // compression in a question, or garbage
        }
        let label = msg.get(at..at + len).ok_or(Some(id))?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    let fixed = msg.get(at..at + 4).ok_or(Some(id))?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    Ok(Query {
        id,
        name: labels.join("."),
        qtype,
        question: msg[12..at + 4].to_vec(),
        rd: flags & 0x01 != 0,
    })
}

/// The answer to `q`: `Some(addrs)` for an allowed name (those of the asked type go in the
/// answer section), `None` for NXDOMAIN.
pub fn answer(q: &Query, addrs: Option<&[std::net::IpAddr]>) -> Vec<u8> {
    let rcode = if addrs.is_some() { 0 } else { NXDOMAIN };
    let records: Vec<Vec<u8>> = addrs
        .unwrap_or_default()
        .iter()
        .filter_map(|ip| match (ip, q.qtype) {
            (std::net::IpAddr::V4(a), A) => Some(a.octets().to_vec()),
            (std::net::IpAddr::V6(a), AAAA) => Some(a.octets().to_vec()),
            _ => None,
        })
        .collect();
    let mut out = header(q.id, q.rd, rcode, u16::try_from(records.len()).unwrap_or(0));
    out.extend_from_slice(&q.question);
    for data in records {
        out.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
        out.extend_from_slice(&q.qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // IN
        out.extend_from_slice(&60u32.to_be_bytes()); // TTL
        out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// FORMERR for a query the resolver does not read.
pub fn format_error(id: u16) -> Vec<u8> {
    let mut out = header(id, false, FORMERR, 0);
    out[5] = 0; // no question echoed
    out
}

fn header(id: u16, rd: bool, rcode: u8, answers: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(512);
    h.extend_from_slice(&id.to_be_bytes());
    h.push(0x84 | u8::from(rd)); // QR, AA, RD echoed
    h.push(0x80 | rcode); // RA
    h.extend_from_slice(&1u16.to_be_bytes()); // one question
    h.extend_from_slice(&answers.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            m.push(u8::try_from(label.len()).unwrap());
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    #[test]
    fn answers_allowed_names_and_refuses_others() {
        let q = parse(&query("PkG.test", A)).unwrap();
        assert_eq!((q.id, q.name.as_str(), q.qtype), (0x1234, "pkg.test", A));
        let ips = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        let a = answer(&q, Some(&ips));
        assert_eq!(&a[..4], &[0x12, 0x34, 0x85, 0x80]);
        assert_eq!(u16::from_be_bytes([a[6], a[7]]), 1, "one A record");
        assert_eq!(&a[a.len() - 4..], &[127, 0, 0, 1]);
        let q6 = parse(&query("pkg.test", AAAA)).unwrap();
        let a = answer(&q6, Some(&ips));
        assert_eq!(
            &a[a.len() - 16..],
            &"::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );
        let no = answer(&q, None);
        assert_eq!(no[3] & 0x0f, 3, "NXDOMAIN");
        assert_eq!(u16::from_be_bytes([no[6], no[7]]), 0);
        assert_eq!(parse(&[0; 5]), Err(None));
        let mut two = query("a.test", A);
        two[5] = 2;
        assert_eq!(parse(&two), Err(Some(0x1234)));
        let cut = query("a.test", A);
        assert_eq!(parse(&cut[..cut.len() - 2]), Err(Some(0x1234)));
    }
}
