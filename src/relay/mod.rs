//! The output relay: when `[output]` caps a stream, the command's stdout (or stderr) is a pipe
//! whose other end a thread of the supervisor reads. It forwards up to the cap to the caller's
//! own descriptor, keeps draining the rest so the command never blocks on a full pipe, and
//! ends with one marker line, `[tooljail: N bytes of stdout not shown]`. Without a cap there is
//! no relay: the command writes to the caller's descriptors itself, as it always did.
//!
//! Bytes move with splice(2) (pipe to the caller's descriptor, and what is dropped from the
//! pipe to /dev/null), so whatever the command writes, the relay holds at most one 64 KiB
//! buffer (the last forwarded byte, to know whether the marker needs a newline before it; a
//! caller's terminal, which splice does not take) and, in `head+tail` mode, the tail it keeps
//! (at most 8 MiB: resolution caps head+tail at 16M).

use crate::policy::{OutputCap, OutputMode};
use nix::errno::Errno;
use nix::fcntl::SpliceFFlags;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::thread::JoinHandle;

/// One stream's account: bytes the caller received (the marker not counted) and bytes it did
/// not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relayed {
    pub written: u64,
    pub dropped: u64,
}

/// A running relay.
pub struct Relay {
    handle: JoinHandle<Relayed>,
}

/// Largest splice at once.
const CHUNK: usize = 1 << 20;
/// The copy buffer where splice cannot be used.
const BUF: usize = 64 << 10;

impl Relay {
    /// Relay `from` (the read end of the command's pipe) to `to` (the caller's descriptor,
    /// owned by the relay) under `cap`; `stream` names it in the marker.
    pub fn start(
        from: OwnedFd,
        to: OwnedFd,
        cap: OutputCap,
        stream: &'static str,
    ) -> io::Result<Relay> {
        // A larger pipe means fewer wake-ups; failing to get one costs only speed.
        let _ = nix::fcntl::fcntl(from.as_raw_fd(), nix::fcntl::F_SETPIPE_SZ(1 << 20));
        let handle = std::thread::Builder::new()
            .name(format!("relay-{stream}"))
            .stack_size(256 << 10)
            .spawn(move || {
                // A caller that closed its end gets EPIPE here, not a SIGPIPE that would kill
                // the supervisor (and with it the jail): the rest is counted as dropped.
                let mut pipe = nix::sys::signal::SigSet::empty();
                pipe.add(nix::sys::signal::Signal::SIGPIPE);
                let _ = pipe.thread_block();
                run(from.as_fd(), to.as_fd(), cap, stream)
            })?;
        Ok(Relay { handle })
    }

    /// Wait for the stream to end (every writer in the jail is gone) and return its account.
    pub fn finish(self) -> Relayed {
        self.handle.join().unwrap_or_default()
    }
}

/// The caller's side: where forwarded bytes go, and whether it still takes them.
struct Out<'a> {
    fd: BorrowedFd<'a>,
    splice: bool,
    broken: bool,
    last: Option<u8>,
}

fn run(from: BorrowedFd<'_>, to: BorrowedFd<'_>, cap: OutputCap, stream: &str) -> Relayed {
    let mut out = Out {
        fd: to,
        splice: true,
        broken: false,
        last: None,
    };
    let mut acct = Relayed::default();
    let mut buf = vec![0u8; BUF];
    let head = match cap.mode {
        OutputMode::Head => cap.max,
        OutputMode::HeadTail => cap.max - cap.max / 2,
    };
    let eof = forward(from, &mut out, head, &mut buf, &mut acct);
    if eof {
        return acct;
    }
    match cap.mode {
        OutputMode::Head => {
            acct.dropped += drain(from, &mut buf);
            marker(&mut out, acct.dropped, stream);
        }
        OutputMode::HeadTail => {
            let tail = usize::try_from(cap.max / 2).unwrap_or(usize::MAX);
            let (kept, rest) = keep_tail(from, tail, &mut buf);
            let dropped = rest - u64::try_from(kept.len()).unwrap_or(0);
            acct.dropped += dropped;
            marker(&mut out, dropped, stream);
            write_all(&mut out, &kept, &mut acct);
        }
    }
    acct
}

