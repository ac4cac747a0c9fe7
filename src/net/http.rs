//! The HTTP the proxy reads (pure): a request head, the target it names (CONNECT's authority,
//! or a plain request's absolute URL), and the head rewritten for the origin server.

/// Longest request head the proxy reads.
pub const MAX_HEAD: usize = 64 << 10;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The target as written (an authority for CONNECT, an absolute URL otherwise).
    pub target: String,
    pub version: String,
    /// (name, value) in order, values without surrounding whitespace.
    pub headers: Vec<(String, String)>,
}

/// What a request asks the proxy to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Lower case; an IPv6 literal without its brackets.
    pub host: String,
    pub port: u16,
    /// For a plain request: the path and query to send the origin (origin-form).
    pub path: Option<String>,
}

/// The end of the head (the offset after the blank line), if `buf` holds one.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parse a request head (ending with the blank line). Strict, because the origin server reads
/// the same bytes and must not see another request than the one the rules judged: a control
/// character anywhere (a bare LF or CR, NUL; only a tab is allowed in a value), a folded
/// header line, a second `Host`, or both `Transfer-Encoding` and `Content-Length` refuse it.
pub fn parse(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let body = text.strip_suffix("\r\n\r\n")?;
    if body
        .split("\r\n")
        .any(|l| l.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f))
    {
        return None;
    }
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    if first.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        // A name with whitespace, or a line starting with it (obsolete folding), is refused.
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let count = |n: &str| {
        headers
            .iter()
            .filter(|(h, _)| h.eq_ignore_ascii_case(n))
            .count()
    };
    if count("host") > 1 || count("transfer-encoding") > 0 && count("content-length") > 0 {
        return None;
    }
    Some(Head {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
    })
}

impl Head {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What the request asks for: CONNECT's `host:port`, or the host of an `http://` URL
    /// (port 80 unless given). `None`: not a proxy request (an origin-form path, https://
    /// without CONNECT, another scheme).
    pub fn target(&self) -> Option<Target> {
        if self.method == "CONNECT" {
            let (host, port) = authority(&self.target, None)?;
            return Some(Target {
                host,
                port,
                path: None,
            });
        }
        let rest = strip_prefix_ignore_case(&self.target, "http://")?;
        let (auth, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path
        };
        if auth.contains('@') {
            return None; // userinfo in a proxy URL: refuse rather than guess
        }
        let (host, port) = authority(auth, Some(80))?;
        Some(Target {
            host,
            port,
            path: Some(path),
        })
    }

