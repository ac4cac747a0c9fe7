//! How a run ended, in the report's terms: which limit stopped the command, from evidence
//! tooljail observed itself ([`attribute`]). Pure functions of what the supervisor saw. What the
//! jail refused, each with what lifts it, is [`denial`].

pub mod denial;

use crate::plan::limits::{LimitPlan, Mechanism};
use crate::policy::Limits;
use crate::report::{MayHaveBeen, StoppedBy};
use crate::supervisor::witness::Witnessed;

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
    /// What the seccomp filter's limit watch points showed: refused forks and mappings, full
    /// descriptor tables (`supervisor::witness`).
    pub witnessed: Witnessed,
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
    let stop = |name: &str, evidence: String| Some(stopped_by("limit", name, evidence));
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
            // file_size defaults to the scratch size: a file that reached it filled the
            // scratch too, and raising file_size alone would not help.
            let cap = ev.scratch_used.map(|(_, cap)| cap).filter(|cap| *cap > 0);
            if let (Some(f), Some(cap)) = (limits.file_size, cap) {
                if f >= cap {
                    return stop(
                        "scratch_full",
                        format!(
                            "SIGXFSZ: a file reached the file-size limit of {f} bytes, which is \
                             not below the scratch size ({cap} bytes): the scratch is what bounds it"
                        ),
                    );
                }
            }
            return stop(
                "file_size",
                "SIGXFSZ: a write went past the file-size limit (RLIMIT_FSIZE)".into(),
            );
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
    if let Some(m) = &ev.witnessed.refused_mapping {
        return stop(
            "memory",
            format!(
                "{} asked to map {} MiB at once, more than its {} of {} MiB by itself: refused \
                 with ENOMEM ({} such request{} seen)",
                m.program,
                m.bytes >> 20,
                m.rlimit,
                m.limit >> 20,
                m.count,
                if m.count == 1 { "" } else { "s" }
            ),
        );
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

/// Limits the evidence shows reached without showing what they refused (the caller keeps
/// them only when the command failed): a process seen holding every descriptor RLIMIT_NOFILE
/// allows. The kernel refuses the next open with EMFILE and counts nothing, and the process
/// may have closed some before it failed, or failed for another reason.
pub fn may_have_been(ev: &Evidence) -> Vec<MayHaveBeen> {
    let mut out = Vec::new();
    if let Some(t) = &ev.witnessed.full_table {
        out.push(MayHaveBeen {
            kind: "limit".into(),
            name: "open_files".into(),
            evidence: format!(
                "{} held every file descriptor from {} to {}, the last its limit of {} allows \
                 ({}{}), so an open, socket, pipe or dup failed with EMFILE (RLIMIT_NOFILE)",
                t.program,
                t.from,
                t.limit - 1,
                t.limit,
                t.when,
                if t.count > 1 {
                    format!("; seen {} times", t.count)
                } else {
                    String::new()
                }
            ),
            uncertain: "the kernel refuses an open past RLIMIT_NOFILE with EMFILE and keeps no \
                        record of it: tooljail saw the descriptor table full, not a refused open"
                .into(),
            remedy: limit_remedy("open_files"),
            liftable: true,
        });
    }
    out
}

/// A [`StoppedBy`] with the remedy for `name` ([`limit_remedy`] or [`rule_remedy`]).
pub fn stopped_by(kind: &str, name: &str, evidence: String) -> StoppedBy {
    let (remedy, liftable) = if kind == "limit" {
        (limit_remedy(name), true)
    } else {
        rule_remedy(name)
    };
    StoppedBy {
        kind: kind.into(),
        name: name.into(),
        evidence,
        remedy,
        liftable: Some(liftable),
        retry_after_ms: None,
        used: None,
        limit: None,
    }
}

/// The flag and the profile key that raise limit `name` (a `stopped_by` name). Every limit can
/// be raised: that is what a caller who knows the tool needs more does.
pub fn limit_remedy(name: &str) -> String {
    match name {
        "wall_time" => "--timeout DURATION (or --limit wall_time=DURATION), or [limits] wall_time",
        "memory" => "--memory SIZE (or --limit memory=SIZE), or [limits] memory",
        "scratch_full" => {
            "--limit scratch=SIZE, or [filesystem.scratch] size (file_size follows it unless set)"
        }
        "cpu_time" => "--limit cpu_time=DURATION, or [limits] cpu_time",
        "processes" => "--limit processes=N, or [limits] processes",
        "open_files" => "--limit open_files=N, or [limits] open_files",
        "file_size" => "--limit file_size=SIZE, or [limits] file_size",
        _ => "see docs/limits.md",
    }
    .to_string()
}

/// What lifts rule `name` (`seccomp:SYSCALL`, `seccomp:arch`), and whether anything can.
pub fn rule_remedy(name: &str) -> (String, bool) {
    match name.strip_prefix("seccomp:") {
        Some("arch") => (
            "cannot be lifted: syscalls of another architecture (i386 int 0x80, x32) always kill \
             the command"
                .into(),
            false,
        ),
        Some(syscall) => (
            format!(
                "add \"{syscall}\" to [syscalls] allow if the tool needs it, or set [syscalls] \
                 action = \"errno:EPERM\" so the call fails instead of ending the command"
            ),
            true,
        ),
        None => ("see docs/seccomp.md".into(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::denial::syscall_remedy;
    use super::*;
    use crate::plan::limits::plan;
    use crate::plan::limits::tests::limits;

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
    fn a_refused_mapping_is_named_and_a_full_table_may_have_been() {
        use crate::supervisor::witness::{FullTable, RefusedMapping};
        let l = limits();
        let p = plan(&l, false);
        let ev = |w: Witnessed| Evidence {
            witnessed: w,
            ..Default::default()
        };
        let map = ev(Witnessed {
            refused_mapping: Some(RefusedMapping {
                count: 1,
                bytes: 1 << 30,
                limit: 256 << 20,
                rlimit: "RLIMIT_DATA",
                program: "python3".into(),
            }),
            ..Default::default()
        });
        let s = attribute(&l, &p, &map).unwrap();
        assert_eq!(s.name, "memory");
        assert!(
            s.evidence.starts_with(
                "python3 asked to map 1024 MiB at once, more than its RLIMIT_DATA of 256 MiB by \
                 itself: refused with ENOMEM (1 such request seen)"
            ),
            "{s:?}"
        );
        assert!(may_have_been(&map).is_empty());
        let full = ev(Witnessed {
            full_table: Some(FullTable {
                count: 1,
                limit: 32,
                from: 0,
                program: "python3".into(),
                when: "closing descriptor 31".into(),
            }),
            ..Default::default()
        });
        assert_eq!(attribute(&l, &p, &full), None);
        let m = may_have_been(&full);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "open_files");
        assert!(m[0].remedy.contains("--limit open_files="), "{m:?}");
        assert!(m[0].uncertain.contains("EMFILE"), "{m:?}");
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

    #[test]
    fn a_file_as_large_as_the_scratch_is_the_scratch_not_file_size() {
        // limits(): file_size 1 MiB. A scratch of 1 MiB (the default: file_size follows the
        // scratch) is what bounds the file; a larger scratch leaves file_size to blame.
        let l = limits();
        let p = plan(&l, false);
        let with_scratch = |cap: u64| {
            attribute(
                &l,
                &p,
                &Evidence {
                    signal: Some(libc::SIGXFSZ),
                    scratch_used: Some((cap / 2, cap)),
                    ..Default::default()
                },
            )
            .map(|s| s.name)
        };
        assert_eq!(with_scratch(1 << 20).as_deref(), Some("scratch_full"));
        assert_eq!(with_scratch(1 << 30).as_deref(), Some("file_size"));
    }

    #[test]
    fn every_stop_names_its_remedy() {
        // The flags named here must exist: each is a real flag or --limit key of this build.
        for (name, flag) in [
            ("wall_time", "--timeout"),
            ("memory", "--memory"),
            ("cpu_time", "--limit cpu_time="),
            ("processes", "--limit processes="),
            ("open_files", "--limit open_files="),
            ("file_size", "--limit file_size="),
            ("scratch_full", "--limit scratch="),
        ] {
            let s = stopped_by("limit", name, String::new());
            assert!(
                s.liftable == Some(true) && s.remedy.contains(flag),
                "{name}: {}",
                s.remedy
            );
        }
        let kill = stopped_by("rule", "seccomp:vhangup", String::new());
        assert!(
            kill.liftable == Some(true) && kill.remedy.contains("\"vhangup\" to [syscalls] allow")
        );
        let arch = stopped_by("rule", "seccomp:arch", String::new());
        assert!(arch.liftable == Some(false) && arch.remedy.starts_with("cannot be lifted"));
        assert_eq!(
            syscall_remedy("ptrace", true).0,
            "always denied (reads and writes other processes' memory and registers); only \
             [syscalls] unsafe_allow = [\"ptrace\"] lifts it, which weakens the jail"
        );
        assert!(syscall_remedy("ioctl", true)
            .0
            .contains("unsafe_allow = [\"tty-injection\"]"));
        assert!(syscall_remedy("socketpair", true)
            .0
            .contains("[\"socket-families\"]"));
        assert_eq!(
            syscall_remedy("vhangup", false),
            (
                "add \"vhangup\" to [syscalls] allow if the tool needs it".into(),
                true
            )
        );
        assert!(!syscall_remedy("unknown", false).1);
    }
}
