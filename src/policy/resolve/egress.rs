//! `[network] allow_domains` and what goes with it (`allow_ports`, `hosts`, credentials, and
//! `--allow-domain`): the Policy's [`Egress`], checked entry by entry.

use super::*;

/// The ports the proxy may reach when no `allow_ports` is given.
const DEFAULT_PORTS: [u16; 2] = [80, 443];

impl Resolver<'_> {
    pub(super) fn egress(&mut self, m: &Merged, ov: &Overrides, mode: NetMode) -> Option<Egress> {
        let n = &m.layer.network;
        // `--net` on the command line replaces the profile's network, its domains included
        // (as it drops port rules); `--allow-domain` adds to whatever is left.
        let from_profile = ov.net.is_none();
        let mut domains = Vec::new();
        if from_profile {
            for item in &n.allow_domains {
                match domain_rule(&item.value) {
                    Ok(d) => domains.push(d),
                    Err(why) => {
                        let at = self.src.at(item);
                        self.err(
                            at,
                            format!("allow_domains entry {:?}: {why}", item.value),
                            DOMAIN_HINT,
                        );
                    }
                }
            }
        }
        for name in &ov.allow_domains {
            match domain_rule(name) {
                Ok(d) => domains.push(d),
                Err(why) => self.cli_err("--allow-domain", format!("{name:?}: {why}"), DOMAIN_HINT),
            }
        }
        domains.sort();
        domains.dedup();
        if domains.is_empty() {
            if from_profile {
                self.egress_keys_unused(m);
            }
            return None;
        }
        if mode == NetMode::Host {
            let message =
                "allow_domains needs the jail's private network, but the network mode is \"host\"";
            match n.allow_domains.first().filter(|_| from_profile) {
                Some(item) => {
                    let at = self.src.at(item);
                    self.err(
                        at,
                        message,
                        "remove mode = \"host\": with allow_domains the proxy is the only way out",
                    );
                }
                None => self.cli_err(
                    "--allow-domain",
                    message,
                    "add --net loopback (the proxy is then the only way out)",
                ),
            }
            return None;
        }
        let mut ports = Vec::new();
        for item in n.allow_ports.iter().filter(|_| from_profile) {
            match item.value {
                PortEntry::Port(0) => {
                    let at = self.src.at(item);
                    self.err(
                        at,
                        "port 0 in allow_ports",
                        "use a port between 1 and 65535",
                    );
                }
                PortEntry::Port(p) => ports.push(p),
                // Applied when the profiles were merged.
                PortEntry::Remove(_) => {}
            }
        }
        if ports.is_empty() {
            ports = DEFAULT_PORTS.to_vec();
        }
        ports.sort_unstable();
        ports.dedup();
        let mut hosts = BTreeMap::new();
        for (name, item) in n.hosts.iter().filter(|_| from_profile) {
            let at = self.src.at(item);
            match (domain_rule(name), item.value.parse::<std::net::IpAddr>()) {
                (Ok(d), Ok(ip)) if !d.starts_with("*.") => {
                    hosts.insert(d, ip);
                }
                (Ok(_), Ok(_)) => self.err(
                    at,
                    format!("hosts entry {name:?}: a pattern cannot be pinned to an address"),
                    "name one host, e.g. \"pkg.example\" = \"10.0.0.5\"",
                ),
                (Err(why), _) => self.err(at, format!("hosts entry {name:?}: {why}"), DOMAIN_HINT),
                (_, Err(_)) => self.err(
                    at,
                    format!(
                        "hosts entry {name:?}: {:?} is not an IP address",
                        item.value
                    ),
                    "write the address the name stands for, e.g. \"10.0.0.5\"",
                ),
            }
        }
        let mut credentials = Vec::new();
        for c in n.credential.iter().filter(|_| from_profile) {
            if let Some(cred) = self.credential(c, &domains) {
                credentials.push(cred);
            }
        }
        let mut upstream_ca = Vec::new();
        for item in n.upstream_ca.iter().filter(|_| from_profile) {
            let path = PathBuf::from(&item.value);
            if path.is_absolute() {
                upstream_ca.push(path);
            } else {
                let at = self.src.at(item);
                self.err(
                    at,
                    format!("upstream_ca {:?} is not an absolute path", item.value),
                    "write the full path of a PEM file of CA certificates",
                );
            }
        }
        upstream_ca.sort();
        upstream_ca.dedup();
        if !credentials.iter().any(|c| c.terminate_tls) {
            if let Some(item) = n.upstream_ca.first().filter(|_| from_profile) {
                let at = self.src.at(item);
                self.err(
                    at,
                    "upstream_ca has no effect without a credential with terminate_tls = true",
                    "remove upstream_ca: tunnelled HTTPS is verified by the command itself",
                );
            }
        }
        Some(Egress {
            domains,
            ports,
            hosts,
            credentials,
            upstream_ca,
        })
    }

    fn credential(
        &mut self,
        c: &crate::profile::schema::CredentialLayer,
        domains: &[String],
    ) -> Option<Credential> {
        let Some(env) = &c.env else {
            // A table with no `env` has nowhere to point: name it by its first key.
            let first = c.hosts.first().map(|i| self.src.at(i));
            if let Some(at) = first {
                self.err(
                    at,
                    "[[network.credential]] has no env",
                    "name the variable the command reads, e.g. env = \"GITHUB_TOKEN\"",
                );
            }
            return None;
        };
        let at = self.src.at(env);
        if env.value.is_empty() || env.value.contains('=') || env.value.contains('\0') {
            self.err(
                at,
                format!("credential env {:?} is not a variable name", env.value),
                "e.g. env = \"GITHUB_TOKEN\"",
            );
            return None;
        }
        if c.hosts.is_empty() {
            self.err(
                at,
                format!("credential {} lists no hosts", env.value),
                "add hosts = [\"api.example.com\"]: the proxy sends the real value only there",
            );
            return None;
        }
        let mut hosts = Vec::new();
        for h in &c.hosts {
            let hat = self.src.at(h);
            match domain_rule(&h.value) {
                Ok(d) if domains.iter().any(|r| domain_matches(r, &d) || *r == d) => hosts.push(d),
                Ok(d) => self.err(
                    hat,
                    format!("credential host {d:?} is not in allow_domains"),
                    format!(
                        "add {d:?} to [network] allow_domains, or remove it from the credential"
                    ),
                ),
                Err(why) => self.err(
                    hat,
                    format!("credential host {:?}: {why}", h.value),
                    DOMAIN_HINT,
                ),
            }
        }
        let source = match (&c.from_env, &c.from_file) {
            (Some(_), Some(f)) => {
                let fat = self.src.at(f);
                self.err(
                    fat,
                    "a credential takes from_env or from_file, not both",
                    "remove one of them",
                );
                return None;
            }
            (Some(e), None) => CredentialSource::Env(e.value.clone()),
            (None, Some(f)) => {
                let path = PathBuf::from(&f.value);
                if !path.is_absolute() {
                    let fat = self.src.at(f);
                    self.err(
                        fat,
                        format!("from_file {:?} is not an absolute path", f.value),
                        "write the full path of the file holding the value",
                    );
                    return None;
                }
                CredentialSource::File(path)
            }
            (None, None) => CredentialSource::Env(env.value.clone()),
        };
        let header = c
            .header
            .as_ref()
            .map_or_else(|| "Authorization".to_string(), |h| h.value.clone());
        if header.is_empty()
            || !header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            let hat = c.header.as_ref().map_or(at, |h| self.src.at(h));
            self.err(
                hat,
                format!("credential header {header:?} is not a header name"),
                "e.g. header = \"Authorization\"",
            );
            return None;
        }
        Some(Credential {
            env: env.value.clone(),
            hosts,
            header,
            source,
            terminate_tls: c.terminate_tls.as_ref().is_some_and(|t| t.value),
        })
    }

    /// `allow_ports`, `hosts` or a credential without `allow_domains` would be silently
    /// ignored: refuse them.
    fn egress_keys_unused(&mut self, m: &Merged) {
        let n = &m.layer.network;
        let first = n
            .allow_ports
            .first()
            .map(|i| self.src.at(i))
            .or_else(|| n.hosts.values().next().map(|i| self.src.at(i)))
            .or_else(|| n.upstream_ca.first().map(|i| self.src.at(i)))
            .or_else(|| {
                n.credential
                    .iter()
                    .find_map(|c| c.env.as_ref().map(|i| self.src.at(i)))
            });
        if let Some(at) = first {
            self.err(
                at,
                "this [network] key has no effect without allow_domains",
                "add the names the command may reach to [network] allow_domains, or remove the key",
            );
        }
    }
}

