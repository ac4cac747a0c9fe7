//! The always-denied hardening rules: data, each with the reason it exists.

/// What an always-denied hardening rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardeningKind {
    /// Every call of this syscall is denied with EPERM (and reported).
    Syscall,
    /// `clone` with any `CLONE_NEW*` flag in its flags argument is denied with EPERM.
    CloneNamespaces,
    /// `clone3` fails with ENOSYS, not reported: glibc then falls back to `clone`, whose flags
    /// argument (unlike clone3's struct in memory) the filter can read.
    Clone3Enosys,
    /// `ioctl` with TIOCSTI, TIOCLINUX, TIOCSETD, TIOCEXCL or TIOCCONS (low 32 bits of the
    /// request) is denied with EPERM.
    TtyInjection,
    /// `socket` limited to the families in [`SOCKET_FAMILIES`] and `socketpair` to AF_UNIX;
    /// others get EAFNOSUPPORT.
    SocketFamilies,
    /// `personality` limited to PER_LINUX, PER_LINUX32 and the query 0xffffffff; any other
    /// persona (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...) is denied with EPERM.
    Personality,
    /// `memfd_create` with [`MFD_EXEC`]: EACCES, the kernel's own answer under
    /// `vm.memfd_noexec = 2`; with [`MFD_HUGETLB`]: EINVAL; without [`MFD_NOEXEC_SEAL`]: the
    /// supervisor makes the memfd with the seal.
    MemfdNoexec,
    /// A mode with S_ISUID or S_ISGID (06000) in chmod, fchmod, fchmodat, fchmodat2, open,
    /// openat, creat, mkdir, mkdirat, mknod and mknodat is denied with EPERM; openat2 (whose
    /// mode is in memory the filter cannot read) gets ENOSYS, and libc falls back to openat.
    /// Compiled only when the jail can write the host (a read-write bind, or landlock mode's
    /// host scratch): elsewhere such a file dies with the jail's tmpfs, and the hot open calls
    /// keep the kernel's allow-by-number cache.
    SpecialModeBits,
}

/// One always-denied hardening rule. `key` is what `[syscalls] unsafe_allow` names to lift it.
#[derive(Debug, Clone, Copy)]
pub struct Hardening {
    pub key: &'static str,
    pub kind: HardeningKind,
    /// Why it is denied.
    pub why: &'static str,
}

const fn deny(key: &'static str, why: &'static str) -> Hardening {
    Hardening {
        key,
        kind: HardeningKind::Syscall,
        why,
    }
}

