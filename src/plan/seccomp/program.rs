//! The compiled program: its ops, each `ret` as a [`Verdict`] until it is lowered, and the two
//! programs lowered from the same ops (the kernel's, and the supervisor's shadow), so they
//! cannot disagree.

use super::*;

/// What one `ret` of the compiled program means, before it is lowered to a return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Allow,
    /// Foreign architecture or x32: nothing sensible can follow; no profile can lift it.
    KillProcess,
    /// The profile's action for a syscall outside its allow-list.
    Default,
    /// An always-denied hardening rule, answered with this errno (and reported).
    Harden(i32),
    /// clone3: ENOSYS straight from the kernel, not reported (it is not a denial of anything
    /// the tool needs: glibc falls back to clone at once).
    Enosys,
    /// memfd_create without MFD_NOEXEC_SEAL: the supervisor answers with a sealed memfd.
    MemfdSubstitute,
    /// A limit watch point ([`watch`]): the supervisor looks, then lets the call run.
    Watch(WatchPoint),
    /// A call the kernel will refuse or allow by itself (an exec, a PROT_EXEC file mapping),
    /// shown to the supervisor first so it can name the bind that refuses it; answered with
    /// SECCOMP_USER_NOTIF_FLAG_CONTINUE, never decided in user space.
    Observe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Ld(u32),
    Jeq(u32, u8, u8),
    Jgt(u32, u8, u8),
    Jge(u32, u8, u8),
    Jset(u32, u8, u8),
    Ja(u32),
    /// `Jeq` against the hand-off fd, which is known only in the command
    /// ([`Program::for_handoff_fd`] patches it in).
    HandoffFd(u8, u8),
    Ret(Verdict),
}

/// A compiled filter: the kernel program, and the shadow program the supervisor runs on each
/// notification to decide the answer. Both come from the same ops, so they cannot disagree.
#[derive(Debug, Clone)]
pub struct Program {
    pub(super) arch: Arch,
    pub(super) action: SeccompAction,
    pub(super) ops: Vec<Op>,
    /// Index of the instruction comparing sendmsg's fd with the hand-off fd, when the profile
    /// does not allow sendmsg itself.
    pub(super) handoff_slot: Option<usize>,
    /// The limit watch points compiled in, with the limits the supervisor judges them by.
    pub(super) watch: Watch,
    /// A learning run's program ([`observe_every_allowed`]).
    pub(super) learns: bool,
    /// The profile allows `execveat`: the command's own exec goes through it, unseen
    /// (`observation_rules`); without it, through `execve`.
    pub(super) execveat: bool,
}

impl Program {
    /// Whether the command's own exec may be `execveat(AT_FDCWD, ...)` (see `execveat`).
    pub fn allows_execveat(&self) -> bool {
        self.execveat
    }

    /// Whether this is a learning run's program (every allowed call observed).
    pub fn learns(&self) -> bool {
        self.learns
    }

    /// The limit watch points this program notifies ([`watch`]).
    pub fn watch(&self) -> Watch {
        self.watch
    }

    /// The architecture the program accepts (all others are killed).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Never true for a compiled program ([`compile`] refuses empty ones).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The kernel program, with the hand-off rule matching fd `fd`.
    pub fn for_handoff_fd(&self, fd: i32) -> Vec<Insn> {
        let mut p = self.lower(Lowering::Kernel);
        if let Some(i) = self.handoff_slot {
            p[i].k = u32::try_from(fd).unwrap_or(u32::MAX);
        }
        p
    }

    /// The kernel's return value for `data` (hand-off fd placeholder unpatched).
    pub fn evaluate(&self, data: &SeccompData) -> u32 {
        evaluate(&self.lower(Lowering::Kernel), data)
    }

    /// The shadow program the supervisor runs on a notification (see [`Lowering::Shadow`]).
    pub fn shadow(&self) -> Vec<Insn> {
        self.lower(Lowering::Shadow)
    }

    pub(super) fn lower(&self, how: Lowering) -> Vec<Insn> {
        self.ops
            .iter()
            .map(|op| match *op {
                Op::Ld(off) => Insn::stmt(LD_W_ABS, off),
                Op::Jeq(k, t, f) => Insn::jump(JEQ_K, k, t, f),
                Op::Jgt(k, t, f) => Insn::jump(JGT_K, k, t, f),
                Op::Jge(k, t, f) => Insn::jump(JGE_K, k, t, f),
                Op::Jset(k, t, f) => Insn::jump(JSET_K, k, t, f),
                Op::Ja(k) => Insn::stmt(JA, k),
                Op::HandoffFd(t, f) => Insn::jump(JEQ_K, HANDOFF_FD_PLACEHOLDER, t, f),
                Op::Ret(v) => Insn::stmt(RET_K, self.lower_verdict(v, how)),
            })
            .collect()
    }

    fn lower_verdict(&self, v: Verdict, how: Lowering) -> u32 {
        match (v, how) {
            (Verdict::Allow, _) => ret::ALLOW,
            (Verdict::KillProcess, _) => ret::KILL_PROCESS,
            (Verdict::Enosys, _) => ret::ERRNO | ret_data(libc::ENOSYS),
            (Verdict::Default, _) if self.action == SeccompAction::Log => ret::LOG,
            (
                Verdict::Default
                | Verdict::Harden(_)
                | Verdict::MemfdSubstitute
                | Verdict::Watch(_)
                | Verdict::Observe,
                Lowering::Kernel,
            ) => ret::USER_NOTIF,
            (Verdict::Observe, Lowering::Shadow) => ret::USER_NOTIF,
            (Verdict::Default, Lowering::Shadow) => match self.action {
                SeccompAction::Errno(n) => ret::ERRNO | ret_data(n),
                SeccompAction::Kill | SeccompAction::Log => ret::KILL_THREAD,
            },
            (Verdict::Harden(e), Lowering::Shadow) => ret::TRACE | ret_data(e),
            (Verdict::MemfdSubstitute, Lowering::Shadow) => ret::TRAP,
            (Verdict::Watch(p), Lowering::Shadow) => ret::ALLOW | p.code(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lowering {
    /// What the kernel runs: denials become USER_NOTIF.
    Kernel,
    /// What the supervisor runs on a notification: TRACE|errno marks a hardening denial,
    /// ERRNO|errno a profile denial, KILL_THREAD the profile's Kill action, TRAP a memfd to
    /// substitute, ALLOW|point a limit watch point (look, then let the call run),
    /// USER_NOTIF a call to observe and continue.
    Shadow,
}

/// The kernel program's value for `data`. A compiled program always passes bpf::check
/// (compile verified it), so the run cannot fail; KILL_PROCESS is the fail-closed answer if
/// that invariant were ever broken.
pub(super) fn evaluate(kernel: &[Insn], data: &SeccompData) -> u32 {
    bpf::run_checked(kernel, data).unwrap_or(ret::KILL_PROCESS)
}
