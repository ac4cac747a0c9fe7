//! The seccomp filter: the third wall, installed as the very last step before execve.
//!
//! [`compile`] turns `Policy.syscalls` (+ the always-denied [`HARDENING`] rules) into a classic
//! BPF program, in the parent, before clone: pure data in, instructions out, unit-tested by
//! running the program in [`bpf::run`]. [`install`] loads it in the command process and hands
//! the user-notification listener to the supervisor, whose [`Notifier`] answers each denied
//! call and records it by name, so the report can say `ptrace(x86_64) x1` rather than
//! "killed by signal 31" (DESIGN security invariant 4).
//!
//! Shape of the program: the architecture checks, then a balanced binary search on the syscall
//! number ([`layout`]) whose leaves are the rule blocks below, ALLOW, or DEFAULT (all jumps
//! forward; one longer than 255 goes through `ja`). What each number gets:
//!
//! ```text
//!   A = arch;  A != NATIVE            -> KILL_PROCESS   (i386 int $0x80, arm compat)
//!   A = nr;    A & 0x40000000 (x86)   -> KILL_PROCESS   (x32 ABI)
//!   nr == ioctl   -> low32(arg1) in {TIOCSTI, TIOCLINUX, TIOCSETD, TIOCEXCL, TIOCCONS}
//!                    ? NOTIFY(EPERM) : ALLOW
//!   nr == clone   -> low32(arg0) & CLONE_NEW*           ? NOTIFY(EPERM) : ALLOW
//!   nr == socket  -> family allowed (netlink: route only) ? ALLOW : NOTIFY(EAFNOSUPPORT)
//!   nr == socketpair -> low32(arg0) == AF_UNIX          ? ALLOW : NOTIFY(EAFNOSUPPORT)
//!   nr == personality -> low32(arg0) in {0, 8, 0xffffffff} ? ALLOW : NOTIFY(EPERM)
//!   nr == memfd_create -> low32(arg1) & MFD_HUGETLB ? NOTIFY(EINVAL)
//!                       : low32(arg1) & MFD_EXEC ? NOTIFY(EACCES)
//!                       : low32(arg1) & MFD_NOEXEC_SEAL ? ALLOW : NOTIFY(substitute)
//!   nr == sendmsg -> arg0 == hand-off fd && flags == MSG_NOSIGNAL ? ALLOW : DEFAULT
//!   nr == clone3  -> ERRNO(ENOSYS)
//!   nr == mmap, close, exit_group (limit watch points, [`watch`]) -> args match ? NOTIFY : ALLOW
//!   when the jail can write the host:
//!   nr == chmod, open, openat, mkdir, ... -> low32(mode arg) & 06000 ? NOTIFY(EPERM) : ALLOW
//!   nr == openat2 -> ERRNO(ENOSYS)
//!   nr == connect -> NOTIFY(observe, continue)
//!   when a place is read-only (always, in practice):
//!   nr == open, openat -> low32(flags) & (O_WRONLY|O_RDWR|O_CREAT|O_TRUNC) ? NOTIFY(observe) : ALLOW
//!                         (after the setid-bits check when the jail can write the host)
//!   when a bind (or the scratch) is not executable:
//!   nr == execve                          -> NOTIFY(observe, continue)
//!   nr == execveat -> low32(arg0) == AT_FDCWD ? ALLOW : NOTIFY(observe, continue)
//!   nr == access, faccessat(2) -> low32(mode) & X_OK ? NOTIFY(observe) : ALLOW
//!   nr == mmap    -> low32(prot) & PROT_EXEC && low32(fd) != -1 ? NOTIFY(observe) : ALLOW
//!   nr == ptrace, mount, bpf, ... (hardening) -> NOTIFY(EPERM)
//!   nr == each allowed syscall                -> ALLOW
//!   otherwise                                 -> DEFAULT
//! ```
//!
//! DEFAULT is `SECCOMP_RET_USER_NOTIF` for `Errno(n)` and `Kill` (the supervisor answers `-n`,
//! or leaves the caller blocked and kills the jail), and `SECCOMP_RET_LOG` for `Log` (the call
//! runs and the kernel logs it; the report cannot list those). Allowed calls never leave the
//! kernel: since Linux 5.11 the kernel caches "always allowed for this nr" and skips the filter.
//!
//! One notification is not a denial: `memfd_create` without `MFD_NOEXEC_SEAL` (every program
//! written before Linux 6.3) is answered with a memfd the supervisor creates *with* the seal
//! and installs in the caller (`SECCOMP_IOCTL_NOTIF_ADDFD` + `SEND`): what the kernel itself
//! does under `vm.memfd_noexec = 2`, which an unprivileged jail cannot set.

