//! Named syscall groups, in the spirit of systemd's `SystemCallFilter=` sets, and the syscall
//! number tables they resolve against.
//!
//! A profile names groups (`@system-service`) and single syscalls (`getrandom`). [`expand`]
//! turns them into the sorted list of syscall names stored in `Policy.syscalls.allow`; the
//! seccomp compiler (`plan::seccomp`) resolves names to numbers per architecture with
//! [`Arch::number`]. A name that exists on no supported architecture is an error (a typo must
//! never become a silent hole); a name that exists on some architectures only (`open`, `fork`,
//! `stat` are absent on aarch64) is skipped on the others.
//!
//! The always-denied hardening rules live in [`HARDENING`]: they are not groups, because no
//! allow-list lifts them; only a visible `unsafe_allow` entry does.

mod aarch64;
mod groups;
mod hardening;
mod x86_64;

pub use groups::{Group, GROUPS};
pub use hardening::{
    hardening, hardening_for_syscall, socket_families, Hardening, HardeningKind, AF_NETLINK,
    AF_UNIX, HARDENING, MFD_EXEC, MFD_HUGETLB, MFD_NOEXEC_SEAL, NETLINK_ROUTE, PERSONALITY_QUERY,
    PER_LINUX, PER_LINUX32, SOCKET_FAMILIES,
};

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// An architecture the seccomp filter is compiled for. The filter checks `seccomp_data.arch`
/// first, so a program only ever runs syscalls numbered for its own architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// Every architecture tooljail has number tables for.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The architecture this binary was built for (the one whose filter is installed).
    #[cfg(target_arch = "x86_64")]
    pub const NATIVE: Arch = Arch::X86_64;
    #[cfg(target_arch = "aarch64")]
    pub const NATIVE: Arch = Arch::Aarch64;

    /// The name used in reports: `x86_64`, `aarch64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// `AUDIT_ARCH_*` from linux/audit.h, as seen in `seccomp_data.arch`.
    pub fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The architecture whose `AUDIT_ARCH_*` value this is, if tooljail knows it.
    pub fn from_audit_arch(value: u32) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.audit_arch() == value)
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => x86_64::TABLE,
            Arch::Aarch64 => aarch64::TABLE,
        }
    }

    /// The syscall number of `name` on this architecture, `None` when it does not exist here.
    pub fn number(self, name: &str) -> Option<u32> {
        let t = self.table();
        position(t, name).map(|i| t[i].1)
    }

    /// The numbers of `names` on this architecture, in their order (`None`: no such syscall
    /// here). A sorted list, which is what [`expand`] gives, is matched against the table
    /// (sorted by name too) in one pass: a few hundred comparisons instead of a binary search
    /// per name. Any other list is looked up name by name.
    pub fn numbers(self, names: &[String]) -> Vec<Option<u32>> {
        if !names.is_sorted() {
            return names.iter().map(|n| self.number(n)).collect();
        }
        let t = self.table();
        let mut at = 0;
        names
            .iter()
            .map(|name| {
                while t.get(at).is_some_and(|(n, _)| *n < name.as_str()) {
                    at += 1;
                }
                t.get(at).filter(|(n, _)| *n == name).map(|(_, nr)| *nr)
            })
            .collect()
    }

    /// The name of syscall `nr` on this architecture (for reports).
    pub fn name_of(self, nr: u32) -> Option<&'static str> {
        self.table().iter().find(|(_, n)| *n == nr).map(|(s, _)| *s)
    }

    /// The largest syscall number in the table.
    pub fn max_nr(self) -> u32 {
        self.table().iter().map(|(_, n)| *n).max().unwrap_or(0)
    }
}

/// `AUDIT_ARCH_X86_64` = `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_AARCH64` = `EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// `AUDIT_ARCH_I386`: what a 64-bit x86 process's `int $0x80` shows in `seccomp_data.arch`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_ARM`: what a 32-bit (compat) process on aarch64 shows.
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// `__X32_SYSCALL_BIT`: x32 syscalls on x86_64 carry this bit in their number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// True when `name` is a syscall on at least one supported architecture.
pub fn is_known(name: &str) -> bool {
    Arch::ALL.iter().any(|a| a.number(name).is_some())
}

/// Look a group up by its `@name`.
pub fn group(name: &str) -> Option<&'static Group> {
    group_position(name).map(|i| &GROUPS[i])
}

