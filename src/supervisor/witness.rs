//! What the supervisor saw at the filter's limit watch points ([`crate::plan::seccomp::watch`]):
//! forks the kernel is about to refuse (RLIMIT_NPROC), mappings it is about to refuse
//! (RLIMIT_DATA, RLIMIT_AS), processes holding every descriptor they may (RLIMIT_NOFILE). At each
//! point the calling thread is blocked in the syscall; [`Witness::look`] reads its state (and the
//! jail's) in /proc, the notifier checks that the notification is still pending (so the pid still
//! names that thread), [`Witness::record`] keeps the observation, and the call runs unchanged.
//! The kernel decides with the same numbers a moment later; only another thread of the jail
//! releasing a task, a mapping or a descriptor in between can make it decide otherwise
//! (docs/limits.md).

use crate::plan::seccomp::bpf::SeccompData;
use crate::plan::seccomp::{Watch, WatchPoint};

/// Forks the supervisor saw refused: the jail held all its tasks when they were attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedForks {
    pub count: u64,
    /// Tasks of the jail at the first refusal.
    pub tasks: u64,
    /// The limit (RLIMIT_NPROC).
    pub limit: u64,
    /// The program that attempted the first one (`/proc/PID/comm`).
    pub program: String,
}

/// A mapping the supervisor saw refused, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedMapping {
    pub count: u64,
    /// Bytes asked for by the first one (the growth, for mremap).
    pub bytes: u64,
    /// What the process already held under that limit (VmData or VmSize), bytes.
    pub held: u64,
    pub limit: u64,
    /// `RLIMIT_DATA` or `RLIMIT_AS`.
    pub rlimit: &'static str,
    pub program: String,
}

/// A process seen holding every descriptor from `from` up to the last one RLIMIT_NOFILE allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTable {
    /// Times seen (each a close of the last descriptor or a failing exit).
    pub count: u64,
    pub limit: u64,
    /// The lowest descriptor of the unbroken run that ends at `limit - 1` (0 when the whole
    /// table is full; shells allocate from 10 up).
    pub from: u64,
    pub program: String,
    /// When it was seen: `closing descriptor 255` or `exiting with status 1`.
    pub when: String,
}

/// Everything seen at the watch points during one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witnessed {
    /// Most tasks the jail held at once, as counted at each fork (plus the task that fork made).
    pub tasks_peak: Option<u64>,
    pub refused_forks: Option<RefusedForks>,
    pub refused_mapping: Option<RefusedMapping>,
    pub full_table: Option<FullTable>,
}

/// One observation at one watch point, kept only if the notification was still pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A fork with the jail holding `tasks` (refused when at the limit).
    Fork { tasks: u64, program: String },
    /// A mapping that will be refused.
    RefusedMapping(RefusedMapping),
    /// A process holding all its descriptors.
    FullTable(FullTable),
    /// Nothing worth keeping.
    Nothing,
}

/// The watch points' state for one jail.
#[derive(Debug, Clone)]
pub struct Witness {
    pid1: i32,
    watch: Watch,
    seen: Witnessed,
}

impl Witness {
    pub fn new(pid1: i32, watch: Watch) -> Witness {
        Witness {
            pid1,
            watch,
            seen: Witnessed::default(),
        }
    }

    pub fn witnessed(&self) -> &Witnessed {
        &self.seen
    }

    pub fn watch(&self) -> Watch {
        self.watch
    }

    /// Read what `point` needs about thread `pid` (host pid), blocked in the call `data`.
    pub fn look(&self, point: WatchPoint, pid: u32, data: &SeccompData) -> Seen {
        let a = &data.args;
        match point {
            WatchPoint::Fork => match count_jail_tasks(self.pid1) {
                Some(tasks) => Seen::Fork {
                    tasks,
                    program: program(pid),
                },
                None => Seen::Nothing,
            },
            WatchPoint::Map => {
                // mmap(addr, len, prot, flags, fd, off). MAP_FIXED may replace mappings the
                // kernel then does not count again: no prediction.
                let (len, prot, flags) = (a[1], a[2], a[3]);
                if flags & libc::MAP_FIXED as u64 != 0 {
                    return Seen::Nothing;
                }
                let data = prot & libc::PROT_WRITE as u64 != 0
                    && flags & (libc::MAP_SHARED | libc::MAP_GROWSDOWN) as u64 == 0;
                self.mapping(pid, len, data)
            }
            WatchPoint::Remap => {
                // mremap(old, old_len, new_len, flags, new): the growth, in the old mapping's kind.
                let (old, old_len, new_len) = (a[0], a[1], a[2]);
                let grow = pages(new_len).saturating_sub(pages(old_len)) * PAGE;
                if grow == 0 {
                    return Seen::Nothing;
                }
                self.mapping(pid, grow, is_private_writable(pid, old))
            }
            WatchPoint::CloseLast | WatchPoint::FailingExit => {
                let Some(limit) = self.watch.open_files else {
                    return Seen::Nothing;
                };
                match open_descriptors(pid).and_then(|held| full_run(&held, limit)) {
                    Some(from) => Seen::FullTable(FullTable {
                        count: 1,
                        limit,
                        from,
                        program: program(pid),
                        when: if point == WatchPoint::CloseLast {
                            format!("closing descriptor {}", limit - 1)
                        } else {
                            format!("exiting with status {}", a[0] & 0xff)
                        },
                    }),
                    None => Seen::Nothing,
                }
            }
        }
    }

