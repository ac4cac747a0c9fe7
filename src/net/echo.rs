//! The byte streams the proxy relays without reading them as requests, searched (pure): for a
//! credential's placeholder going out to a host not listed for it ([`Watch`]), and for the real
//! value of a credential the proxy put in a request coming back ([`Echo`]).

use super::Secret;

/// The real values the proxy put in this connection's request, searched for in what the
/// server sends back: a server that echoes the request (TRACE, a debug page, an error quoting
/// its headers) would hand the command the secret. Bytes are held back while they could be
/// the start of a value; a whole value cuts the connection before it is sent on.
pub struct Echo<'a> {
    values: Vec<&'a Secret>,
    held: Vec<u8>,
    /// The credential whose value came back.
    pub found: Option<String>,
}

impl<'a> Echo<'a> {
    pub fn new(secrets: &'a [Secret], used: &[String]) -> Echo<'a> {
        Echo {
            values: secrets.iter().filter(|s| used.contains(&s.env)).collect(),
            held: Vec::new(),
            found: None,
        }
    }

    /// What of `bytes` (after what was held) may go to the client now; `None`: a value came
    /// back, nothing more goes.
    pub fn pass(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        if self.values.is_empty() {
            return Some(bytes.to_vec());
        }
        self.held.extend_from_slice(bytes);
        let mut longest = 0;
        for s in &self.values {
            let v = s.value.as_bytes();
            longest = longest.max(v.len());
            if self.held.windows(v.len()).any(|w| w == v) {
                self.found = Some(s.env.clone());
                return None;
            }
        }
        let keep = longest.saturating_sub(1).min(self.held.len());
        let cut = self.held.len() - keep;
        Some(self.held.drain(..cut).collect())
    }

    /// The bytes still held back, at the server's end of stream (no value among them).
    pub fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

/// The placeholders searched for in bytes the proxy forwards without reading them as a
/// request, across chunk boundaries.
pub struct Watch<'a> {
    /// The credentials not listed for this connection's host.
    secrets: Vec<&'a Secret>,
    /// The last bytes of what was scanned (a placeholder split across two reads).
    carry: Vec<u8>,
    found: Vec<bool>,
}

impl<'a> Watch<'a> {
    pub fn new(secrets: &'a [Secret], host: &str) -> Watch<'a> {
        let secrets: Vec<&Secret> = secrets
            .iter()
            .filter(|s| {
                !s.hosts
                    .iter()
                    .any(|h| crate::policy::domain_matches(h, host))
            })
            .collect();
        let found = vec![false; secrets.len()];
        Watch {
            secrets,
            carry: Vec::new(),
            found,
        }
    }

    pub fn scan(&mut self, bytes: &[u8]) {
        if self.secrets.is_empty() || bytes.is_empty() {
            return;
        }
        let mut hay = std::mem::take(&mut self.carry);
        hay.extend_from_slice(bytes);
        let mut longest = 0;
        for (i, s) in self.secrets.iter().enumerate() {
            let needle = s.placeholder.as_bytes();
            longest = longest.max(needle.len());
            if !self.found[i] && hay.windows(needle.len()).any(|w| w == needle) {
                self.found[i] = true;
            }
        }
        let keep = longest.saturating_sub(1).min(hay.len());
        self.carry = hay[hay.len() - keep..].to_vec();
    }

    pub fn found(&self) -> Vec<String> {
        self.secrets
            .iter()
            .zip(&self.found)
            .filter(|(_, f)| **f)
            .map(|(s, _)| s.env.clone())
            .collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// One credential, for the stream scans' tests and the proxy's.
    pub(in crate::net) fn secret() -> Secret {
        Secret {
            env: "TOKEN".into(),
            hosts: vec!["api.test".into()],
            header: "Authorization".into(),
            placeholder: "tooljail-placeholder-abc".into(),
            value: "real-secret".into(),
            terminate_tls: false,
        }
    }

    #[test]
    fn a_real_value_coming_back_is_never_passed_on_even_split_across_reads() {
        let secrets = [secret()];
        let used = ["TOKEN".to_string()];
        let mut e = Echo::new(&secrets, &used);
        let mut out = e.pass(b"HTTP/1.1 200 OK\r\n\r\nBearer real-se").unwrap();
        assert!(
            !String::from_utf8_lossy(&out).contains("real-se"),
            "held back"
        );
        assert_eq!(e.pass(b"cret and more"), None);
        assert_eq!(e.found.as_deref(), Some("TOKEN"));
        // Without the value, everything passes, the held tail at the end.
        let mut e = Echo::new(&secrets, &used);
        out = e.pass(b"hello real-").unwrap();
        out.extend(e.pass(b"world").unwrap());
        out.extend(e.rest());
        assert_eq!(out, b"hello real-world");
        // A connection that carried no credential is not searched.
        let mut e = Echo::new(&secrets, &[]);
        assert_eq!(e.pass(b"real-secret").unwrap(), b"real-secret");
    }

    #[test]
    fn placeholders_are_found_across_reads_for_unlisted_hosts_only() {
        let secrets = [secret()];
        let mut w = Watch::new(&secrets, "evil.test");
        w.scan(b"xx tooljail-place");
        assert!(w.found().is_empty());
        w.scan(b"holder-abc yy");
        assert_eq!(w.found(), ["TOKEN"]);
        let mut w = Watch::new(&secrets, "api.test");
        w.scan(b"tooljail-placeholder-abc");
        assert!(w.found().is_empty(), "the listed host is not elsewhere");
    }
}
