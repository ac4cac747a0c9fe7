//! Who creates the exported files. A caller that is not root writes them itself, as itself
//! ([`Writer::Local`]). Root does not: the supervisor gives up root before the jail exists
//! (invariant 9), so before it does, [`Writer::prepare`] forks a writer process that becomes
//! the `to` directory's owner (uid, gid, no supplementary groups; with no capability left when
//! that owner is root itself), non-dumpable, dying with the supervisor. The supervisor, which
//! reads the scratch as the jail's user, streams each file to it over a socket; the writer
//! creates it with [`Dest::put`]. So the files belong to the directory's owner, as `--rw`
//! files do, and no process holds more than one of the two identities.
//!
//! Protocol (one socket, in order): a JSON line `{"path": REL, "size": N}`, then exactly N
//! bytes; the writer answers one JSON line, `{"ok": true}`, `{"exists": true}` or
//! `{"error": "..."}`. EOF ends the writer.

use super::dest::{Dest, PutError};
use crate::error::{Error, Result};
use crate::sys::process::{self, Forked};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

pub enum Writer {
    /// This process writes (a caller that is not root).
    Local(Dest),
    /// The forked writer process writes (root).
    Remote {
        stream: BufReader<UnixStream>,
        pid: i32,
        owner: (u32, u32),
    },
}

#[derive(Serialize, Deserialize)]
struct Request {
    path: String,
    size: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(bool),
    Exists(bool),
    Error(String),
}

impl Writer {
    /// Open `to`; when this process is root, fork the writer process (the caller must be
    /// single-threaded: the pipeline is, until the supervisor starts).
    pub fn prepare(to: &Path, overwrite: bool) -> Result<Writer> {
        let dest = Dest::open(to, overwrite).map_err(|e| {
            Error::setup(format!("open the export directory {}", to.display()), &e)
                .with_hint("the directory must exist and no component of its path may be a symlink")
        })?;
        if !nix::unistd::geteuid().is_root() {
            return Ok(Writer::Local(dest));
        }
        let owner = dest
            .owner()
            .map_err(|e| Error::setup("stat the export directory", &e))?;
        crate::supervisor::single_threaded(
            "check tooljail is single-threaded before forking the export writer",
        )?;
        let (ours, theirs) = UnixStream::pair()
            .map_err(|e| Error::setup("create the export writer's socket", &e))?;
        let supervisor = std::process::id();
        match process::fork().map_err(|e| Error::setup("fork the export writer", &e))? {
            Forked::Child => {
                drop(ours);
                let code = match become_writer(&dest, &theirs, owner, supervisor) {
                    Ok(()) => serve(dest, theirs),
                    Err(_) => 125,
                };
                process::exit_now(code)
            }
            Forked::Parent { pid, .. } => Ok(Writer::Remote {
                stream: BufReader::new(ours),
                pid,
                owner,
            }),
        }
    }

    /// Who the exported files belong to: `None` for the caller itself.
    pub fn owner(&self) -> Option<(u32, u32)> {
        match self {
            Writer::Local(_) => None,
            Writer::Remote { owner, .. } => Some(*owner),
        }
    }

    /// Write `size` bytes from `src` to `rel` below the export directory.
    pub fn put(&mut self, rel: &str, src: &mut dyn Read, size: u64) -> Result<(), PutError> {
        match self {
            Writer::Local(dest) => dest.put(rel, src, size),
            Writer::Remote { stream, pid, owner } => {
                let (pid, uid) = (*pid, owner.0);
                let lost = |e: io::Error| {
                    let gone = match process::wait4(pid, false) {
                        Ok(Some(_)) => format!(
                            "; the writer process (uid {uid}) has ended: it could not become the \
                             directory's owner, or was killed"
                        ),
                        _ => String::new(),
                    };
                    PutError::Failed(format!("the export writer: {e}{gone}"))
                };
                let mut line = serde_json::to_vec(&Request {
                    path: rel.to_string(),
                    size,
                })
                .map_err(|e| PutError::Failed(e.to_string()))?;
                line.push(b'\n');
                let sock = stream.get_mut();
                sock.write_all(&line).map_err(lost)?;
                let sent = io::copy(&mut src.take(size), sock).map_err(lost)?;
                if sent != size {
                    // The writer waits for bytes that will not come: it is of no more use.
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                    return Err(PutError::Failed(format!(
                        "read {sent} of {size} bytes from the scratch"
                    )));
                }
                let mut reply = String::new();
                stream.read_line(&mut reply).map_err(lost)?;
                match serde_json::from_str(&reply) {
                    Ok(Reply::Ok(_)) => Ok(()),
                    Ok(Reply::Exists(_)) => Err(PutError::Exists),
                    Ok(Reply::Error(e)) => Err(PutError::Failed(e)),
                    Err(_) => Err(PutError::Failed(
                        "the export writer ended without an answer".into(),
                    )),
                }
            }
        }
    }

