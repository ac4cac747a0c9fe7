//! The proxy itself: a supervisor thread that accepts on the listening socket pid 1 made in the
//! jail's network namespace, and a thread per connection (plain threads and poll(2): one call's
//! proxy serves one command, and starts in the time of a thread spawn). Each connection is
//! [`connection`]; the jail's resolver is a thread of its own ([`resolver`]); credentials go into
//! plain requests by [`substitute`].

mod connection;
mod resolver;
mod substitute;

use super::rules::Refusal;
use super::{Account, Connection, Egress};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections listed in the report; later ones are only counted.
pub const MAX_RECORDED: usize = 1000;
/// Connections served at once; more are closed unanswered until one ends.
const MAX_LIVE: usize = 256;

/// A running proxy.
pub struct Proxy {
    stop: OwnedFd,
    acceptor: JoinHandle<Account>,
}

impl Proxy {
    /// Start the proxy (after clone: the supervisor must be single-threaded until then).
    /// `handoff`: the supervisor's end of the socket pid 1 sends the listening socket over.
    pub fn start(handoff: OwnedFd, egress: Egress) -> std::io::Result<Proxy> {
        let (stop_rx, stop) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let acceptor = std::thread::Builder::new()
            .name("egress-proxy".into())
            .stack_size(256 << 10)
            .spawn(move || {
                // A command that hangs up makes writes fail with EPIPE, not kill the
                // supervisor; the connection threads inherit the mask.
                let mut pipe = nix::sys::signal::SigSet::empty();
                pipe.add(nix::sys::signal::Signal::SIGPIPE);
                let _ = pipe.thread_block();
                accept_loop(&handoff, Arc::new(egress), Arc::new(stop_rx))
            })?;
        Ok(Proxy { stop, acceptor })
    }

    /// Stop (every process of the jail is gone) and return what the proxy saw.
    pub fn finish(self) -> Account {
        drop(self.stop);
        self.acceptor.join().unwrap_or_else(|_| Account {
            failure: Some("the egress proxy thread panicked".into()),
            ..Account::default()
        })
    }
}

fn ready(p: &PollFd<'_>) -> bool {
    p.revents().is_some_and(|r| !r.is_empty())
}

/// Wait until `fd` is readable (true), or `stop` closes or `limit` passes (false).
fn wait_readable(fd: BorrowedFd<'_>, stop: BorrowedFd<'_>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if ms == 0 {
            return false;
        }
        let mut set = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(stop, PollFlags::POLLIN),
        ];
        match poll(&mut set, PollTimeout::from(ms)) {
            Err(nix::errno::Errno::EINTR) | Ok(0) => continue,
            Err(_) => return false,
            Ok(_) if ready(&set[1]) => return false,
            Ok(_) => return ready(&set[0]),
        }
    }
}

fn accept_loop(handoff: &OwnedFd, egress: Arc<Egress>, stop: Arc<OwnedFd>) -> Account {
    // Pid 1 sends the TCP listener, then the resolver's UDP socket.
    let take = || crate::sys::seccomp::recv_fd(handoff.as_fd());
    let (listener, resolver) = match (take(), take()) {
        (Ok(Some(tcp)), Ok(Some(udp))) => (TcpListener::from(tcp), UdpSocket::from(udp)),
        // Pid 1 ended before it made the sockets: the call failed earlier, and says why.
        (Ok(None), _) | (_, Ok(None)) => return Account::default(),
        (Err(e), _) | (_, Err(e)) => {
            return Account {
                failure: Some(format!(
                    "the proxy's sockets did not arrive from the jail: {e}"
                )),
                ..Account::default()
            }
        }
    };
    let account = Arc::new(Mutex::new(Account::default()));
    let mut live: Vec<JoinHandle<()>> = Vec::new();
    {
        let (egress, stop, account) = (egress.clone(), stop.clone(), account.clone());
        let spawned = std::thread::Builder::new()
            .name("egress-dns".into())
            .stack_size(256 << 10)
            .spawn(move || resolver::resolve_loop(&resolver, &egress, stop.as_fd(), &account));
        if let Ok(h) = spawned {
            live.push(h);
        }
    }
    loop {
        let mut set = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut set, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) if ready(&set[1]) => break,
            Ok(_) => {}
        }
        let Ok((client, _)) = listener.accept() else {
            continue;
        };
        live.retain(|h| !h.is_finished());
        if live.len() >= MAX_LIVE {
            continue; // closed unanswered
        }
        let (egress, stop, account) = (egress.clone(), stop.clone(), account.clone());
        let spawned = std::thread::Builder::new()
            .name("egress-conn".into())
            .stack_size(256 << 10)
            .spawn(move || {
                if let Some(c) = connection::serve(client, &egress, stop.as_fd()) {
                    note(&account, c);
                }
            });
        if let Ok(h) = spawned {
            live.push(h);
        }
    }
    // The resolver thread is the first: it ends with `stop` too.
    for h in live {
        let _ = h.join();
    }
    drop(listener);
    let mut a = account.lock().unwrap_or_else(|p| p.into_inner());
    std::mem::take(&mut *a)
}

fn note(account: &Mutex<Account>, c: Connection) {
    let mut a = account.lock().unwrap_or_else(|p| p.into_inner());
    if a.connections.len() < MAX_RECORDED {
        a.connections.push(c);
    } else {
        a.unlisted += 1;
    }
}

fn record(host: &str, port: u16, kind: &'static str) -> Connection {
    Connection {
        host: host.to_string(),
        port,
        kind,
        address: None,
        verdict: "allowed",
        rule: String::new(),
        error: None,
        remedy: None,
        bytes_sent: 0,
        bytes_received: 0,
        credentials: Vec::new(),
        placeholders_elsewhere: Vec::new(),
        tls_terminated: false,
    }
}

fn refuse(mut c: Connection, why: &Refusal, address: Option<IpAddr>) -> Connection {
    c.verdict = "refused";
    c.rule = why.name().to_string();
    c.remedy = Some(why.remedy(&c.host, c.port, address));
    c.address = address.map(|a| a.to_string());
    c
}

fn fail(mut c: Connection, error: String) -> Connection {
    c.verdict = "failed";
    c.error = Some(error);
    c
}