const DOMAIN_HINT: &str =
    "write a host name (\"pypi.org\"), \"*.\" and a suffix (\"*.pythonhosted.org\"), or an IP address";

/// One `allow_domains` entry, normalised (lower case, no trailing dot), or why it is no rule.
pub fn domain_rule(raw: &str) -> std::result::Result<String, String> {
    if let Ok(ip) = raw.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    let lower = raw.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    let body = name.strip_prefix("*.").unwrap_or(name);
    if body.is_empty() {
        return Err("it names no host".into());
    }
    if body.len() > 253 {
        return Err("it is longer than a host name may be (253)".into());
    }
    for label in body.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("it has an empty or over-long label".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("{label:?} is not a host name label (only letters, digits, '-' and '_'; a '*' only as the first label)"));
        }
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::domain_rule;
    use crate::policy::domain_matches;

    #[test]
    fn rules_normalise_and_refuse() {
        assert_eq!(domain_rule("PyPI.org.").unwrap(), "pypi.org");
        assert_eq!(
            domain_rule("*.pythonhosted.org").unwrap(),
            "*.pythonhosted.org"
        );
        assert_eq!(domain_rule("::1").unwrap(), "::1");
        for bad in ["", "*", "*.", "a..b", "a b", "*.*.x", "x.*", "a/b", "a:443"] {
            assert!(domain_rule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact_or_below_the_suffix() {
        assert!(domain_matches("pypi.org", "PYPI.org."));
        assert!(!domain_matches("pypi.org", "evil-pypi.org"));
        assert!(!domain_matches("pypi.org", "pypi.org.evil"));
        assert!(domain_matches("*.example.com", "a.example.com"));
        assert!(domain_matches("*.example.com", "a.b.example.com"));
        assert!(!domain_matches("*.example.com", "example.com"));
        assert!(!domain_matches("*.example.com", "badexample.com"));
        assert!(!domain_matches("*.example.com", ".example.com"));
    }
}
