//! Resource limits, planned before clone: which mechanism enforces each of the Policy's
//! `[limits]`, the rlimits the command process sets before execve, and the SysV IPC caps pid 1
//! writes. Attribution of a stop to a limit is [`crate::outcome`]'s.
//!
//! Mechanisms, in order of preference:
//! - cgroup v2 (`memory.max` + `memory.swap.max`, `pids.max`) when tooljail can create a child
//!   cgroup with those controllers (see [`crate::cgroup`]): one budget for the whole jail;
//! - otherwise rlimits, set in the command process and inherited by everything it starts:
//!   - memory: RLIMIT_DATA, not RLIMIT_AS. RLIMIT_AS counts reserved address space, which V8
//!     (node) and the JVM reserve by the gigabyte without touching: 512 MiB of AS kills node at
//!     start, 1 GiB breaks npm. RLIMIT_DATA counts private writable mappings (heap, anonymous
//!     mmap) — what a balloon actually grows — and leaves PROT_NONE reservations alone. It does
//!     not count shared mappings, so RLIMIT_AS is set too, as a generous backstop
//!     ([`as_backstop`]: max(4 × memory, 4 GiB)). Both are per process: the jail's total is not
//!     bounded; the report's notes say so. SysV shared memory outlives its mappings, so the
//!     jail's IPC namespace caps it at the memory limit (`kernel.shmall`, set by pid 1, which
//!     owns that namespace: `jail::rootfs`), whatever the mechanism.
//!   - processes: RLIMIT_NPROC. Since Linux 5.14 it is counted per (user namespace, uid), and
//!     every jail has its own user namespace, so it caps the jail's processes and threads without
//!     touching the caller's other processes (tests/it/limits.rs proves both). The kernel ignores it
//!     for real root, which is one reason root-started jails run as nobody.
//! - always rlimits: CPU time (RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL one second later at
//!   the hard limit), open files (RLIMIT_NOFILE), file size (RLIMIT_FSIZE: SIGXFSZ), core dumps
//!   off (RLIMIT_CORE = 0: a core file would land in scratch and could carry secrets).
//! - wall time: the supervisor's deadline (SIGTERM, then SIGKILL of the jail after `kill_after`).
//! - scratch size: the tmpfs `size=` cap (ENOSPC inside).
//!
//! Attribution ([`crate::outcome::attribute`]) names the limit that stopped a failed command only from evidence
//! tooljail observed itself (signals, cgroup counters, its own counts of the jail's tasks, scratch
//! usage, rusage); what cannot be known (EMFILE from RLIMIT_NOFILE) is not guessed. The full
//! table, with what each piece of evidence proves and misses, is docs/limits.md.

use crate::policy::Limits;
use serde::{Deserialize, Serialize};

/// How one limit is enforced in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    Cgroup,
    Rlimit,
    Supervisor,
    Tmpfs,
    /// The Policy sets no such limit.
    Unlimited,
}

/// One rlimit to set in the command process: (resource, soft, hard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RlimitResource {
    Cpu,
    Data,
    /// The address-space backstop set with RLIMIT_DATA (see [`as_backstop`]).
    As,
    Nproc,
    Nofile,
    Fsize,
    Core,
    /// Signals queued to the jail's processes (counted per user namespace and uid since Linux
    /// 5.14, and charged to the host uid too): [`SIGPENDING`].
    Sigpending,
}

impl RlimitResource {
    pub fn to_nix(self) -> nix::sys::resource::Resource {
        use nix::sys::resource::Resource;
        match self {
            RlimitResource::Cpu => Resource::RLIMIT_CPU,
            RlimitResource::Data => Resource::RLIMIT_DATA,
            RlimitResource::As => Resource::RLIMIT_AS,
            RlimitResource::Nproc => Resource::RLIMIT_NPROC,
            RlimitResource::Nofile => Resource::RLIMIT_NOFILE,
            RlimitResource::Fsize => Resource::RLIMIT_FSIZE,
            RlimitResource::Core => Resource::RLIMIT_CORE,
            RlimitResource::Sigpending => Resource::RLIMIT_SIGPENDING,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RlimitResource::Cpu => "RLIMIT_CPU",
            RlimitResource::Data => "RLIMIT_DATA",
            RlimitResource::As => "RLIMIT_AS",
            RlimitResource::Nproc => "RLIMIT_NPROC",
            RlimitResource::Nofile => "RLIMIT_NOFILE",
            RlimitResource::Fsize => "RLIMIT_FSIZE",
            RlimitResource::Core => "RLIMIT_CORE",
            RlimitResource::Sigpending => "RLIMIT_SIGPENDING",
        }
    }
}

