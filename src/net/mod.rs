//! Egress by domain: the stage between `plan`'s inputs and the launch when the Policy has
//! `[network] allow_domains` (`policy::Egress`). Without it nothing here runs: no socket, no
//! thread, no environment variable.
//!
//! The jail keeps its private network namespace (only `lo`), so nothing inside has a route
//! out. Pid 1 makes a listening TCP socket on 127.0.0.1:[`PROXY_PORT`] in that namespace and
//! hands it to the supervisor ([`crate::jail`]); a supervisor thread ([`proxy`]) accepts on it
//! and connects out from the host's network, only to what the rules allow ([`rules`]): the
//! CONNECT host (checked against the TLS server name of the client's first bytes, [`tls`]) or a
//! plain request's URL host ([`http`]), on an allowed port, at an address that is public or
//! named by a rule (checked after resolution: DNS rebinding). Every connection, allowed or
//! refused, is one [`Connection`] in the report.
//!
//! Credentials (`[[network.credential]]`): the command's variable holds a random placeholder;
//! the real value, read here from the caller's environment or file before the jail exists, is
//! held only by the supervisor, which puts it in place of the placeholder in the named header
//! of plain HTTP requests to the credential's hosts. HTTPS is tunnelled and never decrypted
//! here, so no substitution happens in it, unless a credential has `terminate_tls = true`:
//! then, for its hosts only, the proxy terminates TLS with a per-call CA the command is told
//! to trust ([`terminate`]; docs/network.md says what that means).

pub mod dns;
mod echo;
pub mod http;
mod proxy;
pub mod rules;
pub mod terminate;
pub mod tls;

pub use proxy::Proxy;

use crate::error::{Error, Result};
use crate::policy::{CredentialSource, Policy};
use serde::Serialize;

/// A credential as the proxy holds it: the placeholder the command sees and the real value.
pub struct Secret {
    pub env: String,
    pub hosts: Vec<String>,
    pub header: String,
    pub placeholder: String,
    /// `terminate_tls`: HTTPS to `hosts` is terminated so the value can be put in it.
    pub terminate_tls: bool,
    value: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("env", &self.env)
            .field("hosts", &self.hosts)
            .field("header", &self.header)
            .field("placeholder", &self.placeholder)
            .finish_non_exhaustive()
    }
}

/// What the proxy needs for one call: the rules and the credentials.
#[derive(Debug)]
pub struct Egress {
    pub rules: crate::policy::Egress,
    pub secrets: Vec<Secret>,
    /// Only when a credential has `terminate_tls`: the per-call CA, and where in the jail the
    /// command finds the bundle it trusts.
    pub terminator: Option<(terminate::Terminator, std::path::PathBuf)>,
}

impl Egress {
    /// Whether a CONNECT to `host` is terminated: a credential with `terminate_tls` lists it.
    pub fn terminates(&self, host: &str) -> bool {
        self.terminator.is_some()
            && self.secrets.iter().any(|s| {
                s.terminate_tls
                    && s.hosts
                        .iter()
                        .any(|h| crate::policy::domain_matches(h, host))
            })
    }

    /// The trust bundle pid 1 writes into the scratch, and where.
    pub fn bundle(&self) -> Option<(&std::path::Path, &str)> {
        self.terminator
            .as_ref()
            .map(|(t, at)| (at.as_path(), t.bundle.as_str()))
    }
}

/// One connection the command asked the proxy for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// The name (or address) the request named, lower case.
    pub host: String,
    pub port: u16,
    /// `connect` (a tunnel) or `http` (a plain request the proxy forwarded).
    pub kind: &'static str,
    /// The address the proxy connected to (or that a rule refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `allowed`, `refused` (by `rule`), or `failed` (allowed, but the name did not resolve or
    /// the server did not answer: `error` says which).
    pub verdict: &'static str,
    /// Allowed: the `allow_domains` entry that matched. Refused: the key that refused it
    /// (`allow_domains`, `allow_ports`, `address`, `sni`, `host_header`, `malformed`, `name`,
    /// `upstream_certificate`).
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Refused: what would allow it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// Bytes from the command to the server, and back (request heads as the proxy sent them).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Credentials whose real value the proxy put in this request (by variable name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<String>,
    /// Credentials whose placeholder this request carried to a host not listed for them: sent
    /// as the placeholder.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placeholders_elsewhere: Vec<String>,
    /// A CONNECT the proxy terminated (`terminate_tls`): it read the request in plaintext.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_terminated: bool,
}

