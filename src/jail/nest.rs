//! The command's own user namespace, nested in the jail's, with its id maps written by pid 1,
//! so that the command never holds a descriptor while it is dumpable.
//!
//! A task's `/proc/PID/uid_map` belongs to root while the task is non-dumpable, so the command
//! must be dumpable for its maps to be opened at all; while it is, any host process of the
//! jail's uid may take its descriptors. So the command only *lets* them be opened: it stops
//! itself (SIGSTOP) once dumpable, pid 1 (never dumpable) opens the three files, the command
//! is continued and makes itself non-dumpable, and only then asks pid 1 for its channels
//! ([`super::handoff`]); pid 1 writes the maps through the descriptors it holds (the kernel
//! checks the opener's credentials, not the writer's state) once that request came from the
//! command, and only then answers it. No descriptor but stdio is ever in the command's table
//! while it is dumpable.
//!
//! A process that sends the command SIGCONT early, or kills it, only makes the call fail.

use super::HostIds;
use crate::error::{Error, Result};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;

const WHAT: &str = "create the command's user namespace";

/// The command's side: unshare(CLONE_NEWUSER), then the stop at which pid 1 opens its maps
/// (see the module), then non-dumpable again. Then [`super::handoff::take`] (pid 1 writes the
/// maps before it answers) and [`verify`].
pub fn enter() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| crate::supervisor::userns::unshare_refused(e as i32))?;
    let fail = |e: nix::errno::Errno| Error::setup(WHAT, e as i32);
    nix::sys::prctl::set_dumpable(true).map_err(fail)?;
    nix::sys::signal::raise(Signal::SIGSTOP).map_err(fail)?;
    nix::sys::prctl::set_dumpable(false).map_err(fail)
}

/// The command's side, after [`enter`]: the ids it now has are exactly the host's.
pub fn verify(ids: HostIds) -> Result<()> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    if uid.as_raw() != ids.uid || gid.as_raw() != ids.gid {
        return Err(Error::setup(format!("{WHAT} (verify ids)"), libc::EPERM)
            .with_hint("the command's id maps were not written (was it continued early?)"));
    }
    Ok(())
}

/// Wait until `command` stops (true) or ends (false; its status is left for the reaper).
fn stopped(command: Pid) -> Result<bool> {
    loop {
        let peek = waitid(
            Id::Pid(command),
            WaitPidFlag::WSTOPPED | WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        );
        match peek {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::setup(
                    format!("{WHAT} (wait for the command)"),
                    e as i32,
                ))
            }
            Ok(WaitStatus::Stopped(..)) => {
                // Consume the stop report (WNOWAIT left it).
                let _ = waitid(
                    Id::Pid(command),
                    WaitPidFlag::WSTOPPED | WaitPidFlag::WNOHANG,
                );
                return Ok(true);
            }
            Ok(_) => return Ok(false),
        }
    }
}

/// The command's id-map files, opened by pid 1 at its stop ([`open`]).
pub struct Maps {
    command: i32,
    uid_map: std::fs::File,
    setgroups: std::fs::File,
    gid_map: std::fs::File,
}

/// Pid 1's side, right after forking `command`: open its maps at its stop, and continue it.
/// `None` when the command ended before (its wait status says why).
pub fn open(command: i32) -> Result<Option<Maps>> {
    let pid = Pid::from_raw(command);
    if !stopped(pid)? {
        return Ok(None);
    }
    let open = |file: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{command}/{file}"))
            .map_err(|e| Error::setup(format!("{WHAT} (open /proc/{command}/{file})"), &e))
    };
    let files = [open("uid_map"), open("setgroups"), open("gid_map")];
    nix::sys::signal::kill(pid, Signal::SIGCONT)
        .map_err(|e| Error::setup(format!("{WHAT} (continue the command)"), e as i32))?;
    let [uid_map, setgroups, gid_map] = files;
    Ok(Some(Maps {
        command,
        uid_map: uid_map?,
        setgroups: setgroups?,
        gid_map: gid_map?,
    }))
}

impl Maps {
    /// Write the maps: the host ids, 0 in the jail's namespace, are the command's own ids again
    /// in its nested one; setgroups "deny" before the gid map, as an unprivileged writer must.
    /// Call once the command asked for its channels (it is non-dumpable by then).
    pub fn write(mut self, ids: HostIds) -> Result<()> {
        // Each file takes one write(2): a map is parsed from the first write, and only once.
        self.uid_map
            .write_all(format!("{} 0 1\n", ids.uid).as_bytes())
            .and_then(|()| self.setgroups.write_all(b"deny\n"))
            .and_then(|()| {
                self.gid_map
                    .write_all(format!("{} 0 1\n", ids.gid).as_bytes())
            })
            .map_err(|e| {
                Error::setup(
                    format!("{WHAT} (write /proc/{}'s id maps)", self.command),
                    &e,
                )
            })
    }
}