mod answer;
pub mod bpf;
mod hardening;
mod layout;
mod program;
pub mod watch;

use crate::error::{Error, ErrorKind, Result};
use crate::policy::syscalls::{self, Arch, HARDENING, X32_SYSCALL_BIT};
use crate::policy::{Policy, SeccompAction, Syscalls};
use answer::answer_checked;
pub use answer::{answer, Answer, CheckedShadow, DenialRule};
use bpf::{
    arg_lo, Insn, SeccompData, JA, JEQ_K, JGE_K, JGT_K, JSET_K, LD_W_ABS, OFF_ARCH, OFF_NR, RET_K,
};
pub use program::Program;
use program::{evaluate, Lowering, Op, Verdict};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
pub use watch::{Watch, WatchPoint};

/// `SECCOMP_RET_*` action values (linux/seccomp.h).
pub mod ret {
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    pub const KILL_THREAD: u32 = 0x0000_0000;
    pub const TRAP: u32 = 0x0003_0000;
    pub const ERRNO: u32 = 0x0005_0000;
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    pub const TRACE: u32 = 0x7ff0_0000;
    pub const LOG: u32 = 0x7ffc_0000;
    pub const ALLOW: u32 = 0x7fff_0000;
    pub const ACTION_FULL: u32 = 0xffff_0000;
    pub const DATA: u32 = 0x0000_ffff;
}

/// Every `CLONE_NEW*` flag clone(2) accepts in its flags word: NEWNS 0x20000, NEWCGROUP
/// 0x2000000, NEWUTS 0x4000000, NEWIPC 0x8000000, NEWUSER 0x10000000, NEWPID 0x20000000,
/// NEWNET 0x40000000. (CLONE_NEWTIME, 0x80, overlaps clone's exit-signal byte and is only
/// accepted by unshare/clone3, both of which are denied outright.)
pub const CLONE_NEW_MASK: u32 = 0x7E02_0000;
/// `TIOCSTI`: push a byte into the terminal's input queue.
pub const TIOCSTI: u32 = 0x5412;
/// `TIOCLINUX`: the virtual console's multiplexer; subcodes paste the selection (CVE-2023-1523
/// showed it is TIOCSTI by another name).
pub const TIOCLINUX: u32 = 0x541C;
/// `TIOCSETD`: change the terminal's line discipline (outlives the jail on the caller's
/// terminal; loads kernel line-discipline code that is a recurring bug source).
pub const TIOCSETD: u32 = 0x5423;
/// `TIOCEXCL`: exclusive mode, after which nobody else may open the terminal.
pub const TIOCEXCL: u32 = 0x540C;
/// `TIOCCONS`: redirect the console's output to this terminal.
pub const TIOCCONS: u32 = 0x541D;
/// `X_OK` of access(2).
pub const X_OK: u32 = 0x1;
/// `PROT_EXEC` of mmap(2).
pub const PROT_EXEC: u32 = 0x4;
/// `AT_FDCWD` (-100) as the low 32 bits of a dirfd argument, an int.
pub const AT_FDCWD_LO: u32 = u32::from_ne_bytes(libc::AT_FDCWD.to_ne_bytes());
/// S_ISUID | S_ISGID: the mode bits no file made through a writable bind may carry.
pub const SETID_BITS: u32 = 0o6000;
/// The syscalls that take a mode, and the index of their mode argument.
const MODE_ARGS: &[(&str, u32)] = &[
    ("chmod", 1),
    ("fchmod", 1),
    ("fchmodat", 2),
    ("fchmodat2", 2),
    ("open", 2),
    ("openat", 3),
    ("creat", 1),
    ("mkdir", 1),
    ("mkdirat", 2),
    ("mknod", 1),
    ("mknodat", 2),
];
/// The exact `flags` of the one sendmsg that hands the listener over (see [`install`]).
pub const HANDOFF_SEND_FLAGS: u32 = libc::MSG_NOSIGNAL.unsigned_abs();
/// Placeholder for the hand-off fd until [`Program::for_handoff_fd`] patches it in.
const HANDOFF_FD_PLACEHOLDER: u32 = u32::MAX;

