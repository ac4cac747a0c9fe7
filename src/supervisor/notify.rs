//! The supervisor's side of the filter: receive each user notification, answer it, and keep a
//! count per syscall name for the report and the one-line stderr summary.

use super::learning::{Learning, Observed};
use super::observe;
use super::witness::{Witness, Witnessed};
use crate::error::{Error, Result};
use crate::plan::seccomp::bpf::SeccompData;
use crate::plan::seccomp::{Answer, CheckedShadow, Program, WatchPoint};
use crate::policy::syscalls::{Arch, MFD_NOEXEC_SEAL};
use crate::policy::Policy;
use crate::sys::seccomp as sys;
use serde::Serialize;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

pub use crate::plan::seccomp::DenialRule;

/// One denied syscall, as the supervisor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Syscall name (`syscall_N` when the number is not in tooljail's table; [`Denials`] counts
    /// all of those in one `unknown` entry).
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
    /// `None` if the shadow failed its check (never, for a compiled Program): every
    /// notification is then answered Kill.
    shadow: Option<CheckedShadow>,
    arch: Arch,
    /// What the limit watch points showed ([`super::witness`]).
    witness: Witness,
    /// A learning run's record of every call ([`super::learning`]).
    learning: Option<Learning>,
}

impl Notifier {
    /// Take the listener the command sent over `sock` (see `install`). Blocks until it arrives,
    /// so the supervisor calls this when poll reports `sock` readable. Fails when the command
    /// side closed the socket without sending (its setup failed before the filter: the error
    /// pipe says why). `prog` is the same Program the command installed.
    pub fn from_handoff(sock: BorrowedFd<'_>, prog: &Program) -> Result<Notifier> {
        match sys::recv_fd(sock) {
            Ok(Some(fd)) => Ok(Notifier::from_listener(fd, prog)),
            Ok(None) => Err(Error::setup(
                "receive the seccomp listener",
                "the command closed the hand-off socket without sending the listener",
            )),
            Err(e) => Err(Error::setup("receive the seccomp listener", &e)),
        }
    }

    /// Wrap a listener fd already at hand.
    pub fn from_listener(listener: OwnedFd, prog: &Program) -> Notifier {
        let _ = sys::notif_sync_wake_up(listener.as_fd());
        Notifier {
            listener,
            shadow: CheckedShadow::new(prog.shadow()),
            arch: prog.arch(),
            witness: Witness::new(prog.watch()),
            learning: prog.learns().then(Learning::default),
        }
    }

    /// What the limit watch points showed so far.
    pub fn witnessed(&self) -> &Witnessed {
        self.witness.witnessed()
    }

    /// A learning run's record so far; `None` for any other run.
    pub fn observed(&self) -> Option<&Observed> {
        self.learning.as_ref().map(Learning::observed)
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
    /// was nothing to take after all (the caller died first, or a signal interrupted the wait),
    /// or nothing to say (an observed call the kernel will allow). Blocks when nothing is
    /// pending: call it when poll reports POLLIN. `policy`: what an observed call is judged
    /// by (see [`observe::inspect`]); `None` records no observation.
    pub fn handle(&mut self, policy: Option<&Policy>) -> Result<Option<Event>> {
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
            nr: u32::from_ne_bytes(n.data.nr.to_ne_bytes()),
            arch: n.data.arch,
            instruction_pointer: n.data.instruction_pointer,
            args: n.data.args,
        };
        let arch = Arch::from_audit_arch(data.arch).unwrap_or(self.arch);
        let name = arch
            .name_of(data.nr)
            .map(str::to_string)
            .unwrap_or_else(|| format!("syscall_{}", data.nr));
        let answer = self
            .shadow
            .as_ref()
            .map_or(Answer::Kill, |s| s.answer(&data));
        if let (Some(l), Answer::Observe | Answer::Watch(_) | Answer::MemfdSubstitute) =
            (self.learning.as_mut(), answer)
        {
            // Learning: a call that goes on (the caller still waits for the answer below).
            l.record(n.pid, &name, arch.name(), &data.args);
        }
        let (rule, errno, kill) = match answer {
            Answer::Deny(rule, errno) => {
                self.deny(n.id, errno)?;
                (rule, Some(errno), false)
            }
            Answer::Kill => (DenialRule::Profile, None, true),
            Answer::MemfdSubstitute => match self.substitute_memfd(n.id, low32(data.args[1]))? {
                None => return Ok(None),
                Some(errno) => (DenialRule::Hardening, Some(errno), false),
            },
            Answer::Watch(point) => {
                self.watched(n.id, point, n.pid, &data)?;
                return Ok(None);
            }
            Answer::Observe => {
                let seen = policy.and_then(|p| observe::inspect(n.pid, &name, &data.args, p));
                // Still pending, so what /proc/PID showed was the caller's (not a process that
                // took its pid after it died); checked before the answer, which ends it.
                let caller = sys::notif_id_valid(self.listener.as_fd(), n.id);
                self.proceed(n.id)?;
                return Ok(seen.filter(|_| caller).map(Event::Blocked));
            }
        };
        Ok(Some(Event::Denied(Denial {
            name,
            arch: arch.name().to_string(),
            nr: data.nr,
            pid: n.pid,
            rule,
            errno,
            kill,
        })))
    }
}

