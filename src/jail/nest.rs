//! The command's own user namespace, nested in the jail's, with its id maps written by pid 1,
//! so that the command never holds a descriptor while it is dumpable.
//!
//! A task's `/proc/PID/uid_map` belongs to root while the task is non-dumpable, so the command
//! must be dumpable for its maps to be opened at all; while it is, any host process of the
//! jail's uid may take its descriptors. So the command only *lets* them be opened: it stops
//! itself (SIGSTOP) once dumpable, pid 1 (never dumpable) opens the three files, the command
//! is continued, makes itself non-dumpable and stops again, and only then pid 1 writes the maps
//! through the descriptors it holds (the kernel checks the opener's credentials, not the
//! writer's state). No descriptor but stdio is ever in the command's table while it is
//! dumpable (its channels come later: [`super::handoff`]).
//!
//! A process that sends the command SIGCONT early, or kills it, only makes the call fail.

use super::HostIds;
use crate::error::{Error, Result};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;

const WHAT: &str = "create the command's user namespace";

/// The command's side: unshare(CLONE_NEWUSER), then the two stops pid 1 waits for (see the
/// module). Then [`verify`].
pub fn enter() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| crate::supervisor::userns::unshare_refused(e as i32))?;
    let fail = |e: nix::errno::Errno| Error::setup(WHAT, e as i32);
    nix::sys::prctl::set_dumpable(true).map_err(fail)?;
    nix::sys::signal::raise(Signal::SIGSTOP).map_err(fail)?;
    nix::sys::prctl::set_dumpable(false).map_err(fail)?;
    nix::sys::signal::raise(Signal::SIGSTOP).map_err(fail)
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

/// Pid 1's side, right after forking `command`: open its maps at its first stop, write them at
/// its second. `Ok` also when the command ended before (its wait status says why).
pub fn map(command: i32, ids: HostIds) -> Result<()> {
    let pid = Pid::from_raw(command);
    if !stopped(pid)? {
        return Ok(());
    }
    let open = |file: &str| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{command}/{file}"))
            .map_err(|e| Error::setup(format!("{WHAT} (open /proc/{command}/{file})"), &e))
    };
    let files = [open("uid_map"), open("setgroups"), open("gid_map")];
    let cont = || {
        nix::sys::signal::kill(pid, Signal::SIGCONT)
            .map_err(|e| Error::setup(format!("{WHAT} (continue the command)"), e as i32))
    };
    cont()?;
    let [uid_map, setgroups, gid_map] = files;
    let (mut uid_map, mut setgroups, mut gid_map) = (uid_map?, setgroups?, gid_map?);
    if !stopped(pid)? {
        return Ok(());
    }
    // The host ids, 0 in the jail's namespace, are the command's own ids again in its nested
    // one; setgroups "deny" before the gid map, as an unprivileged writer must.
    // Each file takes one write(2): a map is parsed from the first write, and only once.
    let written = uid_map
        .write_all(format!("{} 0 1\n", ids.uid).as_bytes())
        .and_then(|()| setgroups.write_all(b"deny\n"))
        .and_then(|()| gid_map.write_all(format!("{} 0 1\n", ids.gid).as_bytes()))
        .map_err(|e| Error::setup(format!("{WHAT} (write /proc/{command}'s id maps)"), &e));
    cont()?;
    written
}
