//! The Policy's network: the mode, Landlock's TCP ports, and egress by domain through the
//! supervisor's proxy with its credentials (docs/network.md).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub mode: NetMode,
    /// TCP ports the command may connect to (host mode only; enforced by Landlock ABI 4).
    pub tcp_connect: Vec<u16>,
    /// TCP ports the command may bind (host mode only; enforced by Landlock ABI 4).
    pub tcp_bind: Vec<u16>,
    /// `allow_domains` and what goes with it: the jail's private namespace gets a proxy that
    /// the supervisor runs for the call (src/net/). None: no proxy, no cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
}

/// The port of the egress proxy on 127.0.0.1 inside the jail's network namespace (a fresh
/// namespace, so nothing else holds it).
pub const PROXY_PORT: u16 = 3128;

/// What the Policy holds for a credential's variable; the egress stage puts a fresh random
/// placeholder there for each call.
pub const CREDENTIAL_PLACEHOLDER: &str = "<placeholder, drawn for each call>";

/// The variables that point a tool at the egress proxy, in both spellings tools read.
pub fn proxy_env() -> Vec<(String, String)> {
    let url = format!("http://127.0.0.1:{PROXY_PORT}");
    let mut out = Vec::new();
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        out.push((name.to_string(), url.clone()));
        out.push((name.to_ascii_lowercase(), url.clone()));
    }
    for name in ["NO_PROXY", "no_proxy"] {
        out.push((name.to_string(), "localhost,127.0.0.1,::1".to_string()));
    }
    out
}

/// Egress by domain through the supervisor's proxy (docs/network.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// Names the proxy may connect to: exact (`pypi.org`), `*.suffix` (any name below the
    /// suffix, not the suffix itself), or an IP address (the only way a raw address is
    /// allowed). Lower case, sorted, deduplicated.
    pub domains: Vec<String>,
    /// Ports the proxy may connect to (default 80 and 443).
    pub ports: Vec<u16>,
    /// Names pinned to an address (`[network] hosts`): not looked up; the address counts as
    /// named by a rule, so it may be loopback or private.
    pub hosts: std::collections::BTreeMap<String, std::net::IpAddr>,
    /// Credentials the command sees only as a placeholder.
    pub credentials: Vec<Credential>,
    /// `upstream_ca`: CA certificates (PEM files) trusted, besides the host's trust store, for
    /// the servers of connections the proxy terminates. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_ca: Vec<PathBuf>,
}

/// `[[network.credential]]`: the command's `env` holds a random placeholder; the proxy puts the
/// real value in place of it in the `header` of requests to `hosts` (plain HTTP: the proxy
/// reads those requests; HTTPS is tunnelled, never read, unless `terminate_tls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub env: String,
    pub hosts: Vec<String>,
    pub header: String,
    pub source: CredentialSource,
    /// `terminate_tls = true`: the proxy terminates TLS for CONNECTs to `hosts` (with a
    /// per-call CA that only the jail trusts) so it can substitute over HTTPS too. Left out
    /// when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminate_tls: bool,
}

/// Where the real value of a credential is read, by the caller, when the call starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// The caller's environment variable.
    Env(String),
    /// A file the caller can read (one trailing newline is dropped).
    File(PathBuf),
}

impl Egress {
    /// The rule of `domains` that allows `name` (lower case), if any.
    pub fn domain_rule(&self, name: &str) -> Option<&str> {
        self.domains
            .iter()
            .find(|d| domain_matches(d, name))
            .map(String::as_str)
    }
}

/// Whether the rule `rule` (`name`, `*.suffix` or an address) allows `name`: exact, or below
/// the suffix by at least one label. Case-insensitive; a trailing dot is ignored.
pub fn domain_matches(rule: &str, name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    match rule.strip_prefix("*.") {
        Some(suffix) => name
            .strip_suffix(suffix)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => name == rule,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetMode {
    /// A private network namespace holding only `lo` (up): nothing outside is reachable.
    None,
    /// The same private namespace; says that the tool talks to servers it starts itself.
    Loopback,
    /// The host's network namespace, with TCP ports limited by Landlock.
    Host,
}
