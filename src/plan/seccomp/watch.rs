//! Limit watch points: the few calls the filter routes to the supervisor so that a limit the
//! kernel enforces without a trace can be named in the report. The rlimits that back `memory`
//! and `open_files` when no cgroup counts for them refuse with an errno (ENOMEM, EMFILE) and
//! keep no record; the command then prints "MemoryError" or "Too many open files" and the report
//! could not say why. At a watch point the calling thread waits while the supervisor looks
//! (`supervisor::witness`), then gets the answer below.
//!
//! | limit | watched call | answer | the supervisor sees |
//! |---|---|---|---|
//! | `memory` (RLIMIT_DATA, RLIMIT_AS) | `mmap` of more than the whole limit: more than RLIMIT_AS, or more than RLIMIT_DATA for a private writable mapping (not `MAP_FIXED`, not a stack) | ENOMEM, the kernel's own answer to that call | an allocation the limit refuses whatever the process holds |
//! | `open_files` (RLIMIT_NOFILE) | `close(N - 1)`, and `exit_group` with a non-zero status | the call runs unchanged (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) | whether the caller holds every descriptor up to N - 1 |
//!
//! Why only these. Until the supervisor has received a notification, the waiting thread can be
//! interrupted by a signal, and a handler installed without `SA_RESTART` then sees the call fail
//! with EINTR (seccomp's `WAIT_KILLABLE_RECV` covers only the wait after the receipt). For the
//! `mmap` above that changes nothing: it fails either way. For `close(N - 1)` it leaves the
//! descriptor open and for a failing `exit_group` glibc falls back to ending the thread, which
//! ends a single-threaded process the same way; both calls are rare. Every `clone`, watched to
//! count forks refused at RLIMIT_NPROC, made shells print "Cannot fork" on a loaded machine, so
//! forks are not watched (docs/limits.md).
//!
//! Cost: a watched call leaves the kernel's per-syscall "always allowed" cache (Linux 5.11), so
//! each `mmap`, `close` and `exit_group` runs the BPF program; only the calls that match pay the
//! round trip to the supervisor. Figures: docs/limits.md. A watch is compiled in only when an
//! rlimit enforces its limit: with a cgroup, `memory.events` counts itself.

use super::bpf::arg_lo;
use super::{Op, Verdict};
use crate::plan::limits::{LimitPlan, Mechanism};
use crate::policy::Limits;

/// What one watch point is, in the shadow program's answer (its `SECCOMP_RET_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchPoint {
    /// mmap(addr, len, prot, flags, ...) larger than the limit that counts it: refused.
    Map,
    /// close(N - 1): the highest descriptor the limit allows is open (or was).
    CloseLast,
    /// exit_group(status) with a non-zero status: a process fails holding its descriptors.
    FailingExit,
}

impl WatchPoint {
    /// Every point, for the shadow's code and its tests.
    pub const ALL: [WatchPoint; 3] = [
        WatchPoint::Map,
        WatchPoint::CloseLast,
        WatchPoint::FailingExit,
    ];

    /// The code the shadow program returns for this point (1-based: 0 is no point).
    pub fn code(self) -> u32 {
        match self {
            WatchPoint::Map => 1,
            WatchPoint::CloseLast => 2,
            WatchPoint::FailingExit => 3,
        }
    }

    pub fn from_code(code: u32) -> Option<WatchPoint> {
        WatchPoint::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The errno the call gets, or `None` when it runs unchanged.
    pub fn refusal(self) -> Option<i32> {
        match self {
            WatchPoint::Map => Some(libc::ENOMEM),
            WatchPoint::CloseLast | WatchPoint::FailingExit => None,
        }
    }
}

/// The memory limits a mapping is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryWatch {
    /// RLIMIT_DATA, bytes.
    pub data: u64,
    /// RLIMIT_AS (the backstop), bytes.
    pub address_space: u64,
}

/// Which watch points this run compiles in, with the limits the supervisor judges them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watch {
    pub memory: Option<MemoryWatch>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
}

/// The `mmap` flags that make a mapping one RLIMIT_DATA does not count, or one whose size the
/// kernel may offset against what it replaces (`MAP_FIXED`): `MAP_SHARED` (bit 0, also set in
/// `MAP_SHARED_VALIDATE`), `MAP_FIXED`, `MAP_GROWSDOWN` (a stack).
const NOT_DATA: u32 = 0x01 | 0x10 | 0x0100;

impl Watch {
    /// The watch points for `limits` as `plan` enforces them: only rlimit-enforced limits.
    pub fn for_limits(limits: &Limits, plan: &LimitPlan) -> Watch {
        let rlimit = |m: Mechanism, v: Option<u64>| v.filter(|_| m == Mechanism::Rlimit);
        Watch {
            memory: rlimit(plan.memory, limits.memory)
                .filter(|m| *m > 0)
                .map(|m| MemoryWatch {
                    data: m,
                    address_space: crate::plan::limits::as_backstop(m),
                }),
            open_files: rlimit(plan.open_files, limits.open_files)
                .filter(|n| *n > 0 && u32::try_from(*n).is_ok()),
        }
    }

    /// The rule blocks for the watched syscalls, as `(name, ops)`: each block ends in a return
    /// and is entered when the syscall number matched.
    pub(super) fn blocks(&self) -> Vec<(&'static str, Vec<Op>)> {
        let mut out = Vec::new();
        if let Some(m) = self.memory {
            out.push(("mmap", mmap_block(m)));
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
}

/// mmap(addr, len, prot, flags, fd, off): watch when `len` (64 bits) is above RLIMIT_AS, or
/// above RLIMIT_DATA with `PROT_WRITE` and none of [`NOT_DATA`]; else allow.
fn mmap_block(m: MemoryWatch) -> Vec<Op> {
    let (as_hi, as_lo) = halves(m.address_space);
    let (d_hi, d_lo) = halves(m.data);
    let len_hi = arg_lo(1) + 4;
    let watch = Op::Ret(Verdict::Watch(WatchPoint::Map));
    vec![
        Op::Ld(len_hi),                    // 0
        Op::Jgt(as_hi, 12, 0),             // 1: hi > AS hi -> 14
        Op::Jeq(as_hi, 0, 2),              // 2: hi < AS hi -> 5
        Op::Ld(arg_lo(1)),                 // 3
        Op::Jgt(as_lo, 9, 0),              // 4: -> 14
        Op::Ld(arg_lo(2)),                 // 5: prot
        Op::Jset(libc_prot_write(), 0, 8), // 6: not writable -> 15
        Op::Ld(arg_lo(3)),                 // 7: flags
        Op::Jset(NOT_DATA, 6, 0),          // 8: -> 15
        Op::Ld(len_hi),                    // 9
        Op::Jgt(d_hi, 3, 0),               // 10: -> 14
        Op::Jeq(d_hi, 0, 3),               // 11: hi < DATA hi -> 15
        Op::Ld(arg_lo(1)),                 // 12
        Op::Jgt(d_lo, 0, 1),               // 13: -> 14 : 15
        watch,                             // 14
        Op::Ret(Verdict::Allow),           // 15
    ]
}

/// `PROT_WRITE` (2).
fn libc_prot_write() -> u32 {
    libc::PROT_WRITE.unsigned_abs()
}

/// (high, low) 32-bit words of `x`.
fn halves(x: u64) -> (u32, u32) {
    (
        u32::try_from(x >> 32).unwrap_or(u32::MAX),
        u32::try_from(x & 0xffff_ffff).unwrap_or(0),
    )
}
