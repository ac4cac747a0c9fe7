//! What the supervisor saw at the filter's limit watch points ([`crate::plan::seccomp::watch`]):
//! mappings larger than the memory limit (refused, with the kernel's ENOMEM), and processes
//! holding every descriptor RLIMIT_NOFILE allows. [`Witness::look`] reads what it needs (the
//! arguments; for descriptors, the caller's /proc/PID/fd while it waits in the call), the
//! notifier checks that the notification is still pending, so the pid still names that thread,
//! and [`Witness::record`] keeps the observation.

use crate::plan::seccomp::bpf::SeccompData;
use crate::plan::seccomp::{Watch, WatchPoint};

/// A mapping refused because it alone is larger than the limit that counts it, and how many
/// such refusals there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedMapping {
    pub count: u64,
    /// Bytes the first one asked for.
    pub bytes: u64,
    pub limit: u64,
    /// `RLIMIT_DATA` or `RLIMIT_AS`.
    pub rlimit: &'static str,
    /// The program that asked (`/proc/PID/comm`).
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
    pub refused_mapping: Option<RefusedMapping>,
    pub full_table: Option<FullTable>,
}

/// One observation at one watch point, kept only if the notification was still pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    RefusedMapping(RefusedMapping),
    FullTable(FullTable),
    /// Nothing worth keeping.
    Nothing,
}

/// The watch points' record for one jail.
#[derive(Debug, Clone, Default)]
pub struct Witness {
    watch: Watch,
    seen: Witnessed,
}

impl Witness {
    pub fn new(watch: Watch) -> Witness {
        Witness {
            watch,
            seen: Witnessed::default(),
        }
    }

    pub fn witnessed(&self) -> &Witnessed {
        &self.seen
    }

    /// What `point` shows about thread `pid` (host pid), blocked in the call `data`.
    pub fn look(&self, point: WatchPoint, pid: u32, data: &SeccompData) -> Seen {
        let a = &data.args;
        match point {
            WatchPoint::Map => {
                // The filter matched: larger than RLIMIT_AS, or than RLIMIT_DATA for a private
                // writable mapping. Which one, from the same arguments.
                let Some(m) = self.watch.memory else {
                    return Seen::Nothing;
                };
                let (len, limit, rlimit) = (a[1], m.address_space, "RLIMIT_AS");
                let (limit, rlimit) = if len > limit {
                    (limit, rlimit)
                } else {
                    (m.data, "RLIMIT_DATA")
                };
                Seen::RefusedMapping(RefusedMapping {
                    count: 1,
                    bytes: len,
                    limit,
                    rlimit,
                    program: program(pid),
                })
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

    /// Keep an observation whose notification was still pending when it was made.
    pub fn record(&mut self, seen: Seen) {
        let s = &mut self.seen;
        match seen {
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

/// `/proc/PID/comm`, or `?` when the process is gone.
fn program(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seccomp::watch::MemoryWatch;

    fn witness(open_files: u64) -> Witness {
        Witness::new(Watch {
            memory: Some(MemoryWatch {
                data: 256 << 20,
                address_space: 4 << 30,
            }),
            open_files: Some(open_files),
        })
    }

    #[test]
    fn a_mapping_names_the_limit_it_is_larger_than() {
        let w = witness(32);
        let pid = std::process::id();
        let map = |len: u64| match w.look(WatchPoint::Map, pid, &SeccompData::new(0, 9, &[0, len]))
        {
            Seen::RefusedMapping(m) => (m.rlimit, m.bytes, m.limit),
            other => panic!("{other:?}"),
        };
        assert_eq!(map(1 << 30), ("RLIMIT_DATA", 1 << 30, 256 << 20));
        assert_eq!(map(8 << 30), ("RLIMIT_AS", 8 << 30, 4 << 30));
        let mut w = witness(32);
        for _ in 0..3 {
            let seen = w.look(WatchPoint::Map, pid, &SeccompData::new(0, 9, &[0, 1 << 30]));
            w.record(seen);
        }
        assert_eq!(w.witnessed().refused_mapping.as_ref().unwrap().count, 3);
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
        // Every process holds descriptor 0 (a limit of 1 is full); none holds 2^20 of them.
        let pid = std::process::id();
        let at = |limit| {
            witness(limit).look(
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