/// O_WRONLY | O_RDWR | O_CREAT | O_TRUNC (the same on x86_64 and aarch64): an open that may
/// write.
pub const WRITE_OPEN_BITS: u32 = 0o1103;

/// The end of an open's rule: with writes observed, an open for writing (`flags` has a
/// [`WRITE_OPEN_BITS`] bit) is observed and any other allowed; else allowed. `name`: open,
/// openat (where its flags are); for any other call, allowed.
fn write_open_tail(policy: &Policy, name: &str) -> Vec<Op> {
    let flags = match name {
        "open" => 1,
        "openat" => 2,
        _ => return vec![Op::Ret(Verdict::Allow)],
    };
    if !policy.observes_writes() {
        return vec![Op::Ret(Verdict::Allow)];
    }
    vec![
        Op::Ld(arg_lo(flags)),
        Op::Jset(WRITE_OPEN_BITS, 0, 1),
        Op::Ret(Verdict::Observe),
        Op::Ret(Verdict::Allow),
    ]
}

/// An errno as the `SECCOMP_RET_DATA` field of a return value. Errnos are 1..=4095 (compile
/// refuses any other profile errno), so the mask never changes one; a negative value, which no
/// errno is, becomes EPERM.
fn ret_data(errno: i32) -> u32 {
    u32::try_from(errno).unwrap_or(1) & ret::DATA
}

/// A forward jump offset. Every jump in the program skips a handful of instructions (the shape
/// above), far below the 255 a BPF jump can hold; a longer one is a bug in this compiler.
fn jump(offset: usize) -> u8 {
    u8::try_from(offset).expect("seccomp jump offsets are short by construction")
}

fn profile_err(message: String) -> Error {
    Error::new(ErrorKind::Profile, "[syscalls]", message)
}

/// Compile `policy.syscalls` for the native architecture. Parent side, before clone.
pub fn compile(policy: &Policy) -> Result<Program> {
    compile_for(policy, Arch::NATIVE)
}

/// [`compile`] with the limit watch points `watch` ([`watch`]): what a run installs.
pub fn compile_watching(policy: &Policy, watch: Watch) -> Result<Program> {
    compile_watching_for(policy, Arch::NATIVE, watch)
}

/// Compile for `arch` (tests compile for both supported architectures).
///
/// Errors (kind Profile, exit 125): an empty allow-list, an allow-list without `execve` (the
/// command could never start), a name that is a syscall on no supported architecture, an
/// unknown `unsafe_allow` key, an errno outside 1..=4095, a program the kernel would refuse,
/// and a program that would allow every native syscall. Never "success" for those.
pub fn compile_for(policy: &Policy, arch: Arch) -> Result<Program> {
    compile_watching_for(policy, arch, Watch::default())
}