/// What one notification leaves to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The filter denied the call.
    Denied(Denial),
    /// The kernel will refuse an exec or an executable mapping of this file: a place without
    /// exec rights (the call itself went on unchanged).
    Blocked(observe::Blocked),
}

impl Notifier {
    /// A limit watch point: look at the caller (blocked in the call), keep what was seen if
    /// the notification is still pending (the pid still names that thread), then answer: the
    /// kernel's own errno for a call the limit refuses, else let it run.
    fn watched(&mut self, id: u64, point: WatchPoint, pid: u32, data: &SeccompData) -> Result<()> {
        let seen = self.witness.look(point, pid, data);
        if sys::notif_id_valid(self.listener.as_fd(), id) {
            self.witness.record(seen);
        }
        if let Some(errno) = point.refusal() {
            return self.deny(id, errno);
        }
        self.proceed(id)
    }

    /// Let notification `id`'s syscall run in the kernel (an observed or watched call;
    /// ENOENT: the caller died meanwhile, nothing to let run).
    fn proceed(&self, id: u64) -> Result<()> {
        match sys::notif_continue(self.listener.as_fd(), id) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(Error::setup(
                "answer a seccomp notification",
                e.raw_os_error().unwrap_or(libc::EIO),
            )),
            _ => Ok(()),
        }
    }

    /// Fail notification `id`'s syscall with `errno`.
    fn deny(&self, id: u64, errno: i32) -> Result<()> {
        match sys::notif_deny(self.listener.as_fd(), id, errno) {
            // ENOENT: the caller died meanwhile; the call was still attempted.
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(Error::setup(
                "answer a seccomp notification",
                e.raw_os_error().unwrap_or(libc::EIO),
            )),
            _ => Ok(()),
        }
    }

    /// Answer `memfd_create(name, flags)` (flags without MFD_EXEC and MFD_NOEXEC_SEAL, the
    /// filter checked) with a memfd made here with `flags | MFD_NOEXEC_SEAL`: the kernel's own
    /// answer under `vm.memfd_noexec = 2`. The caller gets a working memfd it can never execute
    /// (mode 0666 and F_SEAL_EXEC). Its name reads `tooljail`, not the one asked for: reading
    /// the caller's memory is not worth a ptrace-class access for a label. A flag the kernel
    /// rejects fails the call with the kernel's errno, as it would have without tooljail.
    /// MFD_CLOEXEC decides the caller's copy; the supervisor's own copy is always
    /// close-on-exec and closed on return. The pages are charged to the jail that writes them.
    ///
    /// `Some(EACCES)` (a hardening denial to record) when this kernel does not know the seal
    /// (before Linux 6.3): no memfd rather than an executable one. `None` otherwise.
    fn substitute_memfd(&self, id: u64, flags: u32) -> Result<Option<i32>> {
        let cloexec = flags & libc::MFD_CLOEXEC != 0;
        let fd = match sys::memfd_create(flags | MFD_NOEXEC_SEAL | libc::MFD_CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EINVAL);
                if errno == libc::EINVAL && !crate::preflight::probe::memfd_noexec_seal() {
                    self.deny(id, libc::EACCES)?;
                    return Ok(Some(libc::EACCES));
                }
                return self.deny(id, errno).map(|()| None);
            }
        };
        match sys::notif_addfd_send(self.listener.as_fd(), id, fd.as_fd(), cloexec) {
            Ok(_) => Ok(None),
            Err(e) => match e.raw_os_error() {
                // The caller died, or the notification is gone: nothing to answer.
                Some(libc::ENOENT) => Ok(None),
                // The caller's fd table refused the fd (RLIMIT_NOFILE, the system's limit, no
                // memory): the call fails with that errno, as it would have in the kernel. The
                // notification is still pending then (the kernel answers it only on success).
                Some(errno @ (libc::EMFILE | libc::ENFILE | libc::ENOMEM)) => {
                    self.deny(id, errno).map(|()| None)
                }
                // Anything else, EINTR above all: the kernel may already have answered the
                // call (with SEND, the reply is marked before the fd is installed), so nothing
                // can be said about the caller's state. Fail: the supervisor ends the jail.
                errno => Err(Error::setup(
                    "hand a memfd to the jail (SECCOMP_IOCTL_NOTIF_ADDFD)",
                    errno.unwrap_or(libc::EIO),
                )),
            },
        }
    }
}