/// Expand group names (`@name`, nestable) and syscall names into a sorted, deduplicated list of
/// syscall names. A syscall name is accepted when it exists on at least one supported
/// architecture (x86_64, aarch64); the compiler skips it on the others. `Err(name)` names the
/// first unknown group or syscall (the profile layer adds file:line:col).
pub fn expand(names: &[String]) -> Result<Vec<String>, String> {
    let mut out = Expansion::default();
    for n in names {
        if n.starts_with('@') {
            let i = group_position(n).ok_or_else(|| n.clone())?;
            out.add(&GROUP_BITS[i]);
        } else if !out.insert(n) {
            return Err(n.clone());
        }
    }
    Ok(out.into_names())
}

/// Words of a set with one bit per entry of the x86_64 table.
const WORDS: usize = x86_64::TABLE.len().div_ceil(64);

/// Each shipped group's syscalls, nested groups included, as bits over the x86_64 table (sorted
/// by name, so the bits read back in order). Worked out when tooljail is compiled: expanding
/// `@system-service` is an OR of a few words, not ~300 binary searches by name at every call. A
/// member that is no x86_64 syscall, an unknown group or a cycle of groups fails the build.
static GROUP_BITS: [[u64; WORDS]; GROUPS.len()] = {
    let mut out = [[0; WORDS]; GROUPS.len()];
    let mut g = 0;
    while g < GROUPS.len() {
        add_group(&mut out[g], g, 0);
        g += 1;
    }
    out
};

/// Add group `g`'s members to `bits`, at compile time.
const fn add_group(bits: &mut [u64; WORDS], g: usize, depth: usize) {
    // Groups nest a few levels at most; the bound turns a cycle in the table into a build error
    // instead of endless evaluation.
    if depth > 8 {
        panic!("syscall groups nest more than 8 deep: is there a cycle?");
    }
    let members = GROUPS[g].members;
    let mut m = 0;
    while m < members.len() {
        let name = members[m];
        if !name.is_empty() && name.as_bytes()[0] == b'@' {
            let Some(inner) = group_position(name) else {
                panic!("a syscall group includes a group that does not exist");
            };
            add_group(bits, inner, depth + 1);
        } else {
            let Some(i) = position(x86_64::TABLE, name) else {
                panic!("a syscall group member is not an x86_64 syscall");
            };
            bits[i / 64] |= 1 << (i % 64);
        }
        m += 1;
    }
}

/// The index of group `name` in [`GROUPS`] (`const`, like [`position`]).
const fn group_position(name: &str) -> Option<usize> {
    let mut g = 0;
    while g < GROUPS.len() {
        if matches!(compare(GROUPS[g].name, name), std::cmp::Ordering::Equal) {
            return Some(g);
        }
        g += 1;
    }
    None
}

/// The index of syscall `name` in `table` (sorted by name), by binary search. `const`, so that
/// [`GROUP_BITS`] is worked out at compile time by the same search that looks names up at run
/// time.
const fn position(table: &[(&str, u32)], name: &str) -> Option<usize> {
    let (mut lo, mut hi) = (0, table.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match compare(table[mid].0, name) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(mid),
        }
    }
    None
}