/// Forward up to `limit` bytes; true at EOF. The last byte goes through `buf`, so the marker
/// knows whether the output ended a line.
fn forward(
    from: BorrowedFd<'_>,
    out: &mut Out<'_>,
    limit: u64,
    buf: &mut [u8],
    acct: &mut Relayed,
) -> bool {
    let mut left = limit;
    while left > 0 {
        if out.broken {
            return false;
        }
        if out.splice && left > 1 {
            let want = usize::try_from(left - 1).unwrap_or(CHUNK).min(CHUNK);
            match nix::fcntl::splice(from, None, out.fd, None, want, SpliceFFlags::SPLICE_F_MOVE) {
                Ok(0) => return true,
                Ok(n) => {
                    let n = n as u64;
                    acct.written += n;
                    left -= n;
                    continue;
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    writable(out.fd);
                    continue;
                }
                // The caller's descriptor does not take splice (a terminal, a file opened
                // with O_APPEND): copy through the buffer instead.
                Err(Errno::EINVAL) => out.splice = false,
                Err(_) => {
                    out.broken = true;
                    return false;
                }
            }
        }
        let want = usize::try_from(left).unwrap_or(buf.len()).min(buf.len());
        match nix::unistd::read(from.as_raw_fd(), &mut buf[..want]) {
            Ok(0) => return true,
            Ok(n) => {
                left -= n as u64;
                write_all(out, &buf[..n], acct);
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Write `bytes` to the caller; what it does not take counts as dropped.
fn write_all(out: &mut Out<'_>, mut bytes: &[u8], acct: &mut Relayed) {
    while !bytes.is_empty() {
        if out.broken {
            acct.dropped += bytes.len() as u64;
            return;
        }
        match nix::unistd::write(out.fd, bytes) {
            Ok(0) => out.broken = true,
            Ok(n) => {
                acct.written += n as u64;
                out.last = Some(bytes[n - 1]);
                bytes = &bytes[n..];
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => writable(out.fd),
            Err(_) => out.broken = true,
        }
    }
}

/// Wait until the caller's descriptor takes bytes again: one it made non-blocking answers
/// EAGAIN when full, and the relay must wait, not spin.
fn writable(fd: BorrowedFd<'_>) {
    let mut set = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLOUT)];
    let _ = nix::poll::poll(&mut set, nix::poll::PollTimeout::NONE);
}

/// Read and discard everything until EOF; the bytes discarded.
fn drain(from: BorrowedFd<'_>, buf: &mut [u8]) -> u64 {
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null");
    let mut n = 0u64;
    if let Ok(null) = &null {
        loop {
            match nix::fcntl::splice(
                from,
                None,
                null.as_fd(),
                None,
                CHUNK,
                SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => return n,
                Ok(k) => n += k as u64,
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(_) => break,
            }
        }
    }
    loop {
        match nix::unistd::read(from.as_raw_fd(), buf) {
            Ok(0) => return n,
            Ok(k) => n += k as u64,
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return n,
        }
    }
}

/// Read until EOF keeping the last `tail` bytes; (those bytes in order, all bytes read).
fn keep_tail(from: BorrowedFd<'_>, tail: usize, buf: &mut [u8]) -> (Vec<u8>, u64) {
    let mut ring: Vec<u8> = Vec::new();
    let mut at = 0usize; // next write position once the ring is full
    let mut total = 0u64;
    loop {
        let n = match nix::unistd::read(from.as_raw_fd(), buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(_) => break,
        };
        total += n as u64;
        for &b in &buf[..n] {
            if ring.len() < tail {
                ring.push(b);
            } else if tail > 0 {
                ring[at] = b;
                at = (at + 1) % tail;
            }
        }
    }
    ring.rotate_left(at);
    (ring, total)
}

/// The one line that says what the caller did not see (none when nothing was dropped, or the
/// caller no longer reads).
fn marker(out: &mut Out<'_>, dropped: u64, stream: &str) {
    if dropped == 0 || out.broken {
        return;
    }
    let newline = if matches!(out.last, Some(b'\n')) {
        ""
    } else {
        "\n"
    };
    let line = format!("{newline}[tooljail: {dropped} bytes of {stream} not shown]\n");
    let mut ignored = Relayed::default();
    let last = out.last;
    write_all(out, line.as_bytes(), &mut ignored);
    out.last = last.or(Some(b'\n'));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn relay(input: &[u8], cap: OutputCap) -> (Vec<u8>, Relayed) {
        let (r, w) = nix::unistd::pipe().unwrap();
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        let relay = Relay::start(r, out_w, cap, "stdout").unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::File::from(w);
            w.write_all(&input).unwrap();
        });
        let mut got = Vec::new();
        std::fs::File::from(out_r).read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        (got, relay.finish())
    }

    #[test]
    fn head_forwards_the_cap_then_one_marker_line() {
        let cap = OutputCap {
            max: 10,
            mode: OutputMode::Head,
        };
        let (got, acct) = relay(b"0123456789abcdef", cap);
        assert_eq!(
            got,
            b"0123456789\n[tooljail: 6 bytes of stdout not shown]\n"
        );
        assert_eq!(
            acct,
            Relayed {
                written: 10,
                dropped: 6
            }
        );
        // A line that ends at the cap needs no newline before the marker.
        let (got, _) = relay(b"012345678\nabc", cap);
        assert_eq!(got, b"012345678\n[tooljail: 3 bytes of stdout not shown]\n");
        // Under the cap: the output as it is, no marker.
        let (got, acct) = relay(b"short", cap);
        assert_eq!((got.as_slice(), acct.dropped), (&b"short"[..], 0));
        let (got, acct) = relay(b"0123456789", cap);
        assert_eq!((got.as_slice(), acct.dropped), (&b"0123456789"[..], 0));
    }

    #[test]
    fn head_and_tail_keep_both_ends_with_the_marker_between() {
        let cap = OutputCap {
            max: 8,
            mode: OutputMode::HeadTail,
        };
        let (got, acct) = relay(b"abcdefghijklmnopqrstuvwxyz", cap);
        assert_eq!(got, b"abcd\n[tooljail: 18 bytes of stdout not shown]\nwxyz");
        assert_eq!(
            acct,
            Relayed {
                written: 8,
                dropped: 18
            }
        );
        let (got, acct) = relay(b"abcdefg", cap);
        assert_eq!((got.as_slice(), acct.dropped), (&b"abcdefg"[..], 0));
    }

    #[test]
    fn a_non_blocking_caller_that_reads_slowly_gets_every_byte_up_to_the_cap() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        nix::fcntl::fcntl(
            out_w.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let cap = OutputCap {
            max: 300_000,
            mode: OutputMode::Head,
        };
        let relay = Relay::start(r, out_w, cap, "stdout").unwrap();
        let writer = std::thread::spawn(move || {
            std::fs::File::from(w).write_all(&[b'x'; 400_000]).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut got = Vec::new();
        std::fs::File::from(out_r).read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        let acct = relay.finish();
        assert_eq!(
            acct,
            Relayed {
                written: 300_000,
                dropped: 100_000
            }
        );
        assert_eq!(got.len(), 300_000 + marker_len(100_000));
    }

    fn marker_len(n: u64) -> usize {
        format!("\n[tooljail: {n} bytes of stdout not shown]\n").len()
    }

    #[test]
    fn the_ring_keeps_the_last_bytes_in_order() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::File::from(w);
            w.write_all(&(0..=255u8).cycle().take(200_000).collect::<Vec<_>>())
                .unwrap();
        });
        let (kept, total) = keep_tail(r.as_fd(), 300, &mut [0u8; 7]);
        writer.join().unwrap();
        assert_eq!(total, 200_000);
        let want: Vec<u8> = (0..=255u8)
            .cycle()
            .take(200_000)
            .skip(200_000 - 300)
            .collect();
        assert_eq!(kept, want);
    }
}
