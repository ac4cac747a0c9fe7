//! Limit watch points: the few syscalls the filter routes to the supervisor only so that it can
//! look, never to deny. The rlimits that back `processes`, `memory` and `open_files` when no
//! cgroup counts for them refuse with an errno (EAGAIN, ENOMEM, EMFILE) and leave no record; the
//! command then prints "Cannot fork" or "MemoryError" and the report could not say why. At a
//! watch point the calling thread waits while the supervisor reads the jail's state in /proc
//! (`supervisor::witness`), then the call runs unchanged (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
//!
//! | limit | watched call | the supervisor reads | so it knows |
//! |---|---|---|---|
//! | `processes` (RLIMIT_NPROC) | every `clone`, `fork`, `vfork` | the jail's tasks | whether the kernel will refuse this one (the jail holds all N) |
//! | `memory` (RLIMIT_DATA, RLIMIT_AS) | `mmap` of at least [`MemoryWatch::threshold`] bytes, `mremap` to at least that | the caller's VmData and VmSize | whether this mapping will be refused |
//! | `open_files` (RLIMIT_NOFILE) | `close(N - 1)`, and `exit_group` with a non-zero status | the caller's open descriptors | whether it holds all N (a further open fails with EMFILE) |
//!
//! Cost: a watched call leaves the kernel's per-syscall "always allowed" cache (Linux 5.11), so
//! each `mmap`, `mremap`, `close`, `exit_group` runs the BPF program (clone already did, for its
//! namespace rule); only the calls that match pay the round trip to the supervisor. Measured
//! figures: docs/limits.md. A watch is compiled in only when its limit is enforced by an rlimit:
//! with a cgroup, `pids.events` and `memory.events` count refusals themselves.

use super::bpf::arg_lo;
use super::{Op, Verdict};
use crate::plan::limits::{LimitPlan, Mechanism};
use crate::policy::Limits;

/// What one watch point is, in the shadow program's answer (its `SECCOMP_RET_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchPoint {
    /// clone, fork, vfork: a task is about to be created.
    Fork,
    /// mmap(addr, len, prot, flags, ...) with `len` at least the threshold.
    Map,
    /// mremap(old, old_len, new_len, ...) with `new_len` at least the threshold.
    Remap,
    /// close(N - 1): the highest descriptor the limit allows is open (or was).
    CloseLast,
    /// exit_group(status) with a non-zero status: a process fails holding its descriptors.
    FailingExit,
}

impl WatchPoint {
    /// Every point, for the shadow's code and its tests.
    pub const ALL: [WatchPoint; 5] = [
        WatchPoint::Fork,
        WatchPoint::Map,
        WatchPoint::Remap,
        WatchPoint::CloseLast,
        WatchPoint::FailingExit,
    ];

    /// The code the shadow program returns for this point (1-based: 0 is no point).
    pub fn code(self) -> u32 {
        match self {
            WatchPoint::Fork => 1,
            WatchPoint::Map => 2,
            WatchPoint::Remap => 3,
            WatchPoint::CloseLast => 4,
            WatchPoint::FailingExit => 5,
        }
    }

    pub fn from_code(code: u32) -> Option<WatchPoint> {
        WatchPoint::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// The memory limits a mapping is judged against, and the size that makes it worth a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryWatch {
    /// RLIMIT_DATA, bytes.
    pub data: u64,
    /// RLIMIT_AS (the backstop), bytes.
    pub address_space: u64,
    /// Mappings of at least this many bytes are watched: [`THRESHOLD_SHARE`] of the limit.
    pub threshold: u64,
}

/// Watched mappings are at least 1/16 of the memory limit (64 MiB under the default 1 GiB).
/// Smaller ones that fail are the last steps of a balloon, which the resident-set evidence
/// already names (`outcome::RSS_SHARE_PERCENT`); a larger share would miss a refused 100 MiB
/// buffer under 1 GiB. Every watched mapping is large, so its page faults cost far more than
/// the supervisor's look.
pub const THRESHOLD_SHARE: u64 = 16;

/// Which watch points this run compiles in, with the limits the supervisor judges them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watch {
    /// RLIMIT_NPROC.
    pub processes: Option<u64>,
    pub memory: Option<MemoryWatch>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
}