/// Everything the proxy saw, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub connections: Vec<Connection>,
    /// Connections past [`proxy::MAX_RECORDED`], counted but not listed.
    pub unlisted: u64,
    /// The proxy could not start (the listening socket never arrived): why.
    pub failure: Option<String>,
}

/// The stage: for a Policy with egress rules, read each credential's real value (as the
/// caller, before anything of the jail exists), give the command a fresh placeholder in its
/// place (resolution already set the proxy variables), and return what the proxy needs.
/// `Ok(None)` without `allow_domains`.
pub fn prepare(policy: &mut Policy) -> Result<Option<Egress>> {
    let Some(rules) = policy.network.egress.clone() else {
        return Ok(None);
    };
    let mut secrets = Vec::new();
    for c in &rules.credentials {
        if let CredentialSource::File(path) = &c.source {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            if let Some(b) = policy
                .filesystem
                .binds
                .iter()
                .find(|b| canonical.starts_with(&b.source))
            {
                return Err(Error::usage(format!(
                    "credential {}: its file {} lies in {}, which the jail sees ({})",
                    c.env,
                    path.display(),
                    b.source.display(),
                    b.origin
                ))
                .with_hint("keep the credential's file outside every bind of the profile"));
            }
        }
        let value = read_value(&c.env, &c.source)?;
        // The real value must reach the jail by no other way: a kept variable, a `set` that
        // expands the source variable.
        if let Some((var, _)) = policy
            .env
            .iter()
            .find(|(k, v)| **k != c.env && v.contains(&value))
        {
            return Err(Error::usage(format!(
                "credential {}: its real value is also in the command's environment, as {var}",
                c.env
            ))
            .with_hint(format!(
                "do not keep or set {var} from the credential's source ([env] keep, set, \
                 --keep-env)"
            )));
        }
        let placeholder = placeholder()?;
        policy.env.insert(c.env.clone(), placeholder.clone());
        secrets.push(Secret {
            env: c.env.clone(),
            hosts: c.hosts.clone(),
            header: c.header.clone(),
            placeholder,
            terminate_tls: c.terminate_tls,
            value,
        });
    }
    let hosts: Vec<String> = rules
        .credentials
        .iter()
        .filter(|c| c.terminate_tls)
        .flat_map(|c| c.hosts.iter().cloned())
        .collect();
    // No credential terminates: no CA, no bundle, nothing read.
    let terminator = if hosts.is_empty() {
        None
    } else {
        let t = terminate::Terminator::new(&hosts, &rules.upstream_ca)?;
        let scratch = &policy.filesystem.scratch;
        let at = if scratch.tmp {
            std::path::PathBuf::from("/tmp")
        } else {
            scratch.path.clone()
        }
        .join(terminate::BUNDLE_NAME);
        for var in terminate::BUNDLE_ENV {
            policy.env.insert(var.to_string(), at.display().to_string());
        }
        Some((t, at))
    };
    Ok(Some(Egress {
        rules,
        secrets,
        terminator,
    }))
}

fn read_value(env: &str, source: &CredentialSource) -> Result<String> {
    let (value, from) = match source {
        CredentialSource::Env(var) => (
            std::env::var(var).map_err(|_| {
                Error::usage(format!(
                    "credential {env}: the caller's environment has no {var} (or it is not UTF-8)"
                ))
                .with_hint(format!(
                    "export {var} before the call, or remove the credential"
                ))
            })?,
            format!("${var}"),
        ),
        CredentialSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::usage(format!(
                    "credential {env}: cannot read {}: {e}",
                    path.display()
                ))
                .with_hint("give a file the caller can read, holding the value")
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            (text.to_string(), path.display().to_string())
        }
    };
    if value.is_empty() || value.bytes().any(|b| b.is_ascii_control()) {
        return Err(Error::usage(format!(
            "credential {env}: the value in {from} is empty or holds control characters (a header value cannot)"
        ))
        .with_hint("store the bare token, on one line"));
    }
    Ok(value)
}

/// A fresh random placeholder (128 bits from the kernel), recognisable in a report.
fn placeholder() -> Result<String> {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::setup("draw a credential placeholder", &e))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("tooljail-placeholder-{hex}"))
}
