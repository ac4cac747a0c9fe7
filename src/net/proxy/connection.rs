//! One client connection, start to end: its request head or CONNECT read and judged, the
//! server connected to, then the bytes relayed both ways (or, for a host a `terminate_tls`
//! credential lists, both TLS sessions terminated here).

use super::resolver::resolve;
use super::substitute::substitute;
use super::{fail, ready, record, refuse, wait_readable};
use crate::net::echo::{Echo, Watch};
use crate::net::http;
use crate::net::rules::{self, Refusal};
use crate::net::terminate;
use crate::net::tls::{self, Hello};
use crate::net::{Connection, Egress};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// How long a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a tunnel's client has to send its first bytes before the proxy connects without
/// them (a protocol whose server speaks first).
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(3);
/// Connecting to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest TLS record the proxy waits for (a ClientHello fits one).
const MAX_HELLO: usize = 5 + (16 << 10);
const BUF: usize = 64 << 10;

/// One client connection, start to end; `None` when it asked nothing.
pub(super) fn serve(
    mut client: TcpStream,
    egress: &Egress,
    stop: BorrowedFd<'_>,
) -> Option<Connection> {
    let _ = client.set_write_timeout(Some(Duration::from_secs(60)));
    let (buf, end) = read_head(&mut client, stop)?;
    let parsed = http::parse(&buf[..end]).and_then(|h| h.target().map(|t| (h, t)));
    let Some((mut head, target)) = parsed else {
        let _ = client.write_all(&http::response(
            "400 Bad Request",
            "tooljail: not an HTTP proxy request\n",
        ));
        return Some(refuse(record("", 0, "http"), &Refusal::Malformed, None));
    };
    let kind = if target.path.is_some() {
        "http"
    } else {
        "connect"
    };
    let mut c = record(&target.host, target.port, kind);
    let rest = buf[end..].to_vec();
    // Of the first bytes sent on, those the proxy did not read as a request head: a plain
    // request's body, or all of a tunnel's.
    let mut unread = rest.len();
    let forbidden = |client: &mut TcpStream, c: Connection, why: Refusal, addr| {
        let c = refuse(c, &why, addr);
        let body = format!(
            "tooljail: {}:{} refused by {}; {}\n",
            c.host,
            c.port,
            c.rule,
            c.remedy.as_deref().unwrap_or("")
        );
        let _ = client.write_all(&http::response("403 Forbidden", &body));
        c
    };
    match rules::judge_name(&egress.rules, &target.host, target.port) {
        Ok(rule) => c.rule = rule.to_string(),
        Err(why) => return Some(forbidden(&mut client, c, why, None)),
    }
    if kind == "http" {
        let agrees = head.header("host").is_none_or(|h| {
            http::authority(h, Some(80)) == Some((target.host.clone(), target.port))
        });
        if !agrees {
            return Some(forbidden(&mut client, c, Refusal::HostMismatch, None));
        }
    }
    let addrs = match resolve(egress, &target.host, target.port) {
        Ok(a) => a,
        Err(e) => {
            let _ = client.write_all(&http::response(
                "502 Bad Gateway",
                &format!("tooljail: {e}\n"),
            ));
            return Some(fail(c, e));
        }
    };
    let allowed: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| rules::address_allowed(&egress.rules, &target.host, a.ip()))
        .collect();
    if allowed.is_empty() {
        let first = addrs.first().map(SocketAddr::ip);
        return Some(forbidden(&mut client, c, Refusal::Address, first));
    }
    // A TLS tunnel to a host a `terminate_tls` credential lists is opened here, not relayed.
    let mut terminate = false;
    let first_bytes = if kind == "connect" {
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .is_err()
        {
            return Some(c);
        }
        let first = match first_bytes(&mut client, rest, stop) {
            Some(b) => b,
            None => return Some(c),
        };
        unread = first.len();
        // A tunnel carries TLS, and its handshake must name the CONNECT host; one without a
        // name is only for an address (a server picks its default site for it, which need not
        // be the allowed one). Anything else is refused: bytes held back past the wait, a
        // record cut short, another protocol (which could name another site behind the same
        // address, as a plain request's Host would, unread), a hello that hides its real
        // server name (encrypted client hello).
        let by_address = target.host.parse::<IpAddr>().is_ok();
        match tls::client_hello(&first) {
            Hello::ServerName(_) if tls::hides_server_name(&first) => {
                return Some(refuse(c, &Refusal::Sni, None));
            }
            Hello::ServerName(None) if by_address => {}
            Hello::ServerName(Some(name)) if name == target.host => {
                terminate = egress.terminates(&target.host);
            }
            Hello::NotTls | Hello::ServerName(_) | Hello::Garbled => {
                return Some(refuse(c, &Refusal::Sni, None));
            }
        }
        first
    } else {
        let (used, elsewhere) = substitute(&mut head, &target.host, &egress.secrets);
        c.credentials = used;
        c.placeholders_elsewhere = elsewhere;
        let mut out = head.for_origin(&target, 80);
        out.extend_from_slice(&rest);
        out
    };
    let mut server = None;
    let mut last_error = String::new();
    for a in &allowed {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(s) => {
                server = Some((s, *a));
                break;
            }
            Err(e) => last_error = format!("connect {a}: {e}"),
        }
    }
    let Some((mut server, addr)) = server else {
        if kind == "http" {
            let _ = client.write_all(&http::response(
                "502 Bad Gateway",
                &format!("tooljail: {last_error}\n"),
            ));
        }
        c.address = allowed.first().map(|a| a.ip().to_string());
        return Some(fail(c, last_error));
    };
    c.address = Some(addr.ip().to_string());
    let _ = server.set_write_timeout(Some(Duration::from_secs(60)));
    if terminate {
        return Some(serve_terminated(
            client,
            server,
            &first_bytes,
            c,
            egress,
            stop,
        ));
    }
    if server.write_all(&first_bytes).is_err() {
        return Some(c);
    }
    // What the proxy forwards unread (a tunnel's bytes, a request's body) is still searched
    // for placeholders: one sent there is sent as it is, and reported. TLS hides them; that
    // is said in docs/network.md.
    let mut watch = Watch::new(&egress.secrets, &target.host);
    watch.scan(&first_bytes[first_bytes.len() - unread..]);
    let mut echo = Echo::new(&egress.secrets, &c.credentials);
    let (up, down) = relay(&client, &server, stop, &mut watch, &mut echo);
    Some(settle(c, first_bytes.len() as u64 + up, down, &watch, echo))
}