    /// Whether a mapping of `bytes` more (private writable when `data`) will be refused, from
    /// the caller's VmSize and VmData: the kernel's `may_expand_vm`.
    fn mapping(&self, pid: u32, bytes: u64, data: bool) -> Seen {
        let Some(m) = self.watch.memory else {
            return Seen::Nothing;
        };
        let Some((size, vm_data)) = vm_sizes(pid) else {
            return Seen::Nothing;
        };
        let bytes = pages(bytes) * PAGE;
        let refused = |held: u64, limit: u64, rlimit| {
            (held.saturating_add(bytes) > limit).then(|| {
                Seen::RefusedMapping(RefusedMapping {
                    count: 1,
                    bytes,
                    held,
                    limit,
                    rlimit,
                    program: program(pid),
                })
            })
        };
        refused(size, m.address_space, "RLIMIT_AS")
            .or_else(|| {
                data.then(|| refused(vm_data, m.data, "RLIMIT_DATA"))
                    .flatten()
            })
            .unwrap_or(Seen::Nothing)
    }

    /// Keep an observation whose notification was still pending when it was made.
    pub fn record(&mut self, seen: Seen) {
        let s = &mut self.seen;
        match seen {
            Seen::Fork { tasks, program } => {
                let Some(limit) = self.watch.processes else {
                    return;
                };
                // Below the limit the kernel lets this fork make one more task.
                let after = if tasks < limit { tasks + 1 } else { tasks };
                s.tasks_peak = Some(s.tasks_peak.unwrap_or(0).max(after));
                if tasks >= limit {
                    match &mut s.refused_forks {
                        Some(r) => r.count += 1,
                        None => {
                            s.refused_forks = Some(RefusedForks {
                                count: 1,
                                tasks,
                                limit,
                                program,
                            })
                        }
                    }
                }
            }
            Seen::RefusedMapping(m) => match &mut s.refused_mapping {
                Some(r) => r.count += 1,
                None => s.refused_mapping = Some(m),
            },
            Seen::FullTable(t) => match &mut s.full_table {
                Some(r) => r.count += 1,
                None => s.full_table = Some(t),
            },
            Seen::Nothing => {}
        }
    }
}

/// The page size the kernel's rlimit arithmetic uses (x86_64 and aarch64's usual 4 KiB; the
/// figures are a prediction either way).
const PAGE: u64 = 4096;

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE)
}

/// `/proc/PID/comm`, or `?` when the process is gone.
fn program(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// (VmSize, VmData) of `pid` in bytes, from /proc/PID/status (world-readable).
fn vm_sizes(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("VmSize:")?, field("VmData:")?))
}

/// Whether the mapping containing `addr` in `pid` is private and writable (what RLIMIT_DATA
/// counts), from /proc/PID/maps.
fn is_private_writable(pid: u32, addr: u64) -> bool {
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return false;
    };
    maps.lines().any(|l| {
        let mut w = l.split_whitespace();
        let (Some(range), Some(perms)) = (w.next(), w.next()) else {
            return false;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            return false;
        };
        let inside = u64::from_str_radix(lo, 16).is_ok_and(|lo| lo <= addr)
            && u64::from_str_radix(hi, 16).is_ok_and(|hi| addr < hi);
        inside && perms.as_bytes().get(1) == Some(&b'w') && perms.as_bytes().get(3) == Some(&b'p')
    })
}

/// The lowest descriptor a further allocation could still need: every allocation that fails
/// with EMFILE looks for the lowest free descriptor at or above some floor (0 for open,
/// socket, pipe, dup; the argument of `fcntl(F_DUPFD)`, which shells call with 10), and fails
/// when every one from that floor to `limit - 1` is taken. So a process holding an unbroken
/// run of descriptors up to `limit - 1` that starts at or below [`DUPFD_FLOOR`] is at its
/// limit; one holding only `limit - 1` (bash keeps its script there) is not.
pub const DUPFD_FLOOR: u64 = 10;

/// The start of the unbroken run of `held` descriptors that ends at `limit - 1`, when it starts
/// at or below [`DUPFD_FLOOR`].
fn full_run(held: &std::collections::BTreeSet<u64>, limit: u64) -> Option<u64> {
    let top = limit.checked_sub(1)?;
    if !held.contains(&top) {
        return None;
    }
    let mut from = top;
    while from > 0 && held.contains(&(from - 1)) {
        from -= 1;
    }
    (from <= DUPFD_FLOOR).then_some(from)
}

