//! Resource limits: which mechanism enforces each of the Policy's `[limits]`, the rlimits the
//! command process sets before execve, and the attribution of a stop to the limit that caused it.
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
//! Attribution ([`attribute`]) names the limit that stopped a failed command only from evidence
//! tooljail observed itself (signals, cgroup counters, its own counts of the jail's tasks, scratch
//! usage, rusage); what cannot be known (EMFILE from RLIMIT_NOFILE) is not guessed. The full
//! table, with what each piece of evidence proves and misses, is docs/limits.md.

use crate::policy::Limits;
use crate::report::StoppedBy;
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
}

impl RlimitResource {
    fn to_nix(self) -> nix::sys::resource::Resource {
        use nix::sys::resource::Resource;
        match self {
            RlimitResource::Cpu => Resource::RLIMIT_CPU,
            RlimitResource::Data => Resource::RLIMIT_DATA,
            RlimitResource::As => Resource::RLIMIT_AS,
            RlimitResource::Nproc => Resource::RLIMIT_NPROC,
            RlimitResource::Nofile => Resource::RLIMIT_NOFILE,
            RlimitResource::Fsize => Resource::RLIMIT_FSIZE,
            RlimitResource::Core => Resource::RLIMIT_CORE,
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
    }
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

/// Set the planned rlimits in the calling process (the command process, before execve).
/// Lowering limits needs no privilege; a failure is a setup error (fail closed).
pub fn apply(plan: &LimitPlan) -> Result<(), (String, i32)> {
    for r in &plan.rlimits {
        nix::sys::resource::setrlimit(r.resource.to_nix(), r.soft, r.hard)
            .map_err(|e| (format!("setrlimit {}", r.resource.name()), e as i32))?;
    }
    Ok(())
}

/// Evidence gathered when the jail ended, for attribution. Every field is something tooljail
/// observed, never a guess from the command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The supervisor's wall-clock deadline fired.
    pub timed_out: bool,
    /// After the deadline, the grace period (`kill_after`) passed too and the jail got SIGKILL.
    pub grace_kill: bool,
    /// The signal that killed the command, if any.
    pub signal: Option<i32>,
    /// The jail used at least its CPU-time limit (a SIGKILL then comes from RLIMIT_CPU's hard
    /// limit, which a process ignoring SIGXCPU reaches).
    pub cpu_exhausted: bool,
    /// cgroup memory.events `oom_kill` went up during the run.
    pub cgroup_oom_kill: bool,
    /// cgroup pids.events `max` went up during the run.
    pub cgroup_pids_max: bool,
    /// Bytes used in scratch when the command ended, and the cap.
    pub scratch_used: Option<(u64, u64)>,
    /// Largest resident set of any one process of the jail, in bytes (rusage ru_maxrss).
    pub max_rss: u64,
    /// Tasks (processes and threads) of the jail at the moment the command ended, the command
    /// itself included, as the jail's pid 1 counted them in its /proc.
    pub tasks_at_end: Option<u64>,
    /// Most tasks the jail held at once, sampled from outside while it ran (a lower bound of the
    /// true peak: a burst between two samples is missed).
    pub tasks_peak: Option<u64>,
}

/// With RLIMIT_DATA, a failed command whose largest process reached this share of the limit
/// (resident) is attributed to memory: allocations past the limit fail with ENOMEM, which leaves
/// no other trace. A process that failed one large allocation (more than a quarter of the limit)
/// while far below it is not attributed; docs/limits.md says so.
pub const RSS_SHARE_PERCENT: u64 = 75;

/// Which limit stopped the command, from the evidence; `None` when no limit did. The caller
/// keeps the answer only when the command failed (non-zero exit or a signal): a command that
/// succeeded was not stopped by anything. `plan` says which mechanism enforced each limit.
pub fn attribute(limits: &Limits, plan: &LimitPlan, ev: &Evidence) -> Option<StoppedBy> {
    let stop = |name: &str, evidence: String| {
        Some(StoppedBy {
            kind: "limit".into(),
            name: name.into(),
            evidence,
        })
    };
    if ev.timed_out {
        let wall = humantime::format_duration(limits.wall_time);
        return stop(
            "wall_time",
            if ev.grace_kill {
                format!(
                    "the wall-clock limit of {wall} passed: SIGTERM, then SIGKILL after the {} grace",
                    humantime::format_duration(limits.kill_after)
                )
            } else {
                format!("the wall-clock limit of {wall} passed: SIGTERM")
            },
        );
    }
    if ev.cgroup_oom_kill {
        return stop(
            "memory",
            "the cgroup's memory.events counted an oom_kill (memory.max reached)".into(),
        );
    }
    match ev.signal {
        Some(libc::SIGXCPU) => {
            return stop(
                "cpu_time",
                "SIGXCPU: the CPU-time limit (RLIMIT_CPU) was reached".into(),
            )
        }
        Some(libc::SIGKILL) if ev.cpu_exhausted => {
            return stop(
                "cpu_time",
                "SIGKILL at the CPU-time hard limit (SIGXCPU was ignored)".into(),
            )
        }
        Some(libc::SIGXFSZ) => {
            return stop(
                "file_size",
                "SIGXFSZ: a write went past the file-size limit (RLIMIT_FSIZE)".into(),
            )
        }
        _ => {}
    }
    if ev.cgroup_pids_max {
        return stop(
            "processes",
            "the cgroup's pids.events counted a refused fork (pids.max reached)".into(),
        );
    }
    if let Some((used, cap)) = ev.scratch_used {
        // tmpfs rounds to pages: within one page of the cap counts as full.
        if cap > 0 && used + 4096 >= cap {
            return stop(
                "scratch_full",
                format!("scratch used {used} of {cap} bytes (writes fail with ENOSPC)"),
            );
        }
    }
    if let (Mechanism::Rlimit, Some(max)) = (plan.processes, limits.processes) {
        // RLIMIT_NPROC refuses a fork (EAGAIN) once the jail's user namespace holds `max` tasks
        // of its uid; every task of the jail has that uid, pid 1 included. It sends no signal
        // and counts nothing, so the evidence is the jail holding its whole budget.
        let seen = match (ev.tasks_at_end, ev.tasks_peak) {
            (Some(end), _) if end >= max => {
                Some(format!("{end} tasks were in use when the command ended"))
            }
            (_, Some(peak)) if peak >= max => Some(format!(
                "{peak} tasks were in use at once while it ran (sampled)"
            )),
            _ => None,
        };
        if let Some(seen) = seen {
            return stop(
                "processes",
                format!(
                    "{seen}, the limit is {max}: further forks failed with EAGAIN (RLIMIT_NPROC)"
                ),
            );
        }
    }
    if let (Mechanism::Rlimit, Some(max)) = (plan.memory, limits.memory) {
        if max > 0 && ev.max_rss.saturating_mul(100) >= max.saturating_mul(RSS_SHARE_PERCENT) {
            return stop(
                "memory",
                format!(
                    "the command failed after one of its processes reached {} MiB resident, \
                     {}% of the {} MiB per-process limit (RLIMIT_DATA: allocations past it fail \
                     with ENOMEM)",
                    ev.max_rss >> 20,
                    ev.max_rss.saturating_mul(100) / max,
                    max >> 20
                ),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
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

    #[test]
    fn attribution_follows_evidence() {
        let l = limits();
        let p = plan(&l, false);
        let name = |ev: Evidence| attribute(&l, &p, &ev).map(|s| s.name);
        assert_eq!(
            name(Evidence {
                timed_out: true,
                ..Default::default()
            })
            .as_deref(),
            Some("wall_time")
        );
        assert_eq!(
            name(Evidence {
                signal: Some(libc::SIGXCPU),
                ..Default::default()
            })
            .as_deref(),
            Some("cpu_time")
        );
        assert_eq!(
            name(Evidence {
                signal: Some(libc::SIGXFSZ),
                ..Default::default()
            })
            .as_deref(),
            Some("file_size")
        );
        assert_eq!(
            name(Evidence {
                cgroup_oom_kill: true,
                ..Default::default()
            })
            .as_deref(),
            Some("memory")
        );
        assert_eq!(
            name(Evidence {
                cgroup_pids_max: true,
                ..Default::default()
            })
            .as_deref(),
            Some("processes")
        );
        assert_eq!(
            name(Evidence {
                scratch_used: Some((256 << 20, 256 << 20)),
                ..Default::default()
            })
            .as_deref(),
            Some("scratch_full")
        );
        assert_eq!(
            name(Evidence {
                scratch_used: Some((1 << 20, 256 << 20)),
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            name(Evidence {
                signal: Some(libc::SIGTERM),
                ..Default::default()
            }),
            None
        );
    }

    #[test]
    fn rlimit_processes_and_memory_need_their_evidence() {
        let l = limits();
        let p = plan(&l, false);
        let name = |ev: Evidence| attribute(&l, &p, &ev).map(|s| s.name);
        // Processes: the jail held its whole budget when the command ended.
        assert_eq!(
            name(Evidence {
                tasks_at_end: Some(64),
                ..Default::default()
            })
            .as_deref(),
            Some("processes")
        );
        assert_eq!(
            name(Evidence {
                tasks_peak: Some(64),
                tasks_at_end: Some(1),
                ..Default::default()
            })
            .as_deref(),
            Some("processes")
        );
        assert_eq!(
            name(Evidence {
                tasks_at_end: Some(63),
                tasks_peak: Some(63),
                ..Default::default()
            }),
            None
        );
        // Memory: the largest process came within 75% of RLIMIT_DATA.
        assert_eq!(
            name(Evidence {
                max_rss: (1 << 30) / 4 * 3,
                ..Default::default()
            })
            .as_deref(),
            Some("memory")
        );
        assert_eq!(
            name(Evidence {
                max_rss: (1 << 30) / 2,
                ..Default::default()
            }),
            None
        );
        // With a cgroup, only the cgroup's own counters attribute these two.
        let cg = plan(&l, true);
        let ev = Evidence {
            tasks_at_end: Some(64),
            max_rss: 1 << 30,
            ..Default::default()
        };
        assert_eq!(attribute(&l, &cg, &ev), None);
    }

    #[test]
    fn wall_time_says_whether_the_grace_ran_out() {
        let l = limits();
        let p = plan(&l, false);
        let ev = |grace_kill| Evidence {
            timed_out: true,
            grace_kill,
            ..Default::default()
        };
        let soft = attribute(&l, &p, &ev(false)).unwrap();
        assert!(!soft.evidence.contains("SIGKILL"), "{soft:?}");
        let hard = attribute(&l, &p, &ev(true)).unwrap();
        assert!(
            hard.evidence.contains("SIGKILL after the 2s grace"),
            "{hard:?}"
        );
    }
}