/// Distinct entries a [`Denials`] keeps. Past this, denials are only counted (in
/// [`Denials::others`]), so a tool that loops over thousands of different syscalls cannot bloat
/// the report and the audit log; the totals stay exact.
pub const MAX_ENTRIES: usize = 64;
/// Syscall numbers the `unknown` entry keeps as examples.
pub const MAX_UNKNOWN_EXAMPLES: usize = 8;
/// The entry name for every number tooljail's table has no name for (one entry per arch).
pub const UNKNOWN: &str = "unknown";
/// Entries the stderr summary line names; the rest are summed up.
const SUMMARY_ENTRIES: usize = 8;

/// Denials of one run, one entry per (name, arch) in order of first occurrence, at most
/// [`MAX_ENTRIES`]. Numbers with no name share one `unknown` entry per architecture.
/// Serializes as the list of entries, followed by `{"name":"(others)","count":N}` when the cap
/// dropped some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denials {
    entries: Vec<DenialCount>,
    /// arch -> (nr, or None for the unknown bucket) -> index in `entries`.
    index: HashMap<String, HashMap<Option<u32>, usize>>,
    others: u64,
}

/// How often one syscall was denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenialCount {
    /// The syscall's name, or [`UNKNOWN`] for the numbers tooljail has no name for.
    pub name: String,
    pub arch: String,
    /// The syscall number (for `unknown`: the first one seen).
    pub nr: u32,
    pub rule: DenialRule,
    pub count: u64,
    /// For `unknown`: the first [`MAX_UNKNOWN_EXAMPLES`] distinct numbers seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<u32>,
}

impl DenialCount {
    /// `ptrace(x86_64) x1`, or `unknown(x86_64) x5 (nr 1000, 1001, ...)`.
    fn short(&self) -> String {
        let mut s = format!("{}({}) x{}", self.name, self.arch, self.count);
        if !self.examples.is_empty() {
            let nrs: Vec<String> = self.examples.iter().map(u32::to_string).collect();
            let more = if self.examples.len() == MAX_UNKNOWN_EXAMPLES {
                ", ..."
            } else {
                ""
            };
            s.push_str(&format!(" (nr {}{more})", nrs.join(", ")));
        }
        s
    }
}

/// Whether tooljail's table names `nr` on the architecture called `arch`.
fn is_named(arch: &str, nr: u32) -> bool {
    Arch::ALL
        .iter()
        .any(|a| a.name() == arch && a.name_of(nr).is_some())
}

