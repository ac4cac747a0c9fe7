//! TLS termination for credentials with `terminate_tls = true` (docs/network.md, "HTTPS
//! credentials"): only when some credential asks for it, the egress stage makes a per-call CA
//! (rcgen; its key lives in this process's memory only, for the call) whose certificate the
//! command is told to trust. A CONNECT to a host such a credential lists is then answered with
//! a leaf certificate for that host signed by the CA (made on first use, kept for the call);
//! the proxy opens its own TLS connection to the server, verified against the host's trust
//! store (rustls-native-certs) plus `[network] upstream_ca`, reads the request in between, puts
//! the real value in the named header and relays the rest. Every other CONNECT stays a tunnel.

use super::http;
use crate::error::{Error, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

/// Where the command finds the bundle it trusts: the trust store the proxy verifies servers
/// with, plus the per-call CA. In the scratch (`/tmp`, or the work directory without one).
pub const BUNDLE_NAME: &str = "tooljail-egress-ca.pem";

/// The variables that point common tools at the bundle.
pub const BUNDLE_ENV: [&str; 5] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
];

/// The one ALPN protocol offered both ways: the proxy reads HTTP/1.1 only, so an HTTP/2
/// client falls back.
const ALPN: &[u8] = b"http/1.1";

/// The per-call CA and the TLS configurations made from it.
pub struct Terminator {
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// What the command trusts (PEM): the host's trust store, `upstream_ca`, the per-call CA.
    pub bundle: String,
    upstream: Arc<ClientConfig>,
    /// One server configuration (leaf certificate and key) per host, made on first use.
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl std::fmt::Debug for Terminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminator").finish_non_exhaustive()
    }
}

/// The ring provider: small and quick to build (no C toolchain step beyond ring's own), and
/// enough for a per-call CA; rustls deprecates it only for lacking post-quantum key exchange.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::usage(format!("egress TLS termination: {what}: {e}"))
}

impl Terminator {
    /// The CA for this call, named-constrained to `hosts` (the hosts of the credentials that
    /// terminate), and the upstream trust: the host's store plus each `upstream_ca` file.
    pub fn new(hosts: &[String], upstream_ca: &[std::path::PathBuf]) -> Result<Terminator> {
        let mut roots = rustls::RootCertStore::empty();
        let mut trusted: Vec<CertificateDer<'static>> = host_trust_store();
        for path in upstream_ca {
            use rustls::pki_types::pem::PemObject;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<_, _>>())
                .map_err(|e| {
                    Error::usage(format!(
                        "upstream_ca {}: cannot read PEM certificates: {e}",
                        path.display()
                    ))
                    .with_hint("name a PEM file of CA certificates the caller can read")
                })?;
            if certs.is_empty() {
                return Err(Error::usage(format!(
                    "upstream_ca {}: holds no certificate",
                    path.display()
                ))
                .with_hint("name a PEM file of CA certificates"));
            }
            trusted.extend(certs);
        }
        // The store's file and its hashed directory usually hold the same certificates.
        let mut seen = std::collections::HashSet::new();
        trusted.retain(|c| seen.insert(c.to_vec()));
        let (_added, _ignored) = roots.add_parsable_certificates(trusted.iter().cloned());
        if roots.is_empty() {
            return Err(Error::usage(
                "egress TLS termination: no trusted CA certificate found (the host's trust store is empty)",
            )
            .with_hint("install the host's CA certificates (ca-certificates), or name one in [network] upstream_ca"));
        }
        let mut upstream = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("client configuration", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        upstream.alpn_protocols = vec![ALPN.to_vec()];

        let key = rcgen::KeyPair::generate().map_err(|e| tls_error("CA key", e))?;
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tooljail per-call egress CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: hosts.iter().map(|h| subtree(h)).collect(),
            excluded_subtrees: Vec::new(),
        });
        let cert = params
            .self_signed(&key)
            .map_err(|e| tls_error("CA certificate", e))?;
        let mut bundle = String::new();
        for der in &trusted {
            bundle.push_str(&pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())));
        }
        bundle.push_str(&cert.pem());
        Ok(Terminator {
            ca: rcgen::Issuer::new(params, key),
            bundle,
            upstream: Arc::new(upstream),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The server side for `host`: a leaf certificate signed by the CA (made once per host).
    fn leaf(&self, host: &str) -> std::result::Result<Arc<ServerConfig>, String> {
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = leaves.get(host) {
            return Ok(c.clone());
        }
        let (cert, key) = self.leaf_cert(host)?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        let config = Arc::new(config);
        leaves.insert(host.to_string(), config.clone());
        Ok(config)
    }
}

impl Terminator {
    /// A certificate for `host` signed by the CA, and its fresh key (never written anywhere).
    fn leaf_cert(
        &self,
        host: &str,
    ) -> std::result::Result<(CertificateDer<'static>, PrivateKeyDer<'static>), String> {
        let mut params =
            rcgen::CertificateParams::new(vec![host.to_string()]).map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params
            .signed_by(&key, &self.ca)
            .map_err(|e| e.to_string())?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((cert.der().clone(), key))
    }
}

/// The host's trust store, as OpenSSL finds it: `SSL_CERT_FILE`/`SSL_CERT_DIR` when the caller
/// sets them; else the system's bundle file alone when there is one (its hashed directory holds
/// the same certificates, and reading it file by file costs milliseconds), else the directory.
fn host_trust_store() -> Vec<CertificateDer<'static>> {
    if openssl_probe::has_ssl_cert_env_vars() {
        return rustls_native_certs::load_native_certs().certs;
    }
    match openssl_probe::probe().cert_file {
        Some(file) => rustls_native_certs::load_certs_from_paths(Some(&file), None).certs,
        None => rustls_native_certs::load_native_certs().certs,
    }
}

