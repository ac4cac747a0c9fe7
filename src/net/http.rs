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

/// Parse a request head (ending with the blank line).
pub fn parse(head: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    if first.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return None;
        }
        headers.push((name.to_string(), value.trim().to_string()));
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

    /// The head to send the origin for a plain request: origin-form target, no proxy headers,
    /// `Connection: close` (one request per connection, so every request passes the rules).
    pub fn for_origin(&self, path: &str) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, path, self.version);
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("proxy-") || lower == "connection" || lower == "keep-alive" {
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
    if host.is_empty() || host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
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
    fn origin_head_drops_proxy_headers() {
        let h = head("GET http://a.test/p HTTP/1.1\r\nHost: a.test\r\nProxy-Authorization: x\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n");
        assert_eq!(
            String::from_utf8(h.for_origin("/p")).unwrap(),
            "GET /p HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }
}