/// [`compile_for`] with the limit watch points `watch`.
pub fn compile_watching_for(policy: &Policy, arch: Arch, watch: Watch) -> Result<Program> {
    let sc = &policy.syscalls;
    let lifted = check(sc)?;
    let allowed = allowed_numbers(sc, arch)?;
    let mut ops = head(arch);
    let mut rules = Rules {
        arch,
        allowed: &allowed,
        blocks: BTreeMap::new(),
    };
    for h in HARDENING {
        if !lifted.contains(h.key) {
            hardening::rules(&mut rules, h, policy);
        }
    }
    let mut watch_blocks = watch.blocks();
    observation_rules(&mut rules, policy, &lifted, &mut watch_blocks);
    let learning = sc.observe_all;
    handoff_rule(&mut rules, learning);
    // Limit watch points, for allowed syscalls (none has a hardening rule: a test checks); the
    // mmap one, when mmap is observed above, is already part of that rule.
    for (name, block) in watch_blocks {
        if let Some(nr) = rules.allowed_nr(name) {
            rules.add(nr, block);
        }
    }
    ops.extend(layout::dispatch(&rules.blocks, &allowed, arch.max_nr()));
    let handoff_slot = ops.iter().position(|op| matches!(op, Op::HandoffFd(..)));
    if learning {
        observe_every_allowed(&mut ops, handoff_slot);
    }

    let prog = Program {
        arch,
        action: sc.action,
        ops,
        handoff_slot,
        watch,
        learns: learning,
        execveat: rules.allowed_nr("execveat").is_some(),
    };
    verify(&prog)?;
    Ok(prog)
}

/// The rule block of each syscall that has one, by number, for [`layout::dispatch`]: the
/// first rule made for a number holds; the plain allow-list is for the others.
struct Rules<'a> {
    arch: Arch,
    /// The numbers the profile allows.
    allowed: &'a BTreeSet<u32>,
    blocks: BTreeMap<u32, Vec<Op>>,
}

impl Rules<'_> {
    fn add(&mut self, nr: u32, block: Vec<Op>) {
        self.blocks.entry(nr).or_insert(block);
    }

    /// The number of `name` on this architecture.
    fn nr(&self, name: &str) -> Option<u32> {
        self.arch.number(name)
    }

    /// The number of `name` when the profile allows it (a syscall not allowed at all needs no
    /// argument rule: the default action already stops it).
    fn allowed_nr(&self, name: &str) -> Option<u32> {
        self.nr(name).filter(|n| self.allowed.contains(n))
    }
}

/// What the profile's `[syscalls]` must be for a program to be made at all; returns the
/// hardening rules its `unsafe_allow` lifts.
fn check(sc: &Syscalls) -> Result<BTreeSet<&'static str>> {
    if sc.allow.is_empty() {
        return Err(
            profile_err("the syscall allow-list is empty: nothing could run".into())
                .with_hint("allow at least \"@system-service\" or \"@default\""),
        );
    }
    if !sc.allow.iter().any(|n| n == "execve") {
        return Err(profile_err(
            "the syscall allow-list lacks execve: the command could never start".into(),
        )
        .with_hint("add \"@default\" (or \"execve\") to allow"));
    }
    if let SeccompAction::Errno(n) = sc.action {
        if !(1..=4095).contains(&n) {
            return Err(profile_err(format!(
                "action errno {n} is not an errno (1..4095)"
            )));
        }
    }
    let mut lifted = BTreeSet::new();
    for key in &sc.unsafe_allow {
        let h = syscalls::hardening(key).map_err(|k| {
            profile_err(format!("unknown unsafe_allow entry \"{k}\""))
                .with_hint("see `tooljail explain` for the hardening rules' names")
        })?;
        lifted.insert(h.key);
    }
    Ok(lifted)
}

/// The numbers of the allowed syscalls on `arch` (a name that is a syscall elsewhere only is
/// skipped; one that is a syscall nowhere is an error).
fn allowed_numbers(sc: &Syscalls, arch: Arch) -> Result<BTreeSet<u32>> {
    let mut numbers = Vec::with_capacity(sc.allow.len());
    for (name, nr) in sc.allow.iter().zip(arch.numbers(&sc.allow)) {
        match nr {
            Some(nr) => numbers.push(nr),
            None if syscalls::is_known(name) => {} // not on this architecture: skipped
            None => {
                return Err(profile_err(format!("unknown syscall \"{name}\" in allow")));
            }
        }
    }
    // Built in one go (sorted, then laid out), not by an insert per number.
    Ok(numbers.into_iter().collect())
}