    /// End the writer process (EOF on its socket) and reap it.
    pub fn finish(self) {
        if let Writer::Remote { stream, pid, .. } = self {
            drop(stream);
            let _ = process::wait4(pid, true);
        }
    }
}

/// In the forked child: stdio to /dev/null, every other fd closed but the socket and the
/// directory, then the directory owner's identity, non-dumpable, dying with the supervisor.
fn become_writer(
    dest: &Dest,
    sock: &UnixStream,
    (uid, gid): (u32, u32),
    supervisor: u32,
) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        nix::unistd::dup2(null.as_raw_fd(), fd)?;
    }
    drop(null);
    // This child never returns into the pipeline, so no Rust owner of the fds closed here is
    // ever dropped (close_fds_except's contract).
    process::close_fds_except(&[sock.as_raw_fd(), dest.fd().as_raw_fd()])?;
    // The bounding set first, while CAP_SETPCAP is still ours; then the owner's ids; then
    // whatever capability is left (a root-owned directory keeps uid 0: an owner like any
    // other, with no capability).
    caps::clear(None, caps::CapSet::Bounding).map_err(|e| io::Error::other(e.to_string()))?;
    nix::unistd::setgroups(&[])?;
    let (u, g) = (
        nix::unistd::Uid::from_raw(uid),
        nix::unistd::Gid::from_raw(gid),
    );
    nix::unistd::setresgid(g, g, g)?;
    nix::unistd::setresuid(u, u, u)?;
    for set in [
        caps::CapSet::Ambient,
        caps::CapSet::Inheritable,
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| io::Error::other(e.to_string()))?;
    }
    nix::sys::prctl::set_dumpable(false)?;
    nix::sys::prctl::set_no_new_privs()?;
    // Changing credentials cleared the parent-death signal: set it now, then check the
    // supervisor did not die before it took effect.
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    if u32::try_from(nix::unistd::getppid().as_raw()).ok() != Some(supervisor) {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

/// The writer's loop: one request, its bytes, one answer; 0 at EOF.
fn serve(mut dest: Dest, sock: UnixStream) -> i32 {
    let Ok(out) = sock.try_clone() else {
        return 125;
    };
    let mut out = out;
    let mut input = BufReader::new(sock);
    loop {
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(_) => return 125,
        }
        let Ok(req) = serde_json::from_str::<Request>(&line) else {
            return 125;
        };
        let mut body = (&mut input).take(req.size);
        // The supervisor checked the path; this process, with the owner's rights, checks it
        // again rather than trust the process that read the jail's files.
        let path_ok = !req.path.is_empty()
            && !req.path.starts_with('/')
            && req.path.split('/').all(|c| !c.is_empty())
            && super::rules::bad_name(req.path.as_bytes()).is_none();
        let reply = if !path_ok {
            Reply::Error(format!("refused path {:?}", req.path))
        } else {
            match dest.put(&req.path, &mut body, req.size) {
                Ok(()) => Reply::Ok(true),
                Err(PutError::Exists) => Reply::Exists(true),
                Err(PutError::Failed(e)) => Reply::Error(e),
            }
        };
        // Whatever put did not read is still on the socket: drain it to keep in step.
        if io::copy(&mut body, &mut io::sink()).is_err() {
            return 125;
        }
        let mut bytes = serde_json::to_vec(&reply).unwrap_or_default();
        bytes.push(b'\n');
        if out.write_all(&bytes).is_err() {
            return 125;
        }
    }
}