/// `str` ordering (bytewise, as `Ord for str`), usable at compile time.
const fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            };
        }
        i += 1;
    }
    if a.len() < b.len() {
        std::cmp::Ordering::Less
    } else if a.len() > b.len() {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// The syscalls [`expand`] has found so far: one bit per entry of the x86_64 table, and the few
/// names that exist on aarch64 only.
#[derive(Default)]
struct Expansion {
    x86_64: [u64; WORDS],
    elsewhere: BTreeSet<&'static str>,
}

impl Expansion {
    /// Record `name`; false when it is a syscall on no supported architecture.
    fn insert(&mut self, name: &str) -> bool {
        if let Some(i) = position(Arch::X86_64.table(), name) {
            self.x86_64[i / 64] |= 1 << (i % 64);
            return true;
        }
        let other = Arch::Aarch64.table();
        match position(other, name) {
            Some(i) => self.elsewhere.insert(other[i].0),
            None => return false,
        };
        true
    }

    /// Record a group's syscalls ([`GROUP_BITS`]).
    fn add(&mut self, bits: &[u64; WORDS]) {
        for (w, b) in self.x86_64.iter_mut().zip(bits) {
            *w |= b;
        }
    }

    /// The names found, sorted and deduplicated.
    fn into_names(self) -> Vec<String> {
        let x86 = Arch::X86_64.table();
        let mut out: Vec<String> = x86
            .iter()
            .enumerate()
            .filter(|(i, _)| self.x86_64[i / 64] & (1 << (i % 64)) != 0)
            .map(|(_, (n, _))| (*n).to_string())
            .collect();
        if !self.elsewhere.is_empty() {
            out.extend(self.elsewhere.into_iter().map(str::to_string));
            out.sort_unstable();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn numbers_of_a_list_are_each_names_number_sorted_or_not() {
        let mut names: Vec<String> = GROUPS
            .iter()
            .flat_map(|g| g.members.iter())
            .filter(|m| !m.starts_with('@'))
            .map(|m| m.to_string())
            .collect();
        names.extend(s(&["", "a", "not_a_syscall", "zzz", "open", "read"]));
        for arch in Arch::ALL {
            let one_by_one: Vec<Option<u32>> = names.iter().map(|n| arch.number(n)).collect();
            assert_eq!(arch.numbers(&names), one_by_one, "{arch:?}, unsorted");
            let mut sorted = names.clone();
            sorted.sort();
            let one_by_one: Vec<Option<u32>> = sorted.iter().map(|n| arch.number(n)).collect();
            assert!(one_by_one.iter().filter(|n| n.is_some()).count() > 100);
            assert_eq!(arch.numbers(&sorted), one_by_one, "{arch:?}, sorted");
            sorted.dedup();
            let one_by_one: Vec<Option<u32>> = sorted.iter().map(|n| arch.number(n)).collect();
            assert_eq!(arch.numbers(&sorted), one_by_one, "{arch:?}, deduplicated");
            let every: Vec<String> = arch.table().iter().map(|(n, _)| n.to_string()).collect();
            let all: Vec<Option<u32>> = arch.table().iter().map(|(_, nr)| Some(*nr)).collect();
            assert_eq!(arch.numbers(&every), all, "{arch:?}, the whole table");
        }
    }

    #[test]
    fn known_numbers() {
        let x = Arch::X86_64;
        assert_eq!(x.number("read"), Some(0));
        assert_eq!(x.number("open"), Some(2));
        assert_eq!(x.number("ioctl"), Some(16));
        assert_eq!(x.number("socket"), Some(41));
        assert_eq!(x.number("clone"), Some(56));
        assert_eq!(x.number("execve"), Some(59));
        assert_eq!(x.number("ptrace"), Some(101));
        assert_eq!(x.number("getppid"), Some(110));
        assert_eq!(x.number("clone3"), Some(435));
        assert_eq!(x.number("io_uring_setup"), Some(425));
        let a = Arch::Aarch64;
        assert_eq!(a.number("io_setup"), Some(0));
        assert_eq!(a.number("ioctl"), Some(29));
        assert_eq!(a.number("openat"), Some(56));
        assert_eq!(a.number("read"), Some(63));
        assert_eq!(a.number("ptrace"), Some(117));
        assert_eq!(a.number("getppid"), Some(173));
        assert_eq!(a.number("socket"), Some(198));
        assert_eq!(a.number("clone"), Some(220));
        assert_eq!(a.number("execve"), Some(221));
        assert_eq!(a.number("clone3"), Some(435));
        assert_eq!(a.number("open"), None);
        assert_eq!(a.number("fork"), None);
        assert_eq!(x.name_of(101), Some("ptrace"));
        assert_eq!(a.name_of(117), Some("ptrace"));
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        for a in Arch::ALL {
            let t = a.table();
            assert!(t.len() > 300, "{a:?} table too small");
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{a:?} not sorted");
            let mut nrs: Vec<u32> = t.iter().map(|(_, n)| *n).collect();
            nrs.sort_unstable();
            assert!(nrs.windows(2).all(|w| w[0] != w[1]), "{a:?} duplicate nr");
        }
    }

    #[test]
    fn every_group_member_resolves_on_x86_64() {
        for g in GROUPS {
            assert!(g.name.starts_with('@') && !g.doc.is_empty());
            for m in g.members {
                if m.starts_with('@') {
                    assert!(group(m).is_some(), "{} includes unknown {m}", g.name);
                } else {
                    assert!(
                        Arch::X86_64.number(m).is_some(),
                        "{} member {m} is not an x86_64 syscall",
                        g.name
                    );
                }
            }
            // Every group expands (no cycles, no unknown names).
            let e = expand(&s(&[g.name])).unwrap();
            assert!(!e.is_empty());
        }
    }

    #[test]
    fn each_groups_bits_are_its_members_looked_up_by_name() {
        // GROUP_BITS is worked out at compile time; walk the same table at run time, by name.
        fn walk(g: &Group, out: &mut BTreeSet<String>) {
            for m in g.members {
                if m.starts_with('@') {
                    walk(group(m).expect("known group"), out);
                } else {
                    assert!(Arch::X86_64.number(m).is_some(), "{m}");
                    out.insert(m.to_string());
                }
            }
        }
        for g in GROUPS {
            let mut by_name = BTreeSet::new();
            walk(g, &mut by_name);
            let by_name: Vec<String> = by_name.into_iter().collect();
            assert_eq!(expand(&s(&[g.name])).unwrap(), by_name, "{}", g.name);
        }
        // Every bit set is a member of some group: nothing outside the table's range.
        let set: u32 = GROUP_BITS.iter().flatten().map(|w| w.count_ones()).sum();
        let members: usize = GROUPS
            .iter()
            .map(|g| expand(&s(&[g.name])).unwrap().len())
            .sum();
        assert_eq!(set as usize, members);
    }

    #[test]
    fn compile_time_order_is_strs() {
        for (a, b) in [
            ("", ""),
            ("a", ""),
            ("", "a"),
            ("read", "readv"),
            ("readv", "read"),
        ] {
            assert_eq!(compare(a, b), a.cmp(b), "{a:?} {b:?}");
        }
        for arch in Arch::ALL {
            let t = arch.table();
            for (i, (name, _)) in t.iter().enumerate() {
                assert_eq!(position(t, name), Some(i));
                assert_eq!(position(t, &format!("{name}_")), None);
            }
            assert_eq!(position(t, ""), None);
            assert_eq!(position(t, "zzzz"), None);
        }
    }

    #[test]
    fn group_names_unique() {
        let names: BTreeSet<_> = GROUPS.iter().map(|g| g.name).collect();
        assert_eq!(names.len(), GROUPS.len());
    }

    #[test]
    fn expand_nests_sorts_and_dedups() {
        let e = expand(&s(&["@privileged", "chown", "@chown"])).unwrap();
        assert!(e.contains(&"chown".to_string()));
        assert!(e.contains(&"reboot".to_string())); // via @reboot inside @privileged
        assert!(e.windows(2).all(|w| w[0] < w[1]));
        let sys = expand(&s(&["@system-service"])).unwrap();
        for must in [
            "execve",
            "read",
            "openat",
            "clone",
            "getrandom",
            "ioctl",
            "wait4",
        ] {
            assert!(sys.contains(&must.to_string()), "{must} missing");
        }
        for never in ["ptrace", "mount", "bpf", "keyctl", "unshare", "setns"] {
            assert!(
                !sys.contains(&never.to_string()),
                "{never} in @system-service"
            );
        }
    }

    #[test]
    fn names_of_both_tables_come_out_sorted() {
        // No shipped name exists on aarch64 alone today; the merge must still sort one in.
        let mut e = Expansion::default();
        assert!(e.insert("write") && e.insert("read") && e.insert("write"));
        assert!(!e.insert("raed"));
        e.elsewhere.insert("aarch64_only");
        e.elsewhere.insert("zzz_only");
        assert_eq!(
            e.into_names(),
            s(&["aarch64_only", "read", "write", "zzz_only"])
        );
        assert_eq!(Expansion::default().into_names(), Vec::<String>::new());
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(expand(&s(&["read", "@nope"])), Err("@nope".into()));
        assert_eq!(expand(&s(&["raed"])), Err("raed".into()));
        // Exists on x86_64 only: accepted, skipped on aarch64 by the compiler.
        assert_eq!(expand(&s(&["open"])), Ok(s(&["open"])));
    }

    #[test]
    fn hardening_keys_resolve() {
        for h in HARDENING {
            if h.kind == HardeningKind::Syscall {
                assert!(Arch::X86_64.number(h.key).is_some(), "{}", h.key);
                assert!(Arch::Aarch64.number(h.key).is_some(), "{}", h.key);
            }
            assert!(!h.why.is_empty());
        }
        assert!(hardening("ptrace").is_ok());
        assert_eq!(hardening("ptrac").unwrap_err(), "ptrac");
    }
}