/// A name constraint for a credential host: the name (and below it) or the address.
fn subtree(host: &str) -> rcgen::GeneralSubtree {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(ip, prefix))
        }
        Err(_) => rcgen::GeneralSubtree::DnsName(host.strip_prefix("*.").unwrap_or(host).into()),
    }
}

/// The two TLS sessions of a terminated connection, both handshakes done: the client's (0)
/// and the server's (1).
pub struct Session {
    sides: [(TcpStream, Connection); 2],
}

/// Why a terminated connection did not get to the relay.
pub enum Refused {
    /// The server's certificate did not verify (the client was answered 502 over TLS).
    Upstream(String),
    /// Anything else (the client left, a handshake failed): why.
    Failed(String),
}

/// Both handshakes: the server's first (verified; on failure the client still gets a TLS
/// answer saying why), then the client's, fed the `first` bytes the proxy already read.
pub fn handshake(
    t: &Terminator,
    host: &str,
    mut client_tcp: TcpStream,
    first: &[u8],
    mut server_tcp: TcpStream,
    timeout: std::time::Duration,
) -> std::result::Result<Session, Refused> {
    let failed = |what: &str, e: &dyn std::fmt::Display| Refused::Failed(format!("{what}: {e}"));
    let name = ServerName::try_from(host.to_string()).map_err(|e| failed("server name", &e))?;
    let _ = server_tcp.set_read_timeout(Some(timeout));
    let _ = client_tcp.set_read_timeout(Some(timeout));
    let mut server =
        ClientConnection::new(t.upstream.clone(), name).map_err(|e| failed("upstream TLS", &e))?;
    let upstream = complete(&mut server, &mut server_tcp);
    let mut client =
        ServerConnection::new(t.leaf(host).map_err(|e| failed("leaf certificate", &e))?)
            .map_err(|e| failed("client TLS", &e))?;
    let mut fed = first;
    while !fed.is_empty() {
        client
            .read_tls(&mut fed)
            .map_err(|e| failed("client TLS", &e))?;
        client
            .process_new_packets()
            .map_err(|e| failed("client TLS", &e))?;
    }
    complete(&mut client, &mut client_tcp).map_err(|e| failed("client TLS handshake", &e))?;
    if let Err(e) = upstream {
        let why = format!("the server's certificate did not verify: {e}");
        let body = format!("tooljail: {host}: {why}\n");
        let mut s = Session {
            sides: [(client_tcp, client.into()), (server_tcp, server.into())],
        };
        // The request is read (and dropped) first: closing on unread bytes resets the
        // connection, and the client would never see the answer.
        let _ = read_head(&mut s);
        answer(&mut s, &http::response("502 Bad Gateway", &body));
        return Err(Refused::Upstream(why));
    }
    Ok(Session {
        sides: [(client_tcp, client.into()), (server_tcp, server.into())],
    })
}

