//! The one channel from the jail to the supervisor: a pipe that carries typed, versioned
//! messages from pid 1 and from the command (until its execve closes its copy).
//!
//! Each message is one JSON object on one line, written with one write(2) of at most
//! `PIPE_BUF` bytes, so messages from pid 1 and the command never interleave. A new stage that
//! needs pid 1 to say more adds a [`Message`] variant (or an optional field), not byte offsets;
//! a change that old readers would misread bumps [`VERSION`], and a message of another version
//! is refused as a protocol error rather than guessed at.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::os::fd::BorrowedFd;

/// The protocol version this build writes and reads.
pub const VERSION: u32 = 1;

/// Largest message: one atomic pipe write (`PIPE_BUF`, 4096 on Linux).
pub const MAX_MESSAGE: usize = libc::PIPE_BUF;

/// What the jail tells the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// A step of building the jail failed (in pid 1 or the command): the command never ran.
    /// The first one is the cause; later ones are consequences.
    SetupFailed { error: Error },
    /// The command ended; pid 1's account of it.
    Ended(Ended),
}

/// pid 1's report when the command has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// The command's raw wait status (as waitpid(2) gives it).
    pub wait_status: i32,
    /// The scratch tmpfs as the command left it (`None`: pid 1 could not measure it).
    pub scratch: Option<Scratch>,
    /// Tasks of the jail when the command ended, the command included (`None`: pid 1 could
    /// not count them).
    pub tasks: Option<u64>,
    /// Set when pid 1 has killed and reaped every other process of the jail before sending
    /// this, its last message: nothing of the jail runs any more but pid 1's own exit, so the
    /// supervisor goes on without waiting for the kernel to take the namespaces down (and reaps
    /// pid 1 before the call ends). What the jail used: pid 1 and everything it reaped, as
    /// wait4 on pid 1 would say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alone: Option<Used>,
}

/// CPU time and peak memory, as getrusage(2) gives them (pid 1's own plus its children's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Used {
    pub user_us: u64,
    pub system_us: u64,
    pub max_rss_kib: u64,
}

/// Bytes used and bytes available in the scratch tmpfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scratch {
    pub used: u64,
    pub total: u64,
}

/// A message with its protocol version, as it travels.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    v: u32,
    #[serde(flatten)]
    message: Message,
}

/// One message as its line of bytes (newline included). An error too long for one atomic write
/// keeps its kind, location and errno and loses the end of its message and hint.
pub fn encode(message: &Message) -> Vec<u8> {
    let line = |m: &Message| {
        let mut bytes = serde_json::to_vec(&Envelope {
            v: VERSION,
            message: m.clone(),
        })
        .unwrap_or_default();
        bytes.push(b'\n');
        bytes
    };
    let bytes = line(message);
    if bytes.len() <= MAX_MESSAGE {
        return bytes;
    }
    match message {
        Message::SetupFailed { error } => {
            let mut short = error.clone();
            short.message = truncate(&short.message, 1024);
            short.hint = truncate(&short.hint, 512);
            if let crate::error::Location::Step { name } = &mut short.location {
                *name = truncate(name, 512);
            }
            line(&Message::SetupFailed { error: short })
        }
        // Fixed-size numbers: never longer than a few hundred bytes.
        Message::Ended(_) => bytes,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Send `message` to the supervisor. Best effort: if the pipe is gone the supervisor is gone
/// too, and PR_SET_PDEATHSIG is about to kill the sender.
pub fn send(tx: BorrowedFd<'_>, message: &Message) {
    let _ = nix::unistd::write(tx, &encode(message));
}

/// Every message in `bytes` (all the channel carried), in order. A line that is not a message
/// of this version is a protocol error: the jail and this supervisor do not understand each
/// other, and nothing it says can be trusted.
pub fn decode(bytes: &[u8]) -> Result<Vec<Message>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let envelope: Envelope = serde_json::from_slice(line).map_err(|e| {
                Error::setup("read the jail's messages", libc::EPROTO)
                    .with_hint(format!("the jail sent a malformed message ({e}); this is a tooljail bug"))
            })?;
            if envelope.v != VERSION {
                return Err(Error::setup("read the jail's messages", libc::EPROTO).with_hint(
                    format!(
                        "the jail speaks protocol version {}, this supervisor {VERSION}; this is a tooljail bug",
                        envelope.v
                    ),
                ));
            }
            Ok(envelope.message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;

    #[test]
    fn messages_round_trip_one_line_each() {
        let ended = Message::Ended(Ended {
            wait_status: 7 << 8,
            scratch: Some(Scratch {
                used: 4096,
                total: 1 << 20,
            }),
            tasks: Some(2),
            alone: Some(Used {
                user_us: 1500,
                system_us: 250,
                max_rss_kib: 3000,
            }),
        });
        let failed = Message::SetupFailed {
            error: Error::setup("bind /x read-only", libc::ENOENT).with_hint("create it"),
        };
        let mut bytes = encode(&failed);
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        bytes.extend(encode(&ended));
        assert_eq!(decode(&bytes).unwrap(), [failed, ended]);
        assert_eq!(decode(b"").unwrap(), []);
    }

    #[test]
    fn the_wire_format_is_pinned() {
        // A jail of this build and a supervisor of this build must agree; this line is what
        // both sides read and write for version 1.
        let line = encode(&Message::Ended(Ended {
            wait_status: 0,
            scratch: None,
            tasks: Some(1),
            alone: None,
        }));
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"v\":1,\"type\":\"ended\",\"wait_status\":0,\"scratch\":null,\"tasks\":1}\n"
        );
        let line = encode(&Message::Ended(Ended {
            wait_status: 0,
            scratch: None,
            tasks: None,
            alone: Some(Used {
                user_us: 1,
                system_us: 2,
                max_rss_kib: 3,
            }),
        }));
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"v\":1,\"type\":\"ended\",\"wait_status\":0,\"scratch\":null,\"tasks\":null,\
             \"alone\":{\"user_us\":1,\"system_us\":2,\"max_rss_kib\":3}}\n"
        );
    }

    #[test]
    fn garbage_and_other_versions_are_protocol_errors() {
        let bad = decode(b"{garbage\n").unwrap_err();
        assert_eq!(bad.errno, Some(libc::EPROTO));
        let other = decode(
            b"{\"v\":2,\"type\":\"ended\",\"wait_status\":0,\"scratch\":null,\"tasks\":null}\n",
        )
        .unwrap_err();
        assert!(other.hint.contains("version 2"), "{other}");
    }

    #[test]
    fn a_long_error_still_fits_one_atomic_write() {
        let e = Error::setup("x".repeat(5000), "y".repeat(10_000)).with_hint("z".repeat(10_000));
        let bytes = encode(&Message::SetupFailed { error: e });
        assert!(bytes.len() <= MAX_MESSAGE, "{}", bytes.len());
        match &decode(&bytes).unwrap()[0] {
            Message::SetupFailed { error } => {
                assert!(matches!(error.location, Location::Step { .. }));
                assert!(error.message.ends_with("..."));
            }
            m => panic!("{m:?}"),
        }
    }
}