/// Denied whatever the allow-list says, unless the profile lists the key in `unsafe_allow`
/// (then the allow-list decides, as for any other syscall). Plus two rules no profile can lift:
/// a foreign-architecture syscall (i386 `int $0x80`) and an x32 number kill the process.
pub const HARDENING: &[Hardening] = &[
    deny("io_uring_setup", "io_uring bypasses seccomp for the calls it performs and has had many privilege-escalation bugs"),
    deny("io_uring_enter", "io_uring: see io_uring_setup"),
    deny("io_uring_register", "io_uring: see io_uring_setup"),
    deny("bpf", "eBPF verifier bugs are a recurring kernel escalation path"),
    deny("perf_event_open", "large kernel attack surface and a side channel"),
    deny("userfaultfd", "stalls kernel page faults at will: the standard way to win kernel races"),
    deny("keyctl", "the keyring is not namespaced: keys of the host user are reachable"),
    deny("add_key", "the keyring is not namespaced"),
    deny("request_key", "the keyring is not namespaced"),
    deny("kexec_load", "replaces the running kernel"),
    deny("kexec_file_load", "replaces the running kernel"),
    deny("init_module", "loads kernel code"),
    deny("finit_module", "loads kernel code"),
    deny("delete_module", "unloads kernel code"),
    deny("ptrace", "reads and writes other processes' memory and registers"),
    deny("process_vm_readv", "reads another process's memory"),
    deny("process_vm_writev", "writes another process's memory"),
    deny("open_by_handle_at", "CVE-2014-3519 (shocker): opens files outside the visible tree"),
    deny("name_to_handle_at", "the other half of open_by_handle_at; leaks inode identities"),
    deny("mount", "the jail's mount tree is final before exec"),
    deny("umount2", "the jail's mount tree is final before exec"),
    deny("pivot_root", "the jail's root is final before exec"),
    deny("move_mount", "new mount API"),
    deny("fsopen", "new mount API"),
    deny("fsmount", "new mount API"),
    deny("fsconfig", "new mount API"),
    deny("fspick", "new mount API"),
    deny("open_tree", "new mount API"),
    deny("mount_setattr", "new mount API"),
    deny("setns", "joins other namespaces"),
    deny("unshare", "new namespaces (user namespaces above all) reopen kernel attack surface"),
    deny("acct", "process accounting writes host-wide"),
    deny("swapon", "host-wide swap"),
    deny("swapoff", "host-wide swap"),
    deny("reboot", "reboots the host (or kills a pid namespace's init)"),
    deny("syslog", "reads the kernel log: addresses and other tenants' messages"),
    Hardening {
        key: "clone-namespaces",
        kind: HardeningKind::CloneNamespaces,
        why: "clone with CLONE_NEW* creates namespaces, like unshare",
    },
    Hardening {
        key: "clone3",
        kind: HardeningKind::Clone3Enosys,
        why: "clone3's flags live in memory the filter cannot read; ENOSYS makes libc use clone",
    },
    Hardening {
        key: "tty-injection",
        kind: HardeningKind::TtyInjection,
        why: "TIOCSTI/TIOCLINUX push keystrokes into the controlling terminal (CVE-2017-5226); \
              TIOCSETD/TIOCEXCL/TIOCCONS change the caller's terminal beyond the jail",
    },
    Hardening {
        key: "socket-families",
        kind: HardeningKind::SocketFamilies,
        why: "rarely used socket families (packet, alg, vsock, ...) are a large attack surface; \
              socketpair runs the family's code too, so it gets AF_UNIX only",
    },
    Hardening {
        key: "personality",
        kind: HardeningKind::Personality,
        why: "persona flags turn off ASLR (ADDR_NO_RANDOMIZE), make data executable \
              (READ_IMPLIES_EXEC) or map page zero; only PER_LINUX(32) and the query pass",
    },
    Hardening {
        key: "memfd-exec",
        kind: HardeningKind::MemfdNoexec,
        why: "an executable memfd runs a downloaded binary with execveat or /proc/self/fd/N, \
              past Landlock's execute rights and a noexec scratch; the kernel's \
              vm.memfd_noexec = 2 cannot be set from an unprivileged jail, so the filter \
              enforces it: memfd_create must pass MFD_NOEXEC_SEAL",
    },
    Hardening {
        key: "setid-bits",
        kind: HardeningKind::SpecialModeBits,
        why: "a setuid or setgid file made through a writable bind stays on the host, owned by \
              the directory's owner (root, for a root caller's project): anyone who runs it \
              later gets that owner's privileges",
    },
];

/// The hardening rule that denies calls of `syscall`: the one named after it, or the argument
/// rule that inspects it (`ioctl` -> `tty-injection`, ...). `None` when no rule does.
pub fn hardening_for_syscall(syscall: &str) -> Option<&'static Hardening> {
    let kind = match syscall {
        "ioctl" => HardeningKind::TtyInjection,
        "clone" => HardeningKind::CloneNamespaces,
        "clone3" => HardeningKind::Clone3Enosys,
        "socket" | "socketpair" => HardeningKind::SocketFamilies,
        "personality" => HardeningKind::Personality,
        "memfd_create" => HardeningKind::MemfdNoexec,
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" | "open" | "openat" | "openat2" | "creat"
        | "mkdir" | "mkdirat" | "mknod" | "mknodat" => HardeningKind::SpecialModeBits,
        _ => HardeningKind::Syscall,
    };
    HARDENING
        .iter()
        .find(|h| h.kind == kind && (kind != HardeningKind::Syscall || h.key == syscall))
}