/// A relayed connection's account: its byte counts, a real value that came back (the
/// connection failed), and the placeholders its forwarded bytes carried.
fn settle(
    mut c: Connection,
    sent: u64,
    received: u64,
    watch: &Watch<'_>,
    echo: Echo<'_>,
) -> Connection {
    c.bytes_sent = sent;
    c.bytes_received = received;
    if let Some(env) = echo.found {
        c = fail(c, echoed(&env));
    }
    for env in watch.found() {
        if !c.placeholders_elsewhere.contains(&env) {
            c.placeholders_elsewhere.push(env);
        }
    }
    c
}

/// A CONNECT the proxy terminates (a `terminate_tls` credential lists its host): both TLS
/// handshakes, then one request read and its credentials put in, sent with `Connection:
/// close`, and the rest relayed in plaintext between the two sessions.
fn serve_terminated(
    client: TcpStream,
    server: TcpStream,
    first: &[u8],
    mut c: Connection,
    egress: &Egress,
    stop: BorrowedFd<'_>,
) -> Connection {
    let Some((t, _)) = &egress.terminator else {
        return fail(c, "no per-call CA".into());
    };
    c.tls_terminated = true;
    let mut session = match terminate::handshake(t, &c.host, client, first, server, HEAD_TIMEOUT) {
        Ok(s) => s,
        Err(terminate::Refused::Upstream(why)) => {
            let mut c = refuse(c, &Refusal::UpstreamCertificate, None);
            c.error = Some(why);
            return c;
        }
        Err(terminate::Refused::Failed(why)) => return fail(c, why),
    };
    let Some((buf, end)) = terminate::read_head(&mut session) else {
        return c;
    };
    // Origin-form only: an absolute URL naming another host is what a server may route by,
    // whatever Host says. `Host` itself is made from the CONNECT host (for_origin).
    let parsed = http::parse(&buf[..end]).filter(|h| h.target.starts_with('/'));
    let Some(mut head) = parsed else {
        terminate::answer(
            &mut session,
            &http::response("400 Bad Request", "tooljail: not an HTTP/1.1 request\n"),
        );
        return refuse(c, &Refusal::Malformed, None);
    };
    let (used, elsewhere) = substitute(&mut head, &c.host, &egress.secrets);
    c.credentials = used;
    c.placeholders_elsewhere = elsewhere;
    let origin = http::Target {
        host: c.host.clone(),
        port: c.port,
        path: Some(head.target.clone()),
    };
    let mut out = head.for_origin(&origin, 443);
    let rest = &buf[end..];
    out.extend_from_slice(rest);
    if terminate::send(&mut session, &out).is_err() {
        return c;
    }
    let mut watch = Watch::new(&egress.secrets, &c.host);
    watch.scan(rest);
    let mut echo = Echo::new(&egress.secrets, &c.credentials);
    let (up, down) = terminate::relay(&mut session, stop, &mut |b| watch.scan(b), &mut echo);
    settle(c, out.len() as u64 + up, down, &watch, echo)
}