/// The program's start: the architecture checks, then the syscall number loaded.
fn head(arch: Arch) -> Vec<Op> {
    let mut ops = vec![
        Op::Ld(OFF_ARCH),
        Op::Jeq(arch.audit_arch(), 1, 0),
        Op::Ret(Verdict::KillProcess),
        Op::Ld(OFF_NR),
    ];
    if arch == Arch::X86_64 {
        ops.push(Op::Jset(X32_SYSCALL_BIT, 0, 1));
        ops.push(Op::Ret(Verdict::KillProcess));
    }
    ops
}

/// The rules that let the supervisor see what a refused call named (a connect's address, an
/// open for writing's file, an exec's file), so the report can give its fix.
fn observation_rules(
    rules: &mut Rules<'_>,
    policy: &Policy,
    lifted: &BTreeSet<&str>,
    watch_blocks: &mut Vec<(&'static str, Vec<Op>)>,
) {
    if let Some(nr) = rules.allowed_nr("connect") {
        // Where a connect goes, so one the network mode or Landlock's port rules refuse can be
        // reported with its fix. One round trip per connect.
        rules.add(nr, vec![Op::Ret(Verdict::Observe)]);
    }
    // The setid-bits rule (hardening.rs) ends open and openat with this check already.
    let setid_rule = policy.writes_host() && !lifted.contains("setid-bits");
    if policy.observes_writes() && !setid_rule {
        // Which file an open for writing names, so one refused by a read-only place can be
        // reported with its fix (see `supervisor::observe`). One round trip per open for
        // writing.
        for name in ["open", "openat"] {
            if let Some(nr) = rules.allowed_nr(name) {
                rules.add(nr, write_open_tail(policy, name));
            }
        }
    }
    if policy.observes_exec() {
        // Which file an exec or an executable mapping names, so a refusal by a bind without
        // exec can be reported with its fix (see `supervisor::observe`). One round trip to the
        // supervisor per exec and per executable file mapping (a shared library's text).
        if let Some(nr) = rules.allowed_nr("execve") {
            rules.add(nr, vec![Op::Ret(Verdict::Observe)]);
        }
        // execveat(dirfd, path, argv, envp, flags) from AT_FDCWD runs unseen: that is how the
        // command process itself execs (src/jail/exec.rs), before any code of the tool runs,
        // and the supervisor could read nothing of it (the process is not dumpable and its
        // memory belongs to the host's user namespace until that exec): a round trip for
        // nothing in every call. Tools exec through execve (libc's execve, execvp,
        // posix_spawn) or execveat from a descriptor (fexecve), both seen; one that calls
        // execveat(AT_FDCWD, ...) itself goes unexplained, never unrefused: the kernel decides.
        if let Some(nr) = rules.allowed_nr("execveat") {
            rules.add(
                nr,
                vec![
                    Op::Ld(arg_lo(0)),
                    Op::Jeq(AT_FDCWD_LO, 0, 1),
                    Op::Ret(Verdict::Allow),
                    Op::Ret(Verdict::Observe),
                ],
            );
        }
        // access(path, mode), faccessat(dirfd, path, mode), faccessat2(.., flags) with X_OK:
        // make, execvp and shells ask before they exec, and then never call execve.
        for (name, arg) in [("access", 1), ("faccessat", 2), ("faccessat2", 2)] {
            if let Some(nr) = rules.allowed_nr(name) {
                let b = vec![
                    Op::Ld(arg_lo(arg)),
                    Op::Jset(X_OK, 0, 1),
                    Op::Ret(Verdict::Observe),
                    Op::Ret(Verdict::Allow),
                ];
                rules.add(nr, b);
            }
        }
        if let Some(nr) = rules.allowed_nr("mmap") {
            // mmap(addr, len, prot, flags, fd, off): PROT_EXEC of a file (fd not -1) is
            // observed; any other mapping goes on to the memory watch point, when there is one.
            let mut b = vec![
                Op::Ld(arg_lo(2)),
                Op::Jset(PROT_EXEC, 0, 3),
                Op::Ld(arg_lo(4)),
                Op::Jeq(u32::MAX, 1, 0),
                Op::Ret(Verdict::Observe),
            ];
            match watch_blocks.iter().position(|(name, _)| *name == "mmap") {
                Some(i) => b.extend(watch_blocks.remove(i).1),
                None => b.push(Op::Ret(Verdict::Allow)),
            }
            rules.add(nr, b);
        }
    }
}

/// The hand-off sendmsg, which must pass before anyone listens (see [`install`]).
fn handoff_rule(rules: &mut Rules<'_>, learning: bool) {
    if let Some(nr) = rules
        .nr("sendmsg")
        .filter(|n| learning || !rules.allowed.contains(n))
    {
        // The hand-off: after the filter is installed the command must sendmsg the listener
        // fd before anyone listens. If the profile denies sendmsg, that call would become a
        // notification nobody can receive yet: a deadlock. So sendmsg on exactly the hand-off
        // fd with exactly MSG_NOSIGNAL is allowed. The fd is closed by execve (O_CLOEXEC); a
        // later socket that reuses the number could still use sendmsg with those flags:
        // that is the documented cost (docs/seccomp.md).
        let b = vec![
            Op::Ld(arg_lo(0)),
            Op::HandoffFd(0, 2),
            Op::Ld(arg_lo(2)),
            Op::Jeq(HANDOFF_SEND_FLAGS, 1, 0),
            // A learning run observes every other sendmsg the profile allows (below).
            Op::Ret(if rules.allowed.contains(&nr) {
                Verdict::Allow
            } else {
                Verdict::Default
            }),
            Op::Ret(Verdict::Allow),
        ];
        // Learning: the hand-off goes first, before any rule of sendmsg's own.
        rules.blocks.insert(nr, b);
    }
}

/// A learning run's program: every call the program allows becomes an observed one (the
/// supervisor records the syscall, reads what file or address it names, and lets the kernel
/// run it: SECCOMP_USER_NOTIF_FLAG_CONTINUE), so the run's record holds every syscall used.
/// One exception: the hand-off sendmsg (the `ALLOW` that ends its block, four instructions
/// after the hand-off fd comparison), which runs before anyone listens. Denials and the
/// watch points stay as they are: what the run may do does not change, only what is seen.
///
/// Why every call and not only the first of each number: a classic BPF program has no state,
/// and the supervisor cannot replace a filter once installed (it could only stack another,
/// which only the process itself may do). Measured in docs/writing-profiles.md.
fn observe_every_allowed(ops: &mut [Op], handoff_slot: Option<usize>) {
    let keep = handoff_slot.map(|i| i + 4);
    for (i, op) in ops.iter_mut().enumerate() {
        if *op == Op::Ret(Verdict::Allow) && Some(i) != keep {
            *op = Op::Ret(Verdict::Observe);
        }
    }
}

/// The checks every compiled program passes before anyone may install it.
fn verify(prog: &Program) -> Result<()> {
    let kernel = prog.lower(Lowering::Kernel);
    let shadow = prog.shadow();
    for p in [&kernel, &shadow] {
        bpf::check(p).map_err(|e| profile_err(format!("the seccomp program is invalid: {e}")))?;
    }
    if prog
        .ops
        .iter()
        .filter(|op| matches!(op, Op::HandoffFd(..)))
        .count()
        > 1
    {
        return Err(profile_err(
            "the seccomp program has two hand-off rules".into(),
        ));
    }
    // Refuse allow-all: some native syscall (with zero arguments) must be stopped. An observed
    // call is not stopped: the supervisor lets it continue.
    let arch = prog.arch.audit_arch();
    let denies_something = (0..=prog.arch.max_nr() + 1).any(|nr| {
        let data = SeccompData::new(arch, nr, &[]);
        let v = evaluate(&kernel, &data);
        let observed = v == ret::USER_NOTIF && answer_checked(&shadow, &data) == Answer::Observe;
        v & ret::ACTION_FULL != ret::ALLOW && v & ret::ACTION_FULL != ret::LOG && !observed
    });
    if !denies_something {
        return Err(profile_err(
            "the seccomp program would allow every syscall".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
