//! The jail's resolver: a proxy thread that answers the command's DNS queries from the rules
//! (on the UDP socket pid 1 made on 127.0.0.1:53), and where a host is for the proxy itself.

use super::{fail, note, ready, record, refuse, MAX_RECORDED};
use crate::net::rules::{self, Refusal};
use crate::net::{dns, http, Account, Connection, Egress};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;

/// The jail's resolver: answer each query from the rules (see [`super::dns`]); each name is
/// reported once, as allowed or refused.
pub(super) fn resolve_loop(
    sock: &UdpSocket,
    egress: &Egress,
    stop: BorrowedFd<'_>,
    account: &Mutex<Account>,
) {
    let mut seen = BTreeSet::new();
    let mut buf = [0u8; 1500];
    loop {
        let mut set = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop, PollFlags::POLLIN),
        ];
        match poll(&mut set, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
            Ok(_) if ready(&set[1]) => return,
            Ok(_) => {}
        }
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let q = match dns::parse(&buf[..n]) {
            Ok(q) => q,
            Err(Some(id)) => {
                let _ = sock.send_to(&dns::format_error(id), from);
                continue;
            }
            Err(None) => continue,
        };
        let mut c = record(&q.name, 53, "dns");
        // Only a host name, in the one spelling every check and lookup uses, is judged and
        // looked up: a question holding anything else (a space, an escape, a line break) goes
        // neither to the rules nor to the host's resolver.
        let Some(name) = http::host_name(&q.name) else {
            c = refuse(c, &Refusal::Name, None);
            let _ = sock.send_to(&dns::answer(&q, None), from);
            note_once(account, &mut seen, &q.name, c);
            continue;
        };
        let rule = egress
            .rules
            .domain_rule(&name)
            .filter(|_| name.parse::<IpAddr>().is_err());
        let addrs = match rule.map(|r| (r, resolve(egress, &name, 0))) {
            None => {
                c = refuse(c, &Refusal::Domain, None);
                None
            }
            Some((_, Err(e))) => {
                c = fail(c, e);
                None
            }
            Some((rule, Ok(all))) => {
                c.rule = rule.to_string();
                let ok: Vec<IpAddr> = all
                    .iter()
                    .map(SocketAddr::ip)
                    .filter(|ip| rules::address_allowed(&egress.rules, &name, *ip))
                    .collect();
                if ok.is_empty() {
                    c = refuse(c, &Refusal::Address, all.first().map(SocketAddr::ip));
                    None
                } else {
                    c.address = ok.first().map(ToString::to_string);
                    Some(ok)
                }
            }
        };
        let _ = sock.send_to(&dns::answer(&q, addrs.as_deref()), from);
        note_once(account, &mut seen, &q.name, c);
    }
}

/// Each name once; past the report's list only counted, so a command asking for endless
/// random names cannot grow the supervisor's memory.
fn note_once(
    account: &Mutex<Account>,
    seen: &mut BTreeSet<(String, &'static str)>,
    name: &str,
    c: Connection,
) {
    if seen.len() >= MAX_RECORDED {
        let mut a = account.lock().unwrap_or_else(|p| p.into_inner());
        a.unlisted += 1;
    } else if seen.insert((name.to_string(), c.verdict)) {
        note(account, c);
    }
}

/// Where `host` is: its `hosts` entry, the literal address, or the host's resolver.
pub(super) fn resolve(egress: &Egress, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Some(ip) = egress.rules.hosts.get(host) {
        return Ok(vec![SocketAddr::new(*ip, port)]);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| format!("resolve {host}: {e}"))
}