/// The tunnel's first bytes: what came after the CONNECT head, else the first read; a TLS
/// record is read whole (up to [`MAX_HELLO`]) so its server name can be checked. Empty when
/// the client sent nothing in time (a protocol whose server speaks first). `None`: the client
/// left.
fn first_bytes(client: &mut TcpStream, mut got: Vec<u8>, stop: BorrowedFd<'_>) -> Option<Vec<u8>> {
    let deadline = Instant::now() + FIRST_BYTES_TIMEOUT;
    let mut chunk = [0u8; 4096];
    loop {
        let want = match got.as_slice() {
            [] => 1,
            [22, 3, _, hi, lo, ..] => {
                (5 + usize::from(u16::from_be_bytes([*hi, *lo]))).min(MAX_HELLO)
            }
            [22, ..] if got.len() < 5 => 5,
            _ => return Some(got),
        };
        if got.len() >= want {
            return Some(got);
        }
        if !wait_readable(
            client.as_fd(),
            stop,
            deadline.saturating_duration_since(Instant::now()),
        ) {
            return Some(got);
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Read the request head (and whatever followed it in the same reads).
fn read_head(client: &mut TcpStream, stop: BorrowedFd<'_>) -> Option<(Vec<u8>, usize)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + HEAD_TIMEOUT;
    loop {
        if let Some(end) = http::head_end(&buf) {
            return Some((buf, end));
        }
        if buf.len() >= http::MAX_HEAD
            || !wait_readable(
                client.as_fd(),
                stop,
                deadline.saturating_duration_since(Instant::now()),
            )
        {
            return None;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn echoed(env: &str) -> String {
    format!(
        "the server sent the real value of {env} back (an echo of the request); the connection \
         was cut before it reached the command"
    )
}

/// Copy both ways until both sides are done, or `stop`; what goes from the client to the
/// server passes `watch`, what comes back passes `echo`. Returns (client to server, server to
/// client) bytes.
fn relay(
    client: &TcpStream,
    server: &TcpStream,
    stop: BorrowedFd<'_>,
    watch: &mut Watch<'_>,
    echo: &mut Echo<'_>,
) -> (u64, u64) {
    let mut buf = vec![0u8; BUF];
    let mut counts = [0u64; 2];
    let mut open = [true, true];
    let ends = [(client, server), (server, client)];
    while open[0] || open[1] {
        let mut set: Vec<PollFd<'_>> = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(2);
        for (i, (from, _)) in ends.iter().enumerate() {
            if open[i] {
                set.push(PollFd::new(from.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        set.push(PollFd::new(stop, PollFlags::POLLIN));
        match poll(&mut set, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        if set.last().is_some_and(ready) {
            break;
        }
        let readable: Vec<usize> = which
            .iter()
            .zip(&set)
            .filter(|(_, p)| ready(p))
            .map(|(i, _)| *i)
            .collect();
        drop(set);
        for i in readable {
            let (mut from, mut to) = ends[i];
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    open[i] = false;
                    if i == 1 {
                        let _ = to.write_all(&echo.rest());
                    }
                    let _ = to.shutdown(Shutdown::Write);
                }
                Ok(n) => {
                    let sent = if i == 0 {
                        watch.scan(&buf[..n]);
                        to.write_all(&buf[..n])
                    } else {
                        match echo.pass(&buf[..n]) {
                            Some(out) => to.write_all(&out),
                            None => return (counts[0], counts[1]),
                        }
                    };
                    if sent.is_err() {
                        return (counts[0], counts[1]);
                    }
                    counts[i] += n as u64;
                }
            }
        }
    }
    (counts[0], counts[1])
}