/// Open descriptors of `pid` (entries of /proc/PID/fd, which the supervisor may read: it is
/// the jail's uid, owner of the jail's user namespace).
fn open_descriptors(pid: u32) -> Option<std::collections::BTreeSet<u64>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// Tasks (processes and threads) of the jail: `pid1` and every descendant, found from the host
/// through /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), each process counted once with
/// all its threads. A process that exits or is re-parented during the walk may be missed or, in
/// rare churn, counted beside its replacement; docs/limits.md says so. `None` when the kernel
/// lacks the `children` file.
pub(crate) fn count_jail_tasks(pid1: i32) -> Option<u64> {
    let first = format!("/proc/{pid1}/task/{pid1}/children");
    if std::fs::metadata(&first).is_err() {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![pid1];
    let mut tasks = 0;
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in threads.flatten() {
            tasks += 1;
            if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                stack.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }
    Some(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seccomp::watch::MemoryWatch;

    fn witness() -> Witness {
        Witness::new(
            1,
            Watch {
                processes: Some(4),
                memory: Some(MemoryWatch {
                    data: 256 << 20,
                    address_space: 4 << 30,
                    threshold: 16 << 20,
                }),
                open_files: Some(32),
            },
        )
    }

    #[test]
    fn forks_at_the_limit_are_refused_and_the_peak_counts_the_new_task() {
        let mut w = witness();
        let fork = |tasks| Seen::Fork {
            tasks,
            program: "tar".into(),
        };
        w.record(fork(2));
        assert_eq!(w.witnessed().tasks_peak, Some(3));
        assert_eq!(w.witnessed().refused_forks, None);
        w.record(fork(4));
        w.record(fork(4));
        let r = w.witnessed().refused_forks.clone().unwrap();
        assert_eq!((r.count, r.tasks, r.limit), (2, 4, 4));
        assert_eq!(w.witnessed().tasks_peak, Some(4));
    }

    #[test]
    fn a_large_mapping_over_the_data_limit_is_refused() {
        // This process's own sizes: far below 256 MiB of data, so 1 GiB is refused by
        // RLIMIT_DATA when private and writable, and not at all when read-only (under 4 GiB).
        let w = witness();
        let pid = std::process::id();
        let map = |len: u64, prot: i32, flags: i32| {
            w.look(
                WatchPoint::Map,
                pid,
                &SeccompData::new(
                    0,
                    9,
                    &[
                        0,
                        len,
                        u64::try_from(prot).unwrap(),
                        u64::try_from(flags).unwrap(),
                    ],
                ),
            )
        };
        let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        match map(1 << 30, rw, private) {
            Seen::RefusedMapping(m) => {
                assert_eq!(
                    (m.rlimit, m.bytes, m.limit),
                    ("RLIMIT_DATA", 1 << 30, 256 << 20)
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(map(1 << 30, libc::PROT_READ, private), Seen::Nothing);
        assert_eq!(
            map(1 << 30, rw, libc::MAP_SHARED | libc::MAP_ANONYMOUS),
            Seen::Nothing
        );
        assert_eq!(map(1 << 30, rw, private | libc::MAP_FIXED), Seen::Nothing);
        assert_eq!(map(16 << 20, rw, private), Seen::Nothing);
        // Past the address-space backstop, whatever the kind.
        match map(8 << 30, libc::PROT_NONE, private) {
            Seen::RefusedMapping(m) => assert_eq!(m.rlimit, "RLIMIT_AS"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_run_up_to_the_limit_from_the_floor_is_full() {
        let set = |r: std::ops::Range<u64>| r.collect::<std::collections::BTreeSet<u64>>();
        assert_eq!(full_run(&set(0..32), 32), Some(0));
        assert_eq!(full_run(&set(0..31), 32), None);
        // A shell's F_DUPFD(10) allocations: 0..3 and 10..32.
        let mut shell = set(0..3);
        shell.extend(10..32);
        assert_eq!(full_run(&shell, 32), Some(10));
        // bash keeps its script at the top descriptor: not a full table.
        let mut script = set(0..3);
        script.insert(255);
        assert_eq!(full_run(&script, 256), None);
        let mut gap = set(0..3);
        gap.extend(12..32);
        assert_eq!(full_run(&gap, 32), None);
    }

    #[test]
    fn a_full_descriptor_table_is_seen_only_when_full() {
        // This process holds far fewer than 32... unless the test harness holds many: use a
        // limit of 1 (every process holds at least one descriptor) against a large one.
        let pid = std::process::id();
        let at = |limit| {
            let mut w = witness();
            w.watch.open_files = Some(limit);
            w.look(
                WatchPoint::FailingExit,
                pid,
                &SeccompData::new(0, 231, &[1]),
            )
        };
        match at(1) {
            Seen::FullTable(t) => assert_eq!(t.when, "exiting with status 1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(at(1 << 20), Seen::Nothing);
    }
}