    /// The head to send the origin for a plain request: origin-form target, `Host` made from
    /// the judged target (never the client's), no proxy headers, `Connection: close` (one
    /// request per connection, so every request passes the rules).
    /// `default_port`: the scheme's (80 for http, 443 inside a terminated TLS connection), left
    /// out of `Host`.
    pub fn for_origin(&self, target: &Target, default_port: u16) -> Vec<u8> {
        let path = target.path.as_deref().unwrap_or("/");
        let mut out = format!("{} {} {}\r\n", self.method, path, self.version);
        let host = match target.host.parse::<std::net::Ipv6Addr>() {
            Ok(_) => format!("[{}]", target.host),
            Err(_) => target.host.clone(),
        };
        if target.port == default_port {
            out.push_str(&format!("Host: {host}\r\n"));
        } else {
            out.push_str(&format!("Host: {host}:{}\r\n", target.port));
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("proxy-")
                || lower == "connection"
                || lower == "keep-alive"
                || lower == "host"
            {
                continue;
            }
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `host[:port]` or `[v6]:port`; `default` when no port is written (CONNECT needs one).
pub fn authority(auth: &str, default: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = auth.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (h.to_string(), port)
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (auth.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default?,
    };
    Some((host_name(&host)?, port))
}

/// The one spelling of a request's host that every check, lookup and substitution uses: an
/// address as the standard library writes it, or a host name in lower case without its
/// trailing dot, with only the characters a name may hold (the same grammar as the rules).
/// `None` for anything else (`*`, `%`, spaces, non-ASCII, an empty label).
pub fn host_name(raw: &str) -> Option<String> {
    if let Ok(ip) = raw.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    if raw.starts_with('*') || raw.contains(':') {
        return None;
    }
    crate::policy::resolve::domain_rule(raw).ok()
}

/// A short response the proxy gives itself.
pub fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn connect_and_absolute_targets() {
        let h = head("CONNECT PyPI.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n");
        let t = h.target().unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path), ("pypi.org", 443, None));
        let h = head("GET http://a.test:8080/x?y HTTP/1.1\r\nHost: a.test:8080\r\n\r\n");
        let t = h.target().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_deref()),
            ("a.test", 8080, Some("/x?y"))
        );
        let t = head("GET http://a.test HTTP/1.0\r\n\r\n").target().unwrap();
        assert_eq!((t.port, t.path.as_deref()), (80, Some("/")));
        let t = head("CONNECT [::1]:22 HTTP/1.1\r\n\r\n").target().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 22));
        for bad in [
            "GET /x HTTP/1.1\r\n\r\n",
            "GET https://a.test/ HTTP/1.1\r\n\r\n",
            "CONNECT a.test HTTP/1.1\r\n\r\n",
            "CONNECT a.test:0 HTTP/1.1\r\n\r\n",
            "GET http://u:p@a.test/ HTTP/1.1\r\n\r\n",
            "GET ftp://a.test/ HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(head(bad).target(), None, "{bad}");
        }
        assert!(parse(b"GET / SPDY\r\n\r\n").is_none());
        assert!(parse(b"GET http://a/ HTTP/1.1\r\nBad Header: x\r\n\r\n").is_none());
    }

    #[test]
    fn origin_head_drops_proxy_headers_and_takes_host_from_the_target() {
        let h = head("GET http://A.test./p HTTP/1.1\r\nhost: a.test\r\nProxy-Authorization: x\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n");
        assert_eq!(
            String::from_utf8(h.for_origin(&h.target().unwrap(), 80)).unwrap(),
            "GET /p HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let h = head("GET http://[::1]:8080/ HTTP/1.1\r\n\r\n");
        assert!(String::from_utf8(h.for_origin(&h.target().unwrap(), 80))
            .unwrap()
            .contains("\r\nHost: [::1]:8080\r\n"));
    }

    #[test]
    fn a_head_the_origin_could_read_otherwise_is_refused() {
        for bad in [
            "GET http://a.test/ HTTP/1.1\r\nX: a\nHost: evil.test\r\n\r\n",
            "GET http://a.test/ HTTP/1.1\r\nX: a\rHost: evil.test\r\n\r\n",
            "GET http://a.test/ HTTP/1.1\r\nX: a\0b\r\n\r\n",
            "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nHost: evil.test\r\n\r\n",
            "GET http://a.test/ HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            "POST http://a.test/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET http://a.test/\x1b HTTP/1.1\r\n\r\n",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(parse(b"GET http://a.test/ HTTP/1.1\r\nX: a\tb\r\n\r\n").is_some());
    }

    #[test]
    fn hosts_have_one_spelling() {
        assert_eq!(host_name("API.Internal."), Some("api.internal".into()));
        assert_eq!(
            host_name("::ffff:127.0.0.1"),
            Some("::ffff:127.0.0.1".into())
        );
        assert_eq!(host_name("10.0.0.1"), Some("10.0.0.1".into()));
        for bad in [
            "*.a.test",
            "a..test",
            "a test",
            "a%2e.test",
            "bücher.test",
            "",
            ".",
        ] {
            assert_eq!(host_name(bad), None, "{bad:?}");
        }
        assert_eq!(
            authority("Api.Internal.:8080", None),
            Some(("api.internal".into(), 8080))
        );
    }
}