/// The mechanism chosen for each limit, for `explain`, `doctor` and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitPlan {
    pub wall_time: Mechanism,
    pub cpu_time: Mechanism,
    pub memory: Mechanism,
    pub processes: Mechanism,
    pub open_files: Mechanism,
    pub file_size: Mechanism,
    pub scratch: Mechanism,
    /// The rlimits the command process sets, in order.
    pub rlimits: Vec<Rlimit>,
    /// What the chosen mechanisms bound and what they leave open, one line each, for the report
    /// and `explain` (docs/limits.md has the full table).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The caps pid 1 writes into the jail's IPC namespace (`None` without a memory limit).
    /// Not in the report: its notes already name them.
    #[serde(skip)]
    pub ipc: Option<IpcCaps>,
}

/// The jail's SysV IPC caps, from the memory limit. SysV IPC objects outlive the processes that
/// made them and no rlimit counts them, so the IPC namespace caps each kind at the memory limit:
/// `kernel.shmmax` (one segment) and `kernel.shmall` (all segments, in pages); `kernel.msgmni`
/// so that every message queue full fits in `queue_bytes` (pid 1 divides by the kernel's
/// `kernel.msgmnb`, which only a privileged process may exceed); and SEMMNS of `kernel.sem`
/// (semaphores in all arrays) at one per [`SEM_BYTES`]. pid 1 never raises a kernel value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcCaps {
    pub shmmax: u64,
    pub shmall_pages: u64,
    pub queue_bytes: u64,
    pub semaphores: u64,
}

/// Queued signals a jail may hold (RLIMIT_SIGPENDING). The kernel charges them to the host uid
/// as well as to the jail's user namespace, and the host's default (the number of processes a
/// uid may have, tens of thousands) would let a jail fill the queue every other process of
/// that uid shares. Real tools queue a handful.
pub const SIGPENDING: u64 = 1024;

/// The jail's own limits on kernel objects charged to the host uid, written by pid 1 into the
/// jail's user namespace (`/proc/sys/user/`), which caps the jail and everything nested in it:
/// inotify instances and watches. Never raised above the kernel's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserNsCaps {
    pub inotify_instances: u64,
    pub inotify_watches: u64,
}

/// Inotify caps for one jail: a build tool or a file watcher uses a few instances and some
/// thousands of watches; the host default (128 instances per uid) is shared by every process
/// of the uid, so a jail that took them all would break the caller's own watchers.
pub const USERNS_CAPS: UserNsCaps = UserNsCaps {
    inotify_instances: 32,
    inotify_watches: 16_384,
};

/// Kernel memory one SysV semaphore may cost, for the SEMMNS cap: `struct sem` is 64 bytes on
/// x86_64 (measured: 100 arrays of 32000 took ~209 MB, ~65 bytes each), doubled for the array
/// headers and slab overhead.
pub const SEM_BYTES: u64 = 128;

impl IpcCaps {
    /// The caps for a memory limit of `memory` bytes with pages of `page` bytes.
    pub fn for_memory(memory: u64, page: u64) -> IpcCaps {
        IpcCaps {
            shmmax: memory,
            shmall_pages: memory.div_ceil(page.max(1)),
            queue_bytes: memory,
            semaphores: memory / SEM_BYTES,
        }
    }
}

/// Decide how each limit is enforced. `cgroup` says whether a jail cgroup with the memory and
/// pids controllers is available for this run. Pure.
pub fn plan(limits: &Limits, cgroup: bool) -> LimitPlan {
    let mut rlimits = Vec::new();
    let cpu_time = match limits.cpu_time {
        Some(t) => {
            // Soft limit: SIGXCPU (attributable); hard limit one second later: SIGKILL for a
            // process that ignores SIGXCPU.
            let secs = t.as_secs().max(1);
            rlimits.push(Rlimit {
                resource: RlimitResource::Cpu,
                soft: secs,
                hard: secs + 1,
            });
            Mechanism::Rlimit
        }
        None => Mechanism::Unlimited,
    };
    let mut set = |resource, v: u64| {
        rlimits.push(Rlimit {
            resource,
            soft: v,
            hard: v,
        })
    };
    let memory = match limits.memory {
        Some(_) if cgroup => Mechanism::Cgroup,
        Some(m) => {
            set(RlimitResource::Data, m);
            set(RlimitResource::As, as_backstop(m));
            Mechanism::Rlimit
        }
        None => Mechanism::Unlimited,
    };
    let processes = match limits.processes {
        Some(_) if cgroup => Mechanism::Cgroup,
        Some(n) => {
            set(RlimitResource::Nproc, n);
            Mechanism::Rlimit
        }
        None => Mechanism::Unlimited,
    };
    let open_files = match limits.open_files {
        Some(n) => {
            set(RlimitResource::Nofile, n);
            Mechanism::Rlimit
        }
        None => Mechanism::Unlimited,
    };
    let file_size = match limits.file_size {
        Some(n) => {
            set(RlimitResource::Fsize, n);
            Mechanism::Rlimit
        }
        None => Mechanism::Unlimited,
    };
    set(RlimitResource::Core, 0);
    set(RlimitResource::Sigpending, SIGPENDING);
    let mut notes = Vec::new();
    match (memory, limits.memory) {
        (Mechanism::Rlimit, Some(m)) => notes.push(format!(
            "memory, per process: RLIMIT_DATA {m} bytes bounds private writable memory and \
             RLIMIT_AS {} bytes everything mapped (shared memory too); files in scratch, /tmp and \
             /dev/shm are bounded by the scratch size, each memfd by file_size; SysV shared \
             memory, message queues and semaphores each by the IPC namespace's limits \
             (kernel.shmall {m} bytes, ...) for the whole jail; the jail's total across \
             processes is not bounded",
            as_backstop(m)
        )),
        (Mechanism::Cgroup, Some(m)) => notes.push(format!(
            "memory: memory.max {m} bytes for the whole jail, shared memory and tmpfs pages \
             included; SysV IPC also by the IPC namespace's limits (kernel.shmall {m} bytes, ...)"
        )),
        _ => {}
    }
    LimitPlan {
        wall_time: Mechanism::Supervisor,
        cpu_time,
        memory,
        processes,
        open_files,
        file_size,
        scratch: Mechanism::Tmpfs,
        rlimits,
        notes,
        ipc: limits.memory.map(|m| IpcCaps::for_memory(m, page_size())),
    }
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(4096)
}

