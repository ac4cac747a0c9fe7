//! The supervisor's side of the filter: receive each user notification, answer it, and keep a
//! count per syscall name for the report and the one-line stderr summary.

use super::{answer, Answer, Program};
use crate::error::{Error, ErrorKind, Result};
use crate::jail::seccomp::bpf::{Insn, SeccompData};
use crate::policy::syscalls::Arch;
use crate::sys::seccomp as sys;
use serde::Serialize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Which rule denied a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialRule {
    /// Outside the profile's allow-list: `[syscalls] allow` can permit it.
    Profile,
    /// An always-denied hardening rule: only `[syscalls] unsafe_allow` lifts it.
    Hardening,
}

/// One denied syscall, as the supervisor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Syscall name (`syscall_N` when the number is not in tooljail's table).
    pub name: String,
    /// Architecture of the call (`x86_64`, `aarch64`).
    pub arch: String,
    pub nr: u32,
    /// Thread id of the caller, in the supervisor's pid namespace.
    pub pid: u32,
    pub rule: DenialRule,
    /// The errno the call failed with; `None` for the Kill action (the call was not answered).
    pub errno: Option<i32>,
    /// The profile's action is Kill: the caller must kill the jail now. The denied thread stays
    /// blocked in the syscall until then, so no code of the tool runs after the violation.
    pub kill: bool,
}

/// Receives and answers the notifications of one jail's filter.
#[derive(Debug)]
pub struct Notifier {
    listener: OwnedFd,
    shadow: Vec<Insn>,
    arch: Arch,
}

impl Notifier {
    /// Take the listener the command sent over `sock` (see `install`). Blocks until it arrives,
    /// so the supervisor calls this when poll reports `sock` readable. Fails when the command
    /// side closed the socket without sending (its setup failed before the filter: the error
    /// pipe says why). `prog` is the same Program the command installed.
    pub fn from_handoff(sock: BorrowedFd<'_>, prog: &Program) -> Result<Notifier> {
        match sys::recv_fd(sock) {
            Ok(Some(fd)) => Ok(Notifier::from_listener(fd, prog)),
            Ok(None) => Err(Error::new(
                ErrorKind::Setup,
                "setup step \"receive the seccomp listener\"",
                "the command closed the hand-off socket without sending the listener",
            )),
            Err(e) => Err(Error::setup(
                "receive the seccomp listener",
                e.raw_os_error().unwrap_or(libc::EIO),
            )),
        }
    }

    /// Wrap a listener fd already at hand.
    pub fn from_listener(listener: OwnedFd, prog: &Program) -> Notifier {
        Notifier {
            listener,
            shadow: prog.shadow(),
            arch: prog.arch(),
        }
    }

    /// The fd for the poll loop: POLLIN = a notification is pending; POLLHUP = every process
    /// under the filter has exited.
    pub fn raw_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Borrow the listener fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Receive one notification, answer it, and return what to record. `Ok(None)` when there
    /// was nothing to take after all (the caller died first, or a signal interrupted the wait).
    /// Blocks when nothing is pending: call it when poll reports POLLIN.
    pub fn handle(&mut self) -> Result<Option<Denial>> {
        let n = match sys::notif_recv(self.listener.as_fd()) {
            Ok(n) => n,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINTR)) => {
                return Ok(None)
            }
            Err(e) => {
                return Err(Error::setup(
                    "receive a seccomp notification",
                    e.raw_os_error().unwrap_or(libc::EIO),
                ))
            }
        };
        let data = SeccompData {
            nr: n.data.nr as u32,
            arch: n.data.arch,
            instruction_pointer: n.data.instruction_pointer,
            args: n.data.args,
        };
        let arch = Arch::from_audit_arch(data.arch).unwrap_or(self.arch);
        let name = arch
            .name_of(data.nr)
            .map(str::to_string)
            .unwrap_or_else(|| format!("syscall_{}", data.nr));
        let (rule, errno, kill) = match answer(&self.shadow, &data) {
            Answer::Deny(rule, errno) => {
                match sys::notif_deny(self.listener.as_fd(), n.id, errno) {
                    // ENOENT: the caller died meanwhile; the call was still attempted.
                    Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                        return Err(Error::setup(
                            "answer a seccomp notification",
                            e.raw_os_error().unwrap_or(libc::EIO),
                        ))
                    }
                    _ => {}
                }
                (rule, Some(errno), false)
            }
            Answer::Kill => (DenialRule::Profile, None, true),
        };
        Ok(Some(Denial {
            name,
            arch: arch.name().to_string(),
            nr: data.nr,
            pid: n.pid,
            rule,
            errno,
            kill,
        }))
    }
}

/// Denials of one run, one entry per (name, arch) in order of first occurrence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Denials {
    entries: Vec<DenialCount>,
}

/// How often one syscall was denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenialCount {
    pub name: String,
    pub arch: String,
    pub nr: u32,
    pub rule: DenialRule,
    pub count: u64,
}

impl Denials {
    pub fn record(&mut self, d: &Denial) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.name == d.name && e.arch == d.arch)
        {
            Some(e) => e.count += 1,
            None => self.entries.push(DenialCount {
                name: d.name.clone(),
                arch: d.arch.clone(),
                nr: d.nr,
                rule: d.rule,
                count: 1,
            }),
        }
    }

    pub fn entries(&self) -> &[DenialCount] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The one-line stderr summary, `None` when nothing was denied:
    /// `tooljail: denied syscalls: ptrace(x86_64) x1, setns(x86_64) x2; allow them in
    /// [syscalls] if the tool needs them`. Hardening denials name their only way out.
    pub fn summary_line(&self) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        let list: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{}({}) x{}", e.name, e.arch, e.count))
            .collect();
        let hard: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| e.rule == DenialRule::Hardening)
            .map(|e| e.name.as_str())
            .collect();
        let hint = if hard.is_empty() {
            "allow them in [syscalls] if the tool needs them".to_string()
        } else if hard.len() == self.entries.len() {
            "these are always denied; only [syscalls] unsafe_allow lifts them".to_string()
        } else {
            format!(
                "allow them in [syscalls] if the tool needs them ({} always denied: only \
                 [syscalls] unsafe_allow lifts that)",
                hard.join(", ")
            )
        };
        Some(format!(
            "tooljail: denied syscalls: {}; {hint}",
            list.join(", ")
        ))
    }
}