fn complete<C: std::ops::DerefMut<Target = rustls::ConnectionCommon<S>>, S: rustls::SideData>(
    conn: &mut C,
    tcp: &mut TcpStream,
) -> std::io::Result<()> {
    while conn.is_handshaking() {
        conn.complete_io(tcp)?;
    }
    while conn.wants_write() {
        conn.write_tls(tcp)?;
    }
    Ok(())
}

/// Read plaintext from one side, blocking (the socket's read timeout bounds it); 0 at its end.
fn read_plain(side: &mut (TcpStream, Connection), buf: &mut [u8]) -> std::io::Result<usize> {
    let (tcp, conn) = side;
    loop {
        match conn.reader().read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        if conn.read_tls(tcp)? == 0 {
            // The reader now says whether the peer closed properly.
            continue;
        }
        conn.process_new_packets()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    }
}

/// Write plaintext to one side and flush it, blocking.
fn write_plain(side: &mut (TcpStream, Connection), bytes: &[u8]) -> std::io::Result<()> {
    let (tcp, conn) = side;
    conn.writer().write_all(bytes)?;
    while conn.wants_write() {
        conn.write_tls(tcp)?;
    }
    Ok(())
}

/// Read one request head from the client's TLS session (plaintext), with what followed it.
pub fn read_head(s: &mut Session) -> Option<(Vec<u8>, usize)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = http::head_end(&buf) {
            return Some((buf, end));
        }
        if buf.len() >= http::MAX_HEAD {
            return None;
        }
        match read_plain(&mut s.sides[0], &mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Answer the client over TLS and close.
pub fn answer(s: &mut Session, response: &[u8]) {
    let side = &mut s.sides[0];
    let _ = write_plain(side, response);
    side.1.send_close_notify();
    while side.1.wants_write() && side.1.write_tls(&mut side.0).is_ok() {}
    // Let the client read it all before the socket closes (bounded by the read timeout).
    let _ = side.0.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 4096];
    while matches!(side.0.read(&mut sink), Ok(n) if n > 0) {}
}

/// Send `bytes` to the server (blocking).
pub fn send(s: &mut Session, bytes: &[u8]) -> std::io::Result<()> {
    write_plain(&mut s.sides[1], bytes)
}

