//! Named syscall groups, in the spirit of systemd's `SystemCallFilter=` sets, and the syscall
//! number tables they resolve against.
//!
//! A profile names groups (`@system-service`) and single syscalls (`getrandom`). [`expand`]
//! turns them into the sorted list of syscall names stored in `Policy.syscalls.allow`; the
//! seccomp compiler (`jail::seccomp`) resolves names to numbers per architecture with
//! [`Arch::number`]. A name that exists on no supported architecture is an error (a typo must
//! never become a silent hole); a name that exists on some architectures only (`open`, `fork`,
//! `stat` are absent on aarch64) is skipped on the others.
//!
//! The always-denied hardening rules live in [`HARDENING`]: they are not groups, because no
//! allow-list lifts them; only a visible `unsafe_allow` entry does.

mod aarch64;
mod x86_64;

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
        t.binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .map(|i| t[i].1)
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

/// A named, documented set of syscalls. Members are syscall names or `@other` groups.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub name: &'static str,
    /// Why the group exists, one line (shown by `tooljail explain`).
    pub doc: &'static str,
    pub members: &'static [&'static str],
}

/// The shipped groups. Names and intent follow systemd's seccomp sets so profile authors can
/// reuse what they know; the contents are trimmed to the calls that exist on x86_64/aarch64
/// (32-bit-only names such as `mmap2` or `_llseek` are absent: the filter kills foreign-arch
/// callers before any name matters).
pub const GROUPS: &[Group] = &[
    Group {
        name: "@default",
        doc: "what every dynamically linked program needs before main(): loader, memory, \
              threads (futex, robust lists, rseq), identity queries, time, exit",
        members: &[
            "arch_prctl", // x86_64 TLS setup by the loader (ARCH_SET_FS)
            "brk",
            "clock_getres",
            "clock_gettime", // normally the vDSO; the syscall is the fallback
            "clock_nanosleep",
            "execve", // the jail execs the command under the filter: must be allowed
            "exit",
            "exit_group",
            "futex",
            "futex_waitv",
            "get_robust_list",
            "getegid",
            "geteuid",
            "getgid",
            "getgroups",
            "getpgid",
            "getpgrp",
            "getpid",
            "getppid",
            "getrandom", // node aborts at start without it (DESIGN compatibility facts)
            "getresgid",
            "getresuid",
            "getrlimit",
            "getsid",
            "gettid",
            "gettimeofday",
            "getuid",
            "membarrier",
            "mmap",
            "mprotect",
            "munmap",
            "nanosleep",
            "pause",
            "prlimit64", // glibc's getrlimit/setrlimit are prlimit64 on the caller itself
            "restart_syscall",
            "rseq", // glibc >= 2.35 registers rseq for every thread
            "rt_sigreturn",
            "sched_getaffinity",
            "sched_yield",
            "set_robust_list",
            "set_tid_address",
            "time",
            "uretprobe",
        ],
    },
    Group {
        name: "@basic-io",
        doc: "reading, writing and closing file descriptors that are already open",
        members: &[
            "close",
            "close_range", // used by modern spawn code to close inherited fds
            "dup",
            "dup2",
            "dup3",
            "lseek",
            "pread64",
            "preadv",
            "preadv2",
            "pwrite64",
            "pwritev",
            "pwritev2",
            "read",
            "readv",
            "write",
            "writev",
        ],
    },
    Group {
        name: "@chown",
        doc: "changing file ownership (inside the jail only the jail's own ids are mapped)",
        members: &["chown", "fchown", "fchownat", "lchown"],
    },
    Group {
        name: "@clock",
        doc: "setting the system clock (needs CAP_SYS_TIME; never needed by a tool)",
        members: &["adjtimex", "clock_adjtime", "clock_settime", "settimeofday"],
    },
    Group {
        name: "@cpu-emulation",
        doc: "CPU emulation knobs: modify_ldt's 16-bit segments have a long CVE history",
        members: &["modify_ldt"],
    },
    Group {
        name: "@debug",
        doc: "debugging and tracing other processes: ptrace, perf, fd stealing",
        members: &[
            "lookup_dcookie",
            "perf_event_open", // a rich kernel attack surface; also a side channel
            "pidfd_getfd",     // copies another process's fd (ptrace-mode access)
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    },
    Group {
        name: "@file-system",
        doc: "opening, creating, inspecting and removing files and directories by path, \
              plus inotify (the rootfs and Landlock decide what is reachable)",
        members: &[
            "access",
            "chdir",
            "chmod",
            "close",
            "creat",
            "faccessat",
            "faccessat2",
            "fallocate",
            "fchdir",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "fcntl",
            "fgetxattr",
            "file_getattr",
            "file_setattr",
            "flistxattr",
            "fremovexattr",
            "fsetxattr",
            "fstat",
            "fstatfs",
            "ftruncate",
            "futimesat",
            "getcwd",
            "getdents",
            "getdents64",
            "getxattr",
            "getxattrat",
            "inotify_add_watch",
            "inotify_init",
            "inotify_init1",
            "inotify_rm_watch",
            "lgetxattr",
            "link",
            "linkat",
            "listxattr",
            "listxattrat",
            "llistxattr",
            "lremovexattr",
            "lsetxattr",
            "lstat",
            "mkdir",
            "mkdirat",
            "mknod", // needed for FIFOs; device nodes need CAP_MKNOD, which the jail lacks
            "mknodat",
            "mmap", // mapping files is file-system work too
            "munmap",
            "newfstatat",
            "open",
            "openat",
            "openat2",
            "readlink",
            "readlinkat",
            "removexattr",
            "removexattrat",
            "rename",
            "renameat",
            "renameat2",
            "rmdir",
            "setxattr",
            "setxattrat",
            "stat",
            "statfs",
            "statx",
            "symlink",
            "symlinkat",
            "truncate",
            "unlink",
            "unlinkat",
            "utime",
            "utimensat",
            "utimes",
        ],
    },
    Group {
        name: "@io-event",
        doc: "waiting for fds to become ready: poll, select, epoll, eventfd",
        members: &[
            "epoll_create",
            "epoll_create1",
            "epoll_ctl",
            "epoll_pwait",
            "epoll_pwait2",
            "epoll_wait",
            "eventfd",
            "eventfd2",
            "poll",
            "ppoll",
            "pselect6",
            "select",
        ],
    },
    Group {
        name: "@ipc",
        doc: "pipes, SysV IPC, POSIX message queues and memfd, all private to the jail's \
              IPC namespace (process_vm_* are in @debug and always denied)",
        members: &[
            "memfd_create",
            "mq_getsetattr",
            "mq_notify",
            "mq_open",
            "mq_timedreceive",
            "mq_timedsend",
            "mq_unlink",
            "msgctl",
            "msgget",
            "msgrcv",
            "msgsnd",
            "pipe",
            "pipe2",
            "semctl",
            "semget",
            "semop",
            "semtimedop",
            "shmat",
            "shmctl",
            "shmdt",
            "shmget",
        ],
    },
    Group {
        name: "@keyring",
        doc: "the kernel keyring; shared across the whole user, not namespaced, so always \
              denied by the hardening rules",
        members: &["add_key", "keyctl", "request_key"],
    },
    Group {
        name: "@memlock",
        doc: "locking memory in RAM (bounded by RLIMIT_MEMLOCK)",
        members: &["mlock", "mlock2", "mlockall", "munlock", "munlockall"],
    },
    Group {
        name: "@memory",
        doc: "managing the process's own address space",
        members: &[
            "brk",
            "get_mempolicy",
            "madvise",
            "map_shadow_stack", // CET shadow stacks for new threads (glibc with SHSTK)
            "mincore",
            "mmap",
            "mprotect",
            "mremap",
            "mseal",
            "msync",
            "munmap",
            "pkey_alloc",
            "pkey_free",
            "pkey_mprotect",
        ],
    },
    Group {
        name: "@module",
        doc: "loading and unloading kernel modules",
        members: &["delete_module", "finit_module", "init_module"],
    },
    Group {
        name: "@mount",
        doc: "mounting and the new mount API; the jail's mount tree is final before exec",
        members: &[
            "chroot",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "listmount",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "open_tree_attr",
            "pivot_root",
            "statmount",
            "umount2",
        ],
    },
    Group {
        name: "@network-io",
        doc: "sockets: creating (families limited by the hardening rules), connecting, \
              sending and receiving",
        members: &[
            "accept",
            "accept4",
            "bind",
            "connect",
            "getpeername",
            "getsockname",
            "getsockopt",
            "listen",
            "recvfrom",
            "recvmmsg",
            "recvmsg",
            "sendmmsg",
            "sendmsg",
            "sendto",
            "setsockopt",
            "shutdown",
            "socket",
            "socketpair",
        ],
    },
    Group {
        name: "@obsolete",
        doc: "unused or unimplemented calls kept only for ABI compatibility",
        members: &[
            "_sysctl",
            "afs_syscall",
            "create_module",
            "get_kernel_syms",
            "getpmsg",
            "putpmsg",
            "query_module",
            "security",
            "sysfs",
            "tuxcall",
            "uselib",
            "ustat",
            "vserver",
        ],
    },
    Group {
        name: "@pkey",
        doc: "memory protection keys",
        members: &["pkey_alloc", "pkey_free", "pkey_mprotect"],
    },
    Group {
        name: "@privileged",
        doc: "calls that need capabilities a jailed tool never has, or change host-wide state",
        members: &[
            "@chown",
            "@clock",
            "@module",
            "@raw-io",
            "@reboot",
            "@swap",
            "_sysctl",
            "acct",
            "bpf",
            "capset",
            "chroot",
            "fanotify_init",
            "fanotify_mark",
            "nfsservctl",
            "open_by_handle_at", // CVE-2014-3519 "shocker": escapes a chroot via file handles
            "pivot_root",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "setfsuid",
            "setgroups",
            "sethostname",
            "setresuid",
            "setreuid",
            "setuid",
            "vhangup",
        ],
    },
    Group {
        name: "@process",
        doc: "creating, signalling and waiting for processes and threads (namespace flags \
              and clone3 are handled by the hardening rules)",
        members: &[
            "capget",
            "clone",  // plain fork/thread flags only: CLONE_NEW* is always denied
            "clone3", // always answered ENOSYS so glibc falls back to clone
            "execveat",
            "fork",
            "getrusage",
            "kill",
            "pidfd_open",
            "pidfd_send_signal",
            "prctl",
            "rt_sigqueueinfo",
            "rt_tgsigqueueinfo",
            "tgkill",
            "times",
            "tkill",
            "vfork",
            "wait4",
            "waitid",
        ],
    },
    Group {
        name: "@raw-io",
        doc: "raw port and PCI I/O",
        members: &["ioperm", "iopl"],
    },
    Group {
        name: "@reboot",
        doc: "rebooting and kexec",
        members: &["kexec_file_load", "kexec_load", "reboot"],
    },
    Group {
        name: "@resources",
        doc: "changing scheduling, priorities, NUMA placement and resource limits",
        members: &[
            "ioprio_set",
            "mbind",
            "migrate_pages",
            "move_pages",
            "sched_setaffinity",
            "sched_setattr",
            "sched_setparam",
            "sched_setscheduler",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "setpriority",
            "setrlimit",
        ],
    },
    Group {
        name: "@sandbox",
        doc: "a tool sandboxing itself further (Landlock, seccomp): can only remove rights",
        members: &[
            "landlock_add_rule",
            "landlock_create_ruleset",
            "landlock_restrict_self",
            "seccomp",
        ],
    },
    Group {
        name: "@setuid",
        doc: "changing user and group ids (only to ids mapped into the jail)",
        members: &[
            "setgid",
            "setgroups",
            "setregid",
            "setresgid",
            "setresuid",
            "setreuid",
            "setuid",
        ],
    },
    Group {
        name: "@signal",
        doc: "signal handlers, masks and waiting for signals",
        members: &[
            "rt_sigaction",
            "rt_sigpending",
            "rt_sigprocmask",
            "rt_sigsuspend",
            "rt_sigtimedwait",
            "sigaltstack",
            "signalfd",
            "signalfd4",
        ],
    },
    Group {
        name: "@swap",
        doc: "enabling and disabling swap",
        members: &["swapoff", "swapon"],
    },
    Group {
        name: "@sync",
        doc: "flushing file data to storage",
        members: &[
            "fdatasync",
            "fsync",
            "msync",
            "sync",
            "sync_file_range",
            "syncfs",
        ],
    },
    Group {
        name: "@timer",
        doc: "timers and alarms",
        members: &[
            "alarm",
            "getitimer",
            "setitimer",
            "timer_create",
            "timer_delete",
            "timer_getoverrun",
            "timer_gettime",
            "timer_settime",
            "timerfd_create",
            "timerfd_gettime",
            "timerfd_settime",
            "times",
        ],
    },
    Group {
        name: "@aio",
        doc: "POSIX-style kernel AIO (io_uring is not here: it is always denied)",
        members: &[
            "io_cancel",
            "io_destroy",
            "io_getevents",
            "io_pgetevents",
            "io_setup",
            "io_submit",
        ],
    },
    Group {
        name: "@system-service",
        doc: "the default allow-list: what shells, coreutils, python3, git, curl and other \
              ordinary tools use; everything else is denied and reported by name",
        members: &[
            "@aio",
            "@basic-io",
            "@chown",
            "@default",
            "@file-system",
            "@io-event",
            "@ipc",
            "@memlock",
            "@memory",
            "@network-io",
            "@process",
            "@resources",
            "@sandbox",
            "@setuid",
            "@signal",
            "@sync",
            "@timer",
            "capget",
            "copy_file_range",
            "fadvise64",
            "flock",
            "getcpu",
            "getpriority",
            "ioctl", // TIOCSTI/TIOCLINUX are always denied whatever the allow-list says
            "ioprio_get",
            "kcmp",
            "personality", // setarch, and glibc's check of the current persona
            "readahead",
            "remap_file_pages",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_getattr",
            "sched_getparam",
            "sched_getscheduler",
            "sched_rr_get_interval",
            "sendfile", // cp and curl copy with it
            "setfsgid",
            "setfsuid",
            "setpgid",
            "setsid",
            "splice",
            "sysinfo",
            "tee",
            "umask",
            "uname",
            "vmsplice",
        ],
    },
];

/// Look a group up by its `@name`.
pub fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

/// Expand group names (`@name`, nestable) and syscall names into a sorted, deduplicated list of
/// syscall names. A syscall name is accepted when it exists on at least one supported
/// architecture (x86_64, aarch64); the compiler skips it on the others. `Err(name)` names the
/// first unknown group or syscall (the profile layer adds file:line:col).
pub fn expand(names: &[String]) -> Result<Vec<String>, String> {
    let mut out = BTreeSet::new();
    for n in names {
        expand_one(n, &mut out, 0)?;
    }
    Ok(out.into_iter().collect())
}

fn expand_one(name: &str, out: &mut BTreeSet<String>, depth: usize) -> Result<(), String> {
    // Groups nest a few levels at most; the bound turns an accidental cycle in the table into an
    // error instead of a stack overflow (a unit test checks the shipped table has none).
    if depth > 8 {
        return Err(name.to_string());
    }
    if name.starts_with('@') {
        let g = group(name).ok_or_else(|| name.to_string())?;
        for m in g.members {
            expand_one(m, out, depth + 1)?;
        }
        Ok(())
    } else if is_known(name) {
        out.insert(name.to_string());
        Ok(())
    } else {
        Err(name.to_string())
    }
}

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
    /// `ioctl` with TIOCSTI or TIOCLINUX (low 32 bits of the request) is denied with EPERM.
    TtyInjection,
    /// `socket` limited to the families in [`SOCKET_FAMILIES`]; others get EAFNOSUPPORT.
    SocketFamilies,
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
        why: "TIOCSTI/TIOCLINUX push keystrokes into the controlling terminal (CVE-2017-5226)",
    },
    Hardening {
        key: "socket-families",
        kind: HardeningKind::SocketFamilies,
        why: "rarely used socket families (packet, alg, vsock, ...) are a large attack surface",
    },
];

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
/// `AF_NETLINK`, allowed only with protocol [`NETLINK_ROUTE`].
pub const AF_NETLINK: u32 = 16;
/// `NETLINK_ROUTE`.
pub const NETLINK_ROUTE: u32 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
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