impl Watch {
    /// The watch points for `limits` as `plan` enforces them: only rlimit-enforced limits.
    pub fn for_limits(limits: &Limits, plan: &LimitPlan) -> Watch {
        let rlimit = |m: Mechanism, v: Option<u64>| v.filter(|_| m == Mechanism::Rlimit);
        Watch {
            processes: rlimit(plan.processes, limits.processes).filter(|n| *n > 0),
            memory: rlimit(plan.memory, limits.memory)
                .filter(|m| *m > 0)
                .map(|m| MemoryWatch {
                    data: m,
                    address_space: crate::plan::limits::as_backstop(m),
                    threshold: (m / THRESHOLD_SHARE).max(4096) & !4095,
                }),
            open_files: rlimit(plan.open_files, limits.open_files)
                .filter(|n| *n > 0 && u32::try_from(*n).is_ok()),
        }
    }

    /// What the allowed branch of clone's namespace rule returns.
    pub(super) fn clone_verdict(&self) -> Verdict {
        if self.processes.is_some() {
            Verdict::Watch(WatchPoint::Fork)
        } else {
            Verdict::Allow
        }
    }

    /// The rule blocks for the watched syscalls, as `(name, ops)`: each block ends in a return
    /// and is entered when the syscall number matched. clone is not here: its namespace rule
    /// returns [`Watch::clone_verdict`] (or, with that rule lifted, [`Watch::plain_clone`]).
    pub(super) fn blocks(&self) -> Vec<(&'static str, Vec<Op>)> {
        let mut out = Vec::new();
        if self.processes.is_some() {
            for name in ["fork", "vfork"] {
                out.push((name, vec![Op::Ret(Verdict::Watch(WatchPoint::Fork))]));
            }
        }
        if let Some(m) = self.memory {
            out.push(("mmap", at_least(1, m.threshold, WatchPoint::Map)));
            out.push(("mremap", at_least(2, m.threshold, WatchPoint::Remap)));
        }
        if let Some(n) = self.open_files.and_then(|n| u32::try_from(n - 1).ok()) {
            // close(unsigned int fd): the low 32 bits.
            out.push((
                "close",
                vec![
                    Op::Ld(arg_lo(0)),
                    Op::Jeq(n, 0, 1),
                    Op::Ret(Verdict::Watch(WatchPoint::CloseLast)),
                    Op::Ret(Verdict::Allow),
                ],
            ));
            // exit_group(int status): the kernel keeps `status & 0xff` as the exit code.
            out.push((
                "exit_group",
                vec![
                    Op::Ld(arg_lo(0)),
                    Op::Jset(0xff, 0, 1),
                    Op::Ret(Verdict::Watch(WatchPoint::FailingExit)),
                    Op::Ret(Verdict::Allow),
                ],
            ));
        }
        out
    }

    /// clone's block when its namespace rule is lifted (`unsafe_allow`): watch every call.
    pub(super) fn plain_clone(&self) -> Option<Vec<Op>> {
        self.processes
            .map(|_| vec![Op::Ret(Verdict::Watch(WatchPoint::Fork))])
    }
}

/// `args[i] >= min` for a 64-bit argument (a length), then `point`, else allow:
/// high word above min's, or equal and the low word at least min's.
fn at_least(i: u32, min: u64, point: WatchPoint) -> Vec<Op> {
    let hi = u32::try_from(min >> 32).unwrap_or(u32::MAX);
    let lo = u32::try_from(min & 0xffff_ffff).unwrap_or(0);
    vec![
        Op::Ld(arg_lo(i) + 4),
        Op::Jgt(hi, 3, 0),
        Op::Jeq(hi, 0, 3),
        Op::Ld(arg_lo(i)),
        Op::Jge(lo, 0, 1),
        Op::Ret(Verdict::Watch(point)),
        Op::Ret(Verdict::Allow),
    ]
}
