//! The server name (SNI) of a TLS ClientHello, read from the first bytes a client sends through
//! a CONNECT tunnel (pure). The proxy never decrypts anything: it only compares this name with
//! the CONNECT host, so a tunnel opened for an allowed name cannot carry a handshake for another
//! (a fronting server would route by SNI).

/// What the first bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// Not a TLS handshake record: another protocol through the tunnel.
    NotTls,
    /// A ClientHello, with the server name it asks for (lower case), if any.
    ServerName(Option<String>),
    /// A handshake record that does not parse, or is cut short.
    Garbled,
}

/// Read the ClientHello at the start of `buf`.
pub fn client_hello(buf: &[u8]) -> Hello {
    // Record: type 22 (handshake), version 3.x, length.
    if buf.len() < 5 || buf[0] != 22 || buf[1] != 3 {
        return Hello::NotTls;
    }
    match parse(buf) {
        Some(name) => Hello::ServerName(name),
        None => Hello::Garbled,
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(n)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// The extensions block of the ClientHello record at the start of `buf` (empty when it has
/// none). The hello must fit the first record (clients put it in one; one split over records
/// is refused as garbled, not guessed at).
fn extensions(buf: &[u8]) -> Option<Reader<'_>> {
    let mut rec = Reader { buf: buf.get(3..)? };
    let record = rec.vec16()?;
    let mut r = Reader { buf: record };
    if r.u8()? != 1 {
        return None; // not a ClientHello
    }
    let body = {
        let n = r.u24()?;
        r.take(n)?
    };
    let mut h = Reader { buf: body };
    h.take(2 + 32)?; // version, random
    h.vec8()?; // session id
    h.vec16()?; // cipher suites
    h.vec8()?; // compression methods
    if h.buf.is_empty() {
        return Some(Reader { buf: &[] }); // no extensions
    }
    Some(Reader { buf: h.vec16()? })
}

/// Whether the ClientHello at the start of `buf` carries an encrypted client hello
/// (`encrypted_client_hello`, 0xfe0d): its real server name is hidden from the proxy, and the
/// outer one only names the provider's front.
pub fn hides_server_name(buf: &[u8]) -> bool {
    let Some(mut exts) = extensions(buf) else {
        return false;
    };
    while !exts.buf.is_empty() {
        let (Some(kind), Some(_)) = (exts.u16(), exts.vec16()) else {
            return false;
        };
        if kind == 0xfe0d {
            return true;
        }
    }
    false
}

/// `Some(None)`: a whole ClientHello without server_name.
fn parse(buf: &[u8]) -> Option<Option<String>> {
    let mut exts = extensions(buf)?;
    let mut name = None;
    while !exts.buf.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        if kind != 0 {
            continue;
        }
        if name.is_some() {
            return None; // two server_name extensions
        }
        let mut list = Reader {
            buf: Reader { buf: data }.vec16()?,
        };
        while !list.buf.is_empty() {
            let ty = list.u8()?;
            let host = list.vec16()?;
            if ty == 0 {
                let host = std::str::from_utf8(host).ok()?;
                if name.is_some() {
                    return None;
                }
                name = Some(host.to_ascii_lowercase());
            }
        }
    }
    Some(name)
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // test hellos are a few bytes long
mod tests {
    use super::*;

    /// A minimal ClientHello naming `host` (or none).
    pub fn hello(host: Option<&str>) -> Vec<u8> {
        let mut exts = Vec::new();
        if let Some(h) = host {
            let mut list = vec![0u8];
            list.extend((h.len() as u16).to_be_bytes());
            list.extend(h.as_bytes());
            let mut sni = Vec::new();
            sni.extend((list.len() as u16).to_be_bytes());
            sni.extend(list);
            exts.extend(0u16.to_be_bytes());
            exts.extend((sni.len() as u16).to_be_bytes());
            exts.extend(sni);
        }
        let mut body = vec![3, 3];
        body.extend([0u8; 32]);
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // one suite
        body.extend([1, 0]); // null compression
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut hs = vec![1];
        hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![22, 3, 1];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn reads_the_server_name() {
        assert_eq!(
            client_hello(&hello(Some("PyPI.org"))),
            Hello::ServerName(Some("pypi.org".into()))
        );
        assert_eq!(client_hello(&hello(None)), Hello::ServerName(None));
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        let cut = hello(Some("pypi.org"));
        assert_eq!(client_hello(&cut[..cut.len() - 3]), Hello::Garbled);
        assert_eq!(client_hello(&[22, 3, 1, 0, 1, 2]), Hello::Garbled);
        assert!(!hides_server_name(&hello(Some("pypi.org"))));
    }

    #[test]
    fn an_encrypted_client_hello_is_seen() {
        let plain = hello(Some("front.example"));
        // The same hello with an encrypted_client_hello extension (0xfe0d) after the name.
        let ech = [0xfe, 0x0d, 0, 3, 1, 2, 3];
        let mut rec = plain.clone();
        rec.extend(ech);
        let grow = |at: usize, by: usize, bytes: usize, rec: &mut Vec<u8>| {
            let mut n = 0usize;
            for b in &rec[at..at + bytes] {
                n = n << 8 | usize::from(*b);
            }
            n += by;
            for k in 0..bytes {
                rec[at + k] = (n >> (8 * (bytes - 1 - k))) as u8;
            }
        };
        // record length (3..5), handshake length (6..9), extensions length (after the
        // compression methods: 5 + 4 + 2 + 32 + 1 + 4 + 2 = 50).
        grow(3, ech.len(), 2, &mut rec);
        grow(6, ech.len(), 3, &mut rec);
        grow(50, ech.len(), 2, &mut rec);
        assert_eq!(
            client_hello(&rec),
            Hello::ServerName(Some("front.example".into()))
        );
        assert!(hides_server_name(&rec));
        assert!(!hides_server_name(&plain));
    }
}