/// Relay plaintext both ways between the two sessions until the server is done (the request
/// asked it to close) and all it sent is out, or `stop`. What goes to the server passes
/// `scan`, what comes back passes `echo`. Returns (client to server, server to client)
/// plaintext bytes.
pub(super) fn relay(
    s: &mut Session,
    stop: std::os::fd::BorrowedFd<'_>,
    scan: &mut dyn FnMut(&[u8]),
    echo: &mut super::echo::Echo<'_>,
) -> (u64, u64) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut counts = [0u64; 2];
    // Per side (0 the client, 1 the server): whether it may still send.
    let mut open = [true, true];
    if s.sides
        .iter()
        .any(|(tcp, _)| tcp.set_nonblocking(true).is_err())
    {
        return (0, 0);
    }
    let mut buf = vec![0u8; 16 << 10];
    loop {
        // Plaintext already decrypted goes on; pending records go out.
        for i in 0..2 {
            let (a, b) = s.sides.split_at_mut(1);
            let (from, to) = if i == 0 {
                (&mut a[0], &mut b[0])
            } else {
                (&mut b[0], &mut a[0])
            };
            loop {
                match from.1.reader().read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let out = if i == 0 {
                            scan(&buf[..n]);
                            Some(buf[..n].to_vec())
                        } else {
                            echo.pass(&buf[..n])
                        };
                        let Some(out) = out else {
                            return (counts[0], counts[1]); // a real value came back
                        };
                        if to.1.writer().write_all(&out).is_err() {
                            return (counts[0], counts[1]);
                        }
                        counts[i] += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    // Closed (close_notify, or the connection ended without one).
                    _ => {
                        if open[i] {
                            open[i] = false;
                            if i == 1 {
                                let _ = to.1.writer().write_all(&echo.rest());
                            }
                            to.1.send_close_notify();
                        }
                        break;
                    }
                }
            }
        }
        for (tcp, conn) in s.sides.iter_mut() {
            while conn.wants_write() {
                match conn.write_tls(tcp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => return (counts[0], counts[1]),
                }
            }
        }
        let pending = [s.sides[0].1.wants_write(), s.sides[1].1.wants_write()];
        if !open[1] && !pending[0] {
            return (counts[0], counts[1]);
        }
        // Read from a side only while the other has nothing pending (back-pressure).
        let flags = |i: usize| {
            let mut f = PollFlags::empty();
            if open[i] && !pending[1 - i] {
                f |= PollFlags::POLLIN;
            }
            if pending[i] {
                f |= PollFlags::POLLOUT;
            }
            f
        };
        let mut set = [
            PollFd::new(s.sides[0].0.as_fd(), flags(0)),
            PollFd::new(s.sides[1].0.as_fd(), flags(1)),
            PollFd::new(stop, PollFlags::POLLIN),
        ];
        match poll(&mut set, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return (counts[0], counts[1]),
            Ok(_) => {}
        }
        let ready = |p: &PollFd<'_>| p.revents().is_some_and(|r| !r.is_empty());
        if ready(&set[2]) {
            return (counts[0], counts[1]);
        }
        let readable = [ready(&set[0]), ready(&set[1])];
        // The client hung up while the server still answers: nobody is left to read it.
        if readable[0] && flags(0).is_empty() {
            return (counts[0], counts[1]);
        }
        for i in 0..2 {
            if !readable[i] || !open[i] {
                continue;
            }
            let (tcp, conn) = &mut s.sides[i];
            match conn.read_tls(tcp) {
                // The end of the TCP stream: the reader says so next round.
                Ok(0) => {}
                Ok(_) => {
                    if conn.process_new_packets().is_err() {
                        return (counts[0], counts[1]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    open[i] = false;
                    s.sides[1 - i].1.send_close_notify();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::UnixTime;

    fn verify(t: &Terminator, cert: &CertificateDer<'_>, name: &str) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        // The call's CA is the bundle's last certificate.
        let ca = CertificateDer::pem_slice_iter(t.bundle.as_bytes())
            .last()
            .unwrap()
            .unwrap();
        roots.add(ca).unwrap();
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider())
                .build()
                .unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        verifier
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn the_call_ca_signs_only_for_the_credential_hosts() {
        let t = Terminator::new(&["api.test".into(), "*.svc.test".into()], &[]).unwrap();
        let (leaf, _) = t.leaf_cert("api.test").unwrap();
        assert!(verify(&t, &leaf, "api.test"));
        assert!(
            !verify(&t, &leaf, "other.test"),
            "a leaf is for its host only"
        );
        let (below, _) = t.leaf_cert("a.svc.test").unwrap();
        assert!(verify(&t, &below, "a.svc.test"));
        // Even a leaf the CA signed for another name fails: the CA is name-constrained.
        let (evil, _) = t.leaf_cert("evil.test").unwrap();
        assert!(!verify(&t, &evil, "evil.test"));
        // The bundle the command trusts ends with the call's CA, and holds no private key.
        assert!(t.bundle.trim_end().ends_with("-----END CERTIFICATE-----"));
        assert!(!t.bundle.contains("PRIVATE KEY"));
        assert!(t.bundle.matches("BEGIN CERTIFICATE").count() > 1);
    }
}