/// The smallest RLIMIT_AS backstop: node and npm need room to reserve (512 MiB of address space
/// kills node at start, 1 GiB breaks npm, 3 GiB was fine).
pub const AS_BACKSTOP_FLOOR: u64 = 4 << 30;

/// The RLIMIT_AS set next to RLIMIT_DATA when memory falls back to rlimits:
/// `max(4 × memory, 4 GiB)`. RLIMIT_DATA does not count shared mappings
/// (`mmap(MAP_SHARED|MAP_ANONYMOUS)`, memfd, SysV shm while attached); RLIMIT_AS counts every
/// mapping, so it bounds what one process can hold mapped, shared or private, at a size generous
/// enough for the reservations of V8 and the JVM.
pub fn as_backstop(memory: u64) -> u64 {
    memory.saturating_mul(4).max(AS_BACKSTOP_FLOOR)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// Limits with every key set, for the limit tests here and attribution's.
    pub(crate) fn limits() -> Limits {
        Limits {
            wall_time: Duration::from_secs(60),
            kill_after: Duration::from_secs(2),
            cpu_time: Some(Duration::from_secs(10)),
            memory: Some(1 << 30),
            processes: Some(64),
            open_files: Some(256),
            file_size: Some(1 << 20),
            require_cgroup: false,
        }
    }

    #[test]
    fn without_cgroup_memory_and_processes_fall_back_to_rlimits() {
        let p = plan(&limits(), false);
        assert_eq!(p.memory, Mechanism::Rlimit);
        assert_eq!(p.processes, Mechanism::Rlimit);
        let r = &p.rlimits;
        let get = |res| r.iter().find(|x| x.resource == res).copied();
        assert_eq!(get(RlimitResource::Data).unwrap().soft, 1 << 30);
        assert_eq!(get(RlimitResource::Nproc).unwrap().soft, 64);
        let cpu = get(RlimitResource::Cpu).unwrap();
        assert_eq!((cpu.soft, cpu.hard), (10, 11));
        assert_eq!(get(RlimitResource::Core).unwrap().hard, 0);
        // The address-space backstop: generous (node and the JVM reserve gigabytes).
        let backstop = get(RlimitResource::As).unwrap();
        assert_eq!((backstop.soft, backstop.hard), (4 << 30, 4 << 30));
        assert!(p.notes[0].contains("SysV shared memory"), "{:?}", p.notes);
    }

    #[test]
    fn the_address_space_backstop_is_four_times_memory_and_at_least_4_gib() {
        assert_eq!(as_backstop(128 << 20), 4 << 30);
        assert_eq!(as_backstop(1 << 30), 4 << 30);
        assert_eq!(as_backstop(2 << 30), 8 << 30);
        assert_eq!(as_backstop(u64::MAX), u64::MAX);
        let mut l = limits();
        l.memory = None;
        assert!(plan(&l, false)
            .rlimits
            .iter()
            .all(|r| r.resource != RlimitResource::As));
    }

    #[test]
    fn with_cgroup_memory_and_processes_use_it() {
        let p = plan(&limits(), true);
        assert_eq!(p.memory, Mechanism::Cgroup);
        assert_eq!(p.processes, Mechanism::Cgroup);
        assert!(p.rlimits.iter().all(|r| r.resource != RlimitResource::Data));
        assert!(p.rlimits.iter().all(|r| r.resource != RlimitResource::As));
        assert!(p
            .rlimits
            .iter()
            .all(|r| r.resource != RlimitResource::Nproc));
    }

    #[test]
    fn unset_limits_are_unlimited() {
        let mut l = limits();
        l.cpu_time = None;
        l.memory = None;
        let p = plan(&l, false);
        assert_eq!(p.cpu_time, Mechanism::Unlimited);
        assert_eq!(p.memory, Mechanism::Unlimited);
    }
}