/// Look up a hardening rule by its `unsafe_allow` key. `Err(key)` for an unknown key, so the
/// profile layer can report it with file:line:col.
pub fn hardening(key: &str) -> Result<&'static Hardening, String> {
    HARDENING
        .iter()
        .find(|h| h.key == key)
        .ok_or_else(|| key.to_string())
}

/// Socket families `socket(2)` may create in every network mode, as (AF_*, name). In `none`
/// and `loopback` modes the network namespace holds only `lo`, so AF_INET/AF_INET6 reach
/// nothing outside, but tools (python, node, curl's resolver) create them to probe or to talk
/// to servers they start themselves. AF_NETLINK is limited to NETLINK_ROUTE (protocol 0):
/// glibc's getaddrinfo(AI_ADDRCONFIG) and if_nameindex read interface addresses through it;
/// changing routes or links needs CAP_NET_ADMIN, which the jail never has.
pub const SOCKET_FAMILIES: &[(u32, &str)] = &[(1, "AF_UNIX"), (2, "AF_INET"), (10, "AF_INET6")];
/// The socket families `mode` needs under `isolation` (see [`SOCKET_FAMILIES`] for why every mode
/// of the full jail gets the same three: `none` and `loopback` differ from `host` in the network
/// namespace, not in families). Without namespaces (`isolation = "landlock"`) there is no private
/// network: in `none` and `loopback` an AF_INET or AF_INET6 socket would reach the host's network
/// (Landlock limits only TCP bind and connect, not UDP), so those families are refused, and only
/// AF_UNIX (and netlink route, below) is left.
pub fn socket_families(
    mode: crate::policy::NetMode,
    isolation: crate::policy::IsolationMode,
) -> &'static [(u32, &'static str)] {
    use crate::policy::{IsolationMode, NetMode};
    match (mode, isolation) {
        (NetMode::None | NetMode::Loopback, IsolationMode::Landlock) => UNIX_ONLY,
        (NetMode::None | NetMode::Loopback | NetMode::Host, IsolationMode::Full)
        | (NetMode::Host, IsolationMode::Landlock) => SOCKET_FAMILIES,
    }
}

/// AF_UNIX alone: `none` and `loopback` without a network namespace.
pub const UNIX_ONLY: &[(u32, &str)] = &[(1, "AF_UNIX")];

/// `AF_UNIX`: the only family `socketpair(2)` may name.
pub const AF_UNIX: u32 = 1;
/// `PER_LINUX`: the default persona.
pub const PER_LINUX: u32 = 0;
/// `PER_LINUX32`: uname reports a 32-bit machine; no other effect on a 64-bit process.
pub const PER_LINUX32: u32 = 0x0008;
/// `personality(0xffffffff)` only reads the current persona.
pub const PERSONALITY_QUERY: u32 = 0xffff_ffff;
/// `MFD_NOEXEC_SEAL` (Linux 6.3): the memfd is not executable and can never be made so.
pub const MFD_NOEXEC_SEAL: u32 = 0x0008;
/// `MFD_EXEC` (Linux 6.3): the memfd is executable.
pub const MFD_EXEC: u32 = 0x0010;
/// `MFD_HUGETLB`: the memfd lives on hugetlbfs (where F_SEAL_EXEC is not enforced).
pub const MFD_HUGETLB: u32 = 0x0004;
/// `AF_NETLINK`, allowed only with protocol [`NETLINK_ROUTE`].
pub const AF_NETLINK: u32 = 16;
/// `NETLINK_ROUTE`.
pub const NETLINK_ROUTE: u32 = 0;
