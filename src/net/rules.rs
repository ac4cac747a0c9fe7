//! What the proxy may connect to (pure): a name against `allow_domains`, a port against
//! `allow_ports`, and each address the name resolved to against the addresses a rule must name
//! (loopback, private, link-local and the like: DNS rebinding and SSRF go there).

use crate::policy::Egress;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why the proxy refused a connection, with the key that would allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The name matches no `allow_domains` entry.
    Domain,
    /// The port is not in `allow_ports`.
    Port,
    /// Every address the name resolved to is one only a rule may name (loopback, private,
    /// link-local, ...), and none does.
    Address,
    /// The TLS ClientHello names another server (SNI) than the CONNECT request.
    Sni,
    /// A plain HTTP request whose Host header names another server than its URL.
    HostMismatch,
    /// Not an HTTP proxy request the proxy understands.
    Malformed,
    /// A DNS question for something that is not a host name (a label with a character a name
    /// may not hold: a space, a control character, a dot inside a label).
    Name,
    /// A terminated connection's server presented a certificate that did not verify.
    UpstreamCertificate,
}

impl Refusal {
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::Domain => "allow_domains",
            Refusal::Port => "allow_ports",
            Refusal::Address => "address",
            Refusal::Sni => "sni",
            Refusal::HostMismatch => "host_header",
            Refusal::Malformed => "malformed",
            Refusal::Name => "name",
            Refusal::UpstreamCertificate => "upstream_certificate",
        }
    }

    /// What would allow the connection, in the profile's own terms.
    pub fn remedy(&self, host: &str, port: u16, address: Option<IpAddr>) -> String {
        match self {
            Refusal::Domain => format!(
                "add it: [network] allow_domains = [\"{host}\"] (or --allow-domain {host})"
            ),
            Refusal::Port => format!("add the port: [network] allow_ports = [{port}]"),
            Refusal::Address => match address {
                Some(a) => format!(
                    "it resolved to {a}, which only a rule may name: [network] hosts = {{ \"{host}\" = \"{a}\" }}"
                ),
                None => "its addresses are ones only a rule may name: [network] hosts".into(),
            },
            Refusal::Sni => "a tunnel must open with a TLS handshake naming the CONNECT host (not another name, none, an encrypted one, or another protocol); cannot be lifted".into(),
            Refusal::HostMismatch => {
                "the Host header must name the URL's host; cannot be lifted".into()
            }
            Refusal::Malformed => {
                "only HTTP proxy requests (CONNECT, or a URL with http://) pass; cannot be lifted"
                    .into()
            }
            Refusal::Name => {
                "only host names (letters, digits, '-' and '_' in dot-separated labels) are looked up; cannot be lifted".into()
            }
            Refusal::UpstreamCertificate => format!(
                "the certificate of {host} did not verify against the host's trust store; if a private CA signs it, name that CA's PEM file in [network] upstream_ca"
            ),
        }
    }
}

/// The allow_domains rule that lets the proxy reach `host:port`, or why not. `host` is a name
/// or an IP literal (without brackets); only a rule naming that literal allows an address.
pub fn judge_name<'e>(egress: &'e Egress, host: &str, port: u16) -> Result<&'e str, Refusal> {
    let rule = match host.parse::<IpAddr>() {
        Ok(ip) => egress
            .domains
            .iter()
            .find(|d| d.parse::<IpAddr>().ok() == Some(ip))
            .map(String::as_str),
        Err(_) => egress.domain_rule(host),
    };
    let rule = rule.ok_or(Refusal::Domain)?;
    if !egress.ports.contains(&port) {
        return Err(Refusal::Port);
    }
    Ok(rule)
}

/// Whether the proxy may connect to `ip` for the name `host`: a public address, or one a rule
/// names for it (the `hosts` entry of that name, or `host` is itself the allowed address). A
/// `hosts` entry pins one name: another name resolving to the same address is refused.
pub fn address_allowed(egress: &Egress, host: &str, ip: IpAddr) -> bool {
    if !needs_a_rule(ip) {
        return true;
    }
    let ip = canonical(ip);
    egress.hosts.get(host).is_some_and(|a| canonical(*a) == ip)
        || host.parse::<IpAddr>().ok().map(canonical) == Some(ip)
            && egress
                .domains
                .iter()
                .any(|d| d.parse::<IpAddr>().ok().map(canonical) == Some(ip))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Addresses that are not the public internet: this host, the local networks, and what
/// cannot be a destination at all. The proxy reaches them only when a rule names them.
pub fn needs_a_rule(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(a) => v4_special(a),
        IpAddr::V6(a) => v6_special(a),
    }
}

fn v4_special(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24, IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15, benchmarking
        || o[0] >= 240 // reserved
}

fn v6_special(a: Ipv6Addr) -> bool {
    let s = a.segments();
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 (may reach an IPv4 private address)
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || s[0] == 0x2002 // 6to4 (embeds an IPv4 address)
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)
    // IPv4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn egress(domains: &[&str], hosts: &[(&str, &str)]) -> Egress {
        Egress {
            domains: domains.iter().map(|s| s.to_string()).collect(),
            ports: vec![443],
            hosts: hosts
                .iter()
                .map(|(n, a)| (n.to_string(), a.parse().unwrap()))
                .collect::<BTreeMap<_, _>>(),
            credentials: Vec::new(),
            upstream_ca: Vec::new(),
        }
    }

    #[test]
    fn names_ports_and_literals() {
        let e = egress(&["pypi.org", "*.pythonhosted.org", "203.0.113.7"], &[]);
        assert_eq!(judge_name(&e, "PyPI.org", 443), Ok("pypi.org"));
        assert_eq!(
            judge_name(&e, "files.pythonhosted.org", 443),
            Ok("*.pythonhosted.org")
        );
        assert_eq!(judge_name(&e, "pypi.org", 80), Err(Refusal::Port));
        assert_eq!(judge_name(&e, "evil.org", 443), Err(Refusal::Domain));
        assert_eq!(judge_name(&e, "151.101.0.223", 443), Err(Refusal::Domain));
        assert_eq!(judge_name(&e, "203.0.113.7", 443), Ok("203.0.113.7"));
    }

    #[test]
    fn special_addresses_need_a_rule() {
        let e = egress(
            &["pypi.org", "pkg.test", "other.test", "10.9.8.7"],
            &[("pkg.test", "127.0.0.1")],
        );
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "127.0.0.2",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.2",
            "64:ff9b::a00:1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(
                !address_allowed(&e, "pypi.org", ip.parse().unwrap()),
                "{ip}"
            );
            assert!(
                !address_allowed(&e, "pkg.test", ip.parse().unwrap()),
                "{ip}"
            );
        }
        for ip in ["151.101.0.223", "2a04:4e42::223"] {
            assert!(address_allowed(&e, "pypi.org", ip.parse().unwrap()), "{ip}");
        }
        // The pinned name reaches its address; another name resolving there does not.
        assert!(address_allowed(
            &e,
            "pkg.test",
            "127.0.0.1".parse().unwrap()
        ));
        assert!(address_allowed(
            &e,
            "pkg.test",
            "::ffff:127.0.0.1".parse().unwrap()
        ));
        assert!(!address_allowed(
            &e,
            "other.test",
            "127.0.0.1".parse().unwrap()
        ));
        // An address rule allows that literal, not a name resolving to it.
        assert!(address_allowed(&e, "10.9.8.7", "10.9.8.7".parse().unwrap()));
        assert!(!address_allowed(
            &e,
            "other.test",
            "10.9.8.7".parse().unwrap()
        ));
    }
}