impl Denials {
    /// Count one denial: O(1) (two hash lookups), bounded memory.
    pub fn record(&mut self, d: &Denial) {
        let named = is_named(&d.arch, d.nr);
        let key = named.then_some(d.nr);
        if let Some(&i) = self.index.get(d.arch.as_str()).and_then(|m| m.get(&key)) {
            let e = &mut self.entries[i];
            e.count += 1;
            if !named && e.examples.len() < MAX_UNKNOWN_EXAMPLES && !e.examples.contains(&d.nr) {
                e.examples.push(d.nr);
            }
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.others += 1;
            return;
        }
        let (name, examples) = if named {
            (d.name.clone(), Vec::new())
        } else {
            (UNKNOWN.to_string(), vec![d.nr])
        };
        self.index
            .entry(d.arch.clone())
            .or_default()
            .insert(key, self.entries.len());
        self.entries.push(DenialCount {
            name,
            arch: d.arch.clone(),
            nr: d.nr,
            rule: d.rule,
            count: 1,
            examples,
        });
    }

    /// The entries kept, in order of first occurrence.
    pub fn entries(&self) -> &[DenialCount] {
        &self.entries
    }

    /// Denials not in [`Denials::entries`] because the cap was reached.
    pub fn others(&self) -> u64 {
        self.others
    }

    /// Every denial counted, kept or not.
    pub fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.count).sum::<u64>() + self.others
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.others == 0
    }

    /// The one-line stderr summary, `None` when nothing was denied:
    /// `tooljail: denied syscalls: ptrace(x86_64) x1, setns(x86_64) x2; allow them in
    /// [syscalls] if the tool needs them`. Hardening denials name their only way out. At most
    /// [`SUMMARY_ENTRIES`] entries are named; the rest are summed as `... and N more denials`.
    pub fn summary_line(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let shown = &self.entries[..self.entries.len().min(SUMMARY_ENTRIES)];
        let mut list: Vec<String> = shown.iter().map(DenialCount::short).collect();
        let rest: u64 = self.total() - shown.iter().map(|e| e.count).sum::<u64>();
        if rest > 0 {
            list.push(format!("... and {rest} more denials (see --report)"));
        }
        let hard: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| e.rule == DenialRule::Hardening)
            .map(|e| e.name.as_str())
            .collect();
        let hint = if hard.is_empty() {
            "allow them in [syscalls] if the tool needs them".to_string()
        } else if hard.len() == self.entries.len() && self.others == 0 {
            "these are always denied; only [syscalls] unsafe_allow lifts them".to_string()
        } else {
            let mut names = hard[..hard.len().min(SUMMARY_ENTRIES)].join(", ");
            if hard.len() > SUMMARY_ENTRIES {
                names.push_str(", ...");
            }
            format!(
                "allow them in [syscalls] if the tool needs them ({names} always denied: only \
                 [syscalls] unsafe_allow lifts that)"
            )
        };
        Some(format!(
            "tooljail: denied syscalls: {}; {hint}",
            list.join(", ")
        ))
    }
}

/// The `(others)` entry that ends a truncated list.
#[derive(Serialize)]
struct OthersEntry {
    name: &'static str,
    count: u64,
}

/// The name of the entry that counts the denials past [`MAX_ENTRIES`].
pub const OTHERS: &str = "(others)";

impl Serialize for Denials {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let extra = usize::from(self.others > 0);
        let mut seq = s.serialize_seq(Some(self.entries.len() + extra))?;
        for e in &self.entries {
            seq.serialize_element(e)?;
        }
        if self.others > 0 {
            seq.serialize_element(&OthersEntry {
                name: OTHERS,
                count: self.others,
            })?;
        }
        seq.end()
    }
}

/// The low 32 bits of a syscall argument: what the kernel reads for an `unsigned int` parameter
/// (memfd_create's flags), and what the filter compared.
fn low32(arg: u64) -> u32 {
    u32::try_from(arg & 0xffff_ffff).unwrap_or(0)
}

#[cfg(test)]
mod tests;
