//! The hardening rules' blocks (`syscalls::HARDENING`): what each rule the profile does not
//! lift compiles to. Every kind is matched here, without a catch-all: a kind added to the table
//! must say what it compiles to, or this does not build.

use super::bpf::arg_lo;
use super::program::{Op, Verdict};
use super::{
    jump, write_open_tail, Rules, CLONE_NEW_MASK, MODE_ARGS, SETID_BITS, TIOCCONS, TIOCEXCL,
    TIOCLINUX, TIOCSETD, TIOCSTI,
};
use crate::policy::syscalls::{
    socket_families, Hardening, HardeningKind, AF_NETLINK, AF_UNIX, MFD_EXEC, MFD_HUGETLB,
    MFD_NOEXEC_SEAL, NETLINK_ROUTE, PERSONALITY_QUERY, PER_LINUX, PER_LINUX32,
};
use crate::policy::Policy;

/// Add the blocks of hardening rule `h` to `rules`.
pub(super) fn rules(rules: &mut Rules<'_>, h: &Hardening, policy: &Policy) {
    match h.kind {
        HardeningKind::Syscall => {
            if let Some(nr) = rules.nr(h.key) {
                rules.add(nr, vec![Op::Ret(Verdict::Harden(libc::EPERM))]);
            }
        }
        HardeningKind::Clone3Enosys => {
            if let Some(nr) = rules.nr("clone3") {
                rules.add(nr, vec![Op::Ret(Verdict::Enosys)]);
            }
        }
        HardeningKind::TtyInjection => {
            if let Some(nr) = rules.allowed_nr("ioctl") {
                // Only the low 32 bits of the request: the kernel truncates `cmd` to unsigned int,
                // so TIOCSTI | (1 << 32) is TIOCSTI (CVE-2019-7303, snapd's filter compared 64 bits).
                // TIOCSETD, TIOCEXCL and TIOCCONS change the (caller's) terminal in ways
                // src/tty.rs cannot put back after the jail.
                let b = vec![
                    Op::Ld(arg_lo(1)),
                    Op::Jeq(TIOCSTI, 4, 0),
                    Op::Jeq(TIOCLINUX, 3, 0),
                    Op::Jeq(TIOCSETD, 2, 0),
                    Op::Jeq(TIOCEXCL, 1, 0),
                    Op::Jeq(TIOCCONS, 0, 1),
                    Op::Ret(Verdict::Harden(libc::EPERM)),
                    Op::Ret(Verdict::Allow),
                ];
                rules.add(nr, b);
            }
        }
        HardeningKind::CloneNamespaces => {
            if let Some(nr) = rules.allowed_nr("clone") {
                // clone(flags, ...) has flags in arg0 on x86_64 and aarch64; the kernel uses the low
                // 32 bits (lower_32_bits(clone_flags) in kernel/fork.c).
                let b = vec![
                    Op::Ld(arg_lo(0)),
                    Op::Jset(CLONE_NEW_MASK, 0, 1),
                    Op::Ret(Verdict::Harden(libc::EPERM)),
                    Op::Ret(Verdict::Allow),
                ];
                rules.add(nr, b);
            }
        }
        HardeningKind::SocketFamilies => {
            if let Some(nr) = rules.allowed_nr("socket") {
                // socket(domain, type, protocol): domain and protocol are ints (low 32 bits).
                let families = socket_families(policy.network.mode, policy.isolation.mode);
                let n = families.len();
                let mut b = vec![Op::Ld(arg_lo(0))];
                // Layout: ld; n x jeq family -> allow; jeq NETLINK ? next : deny; ld proto;
                //         jeq ROUTE ? allow : deny; deny; allow.   (index 0 = the first ld)
                let deny = n + 4;
                let allow = n + 5;
                for (i, (af, _)) in families.iter().enumerate() {
                    let at = i + 1;
                    b.push(Op::Jeq(*af, jump(allow - at - 1), 0));
                }
                let at = n + 1;
                b.push(Op::Jeq(AF_NETLINK, 0, jump(deny - at - 1)));
                b.push(Op::Ld(arg_lo(2)));
                b.push(Op::Jeq(NETLINK_ROUTE, 1, 0));
                b.push(Op::Ret(Verdict::Harden(libc::EAFNOSUPPORT)));
                b.push(Op::Ret(Verdict::Allow));
                rules.add(nr, b);
            }
            if let Some(nr) = rules.allowed_nr("socketpair") {
                // socketpair(domain, type, protocol, sv): only AF_UNIX implements it, but the kernel
                // runs the family's create code (and may autoload its module) before it says
                // EOPNOTSUPP, so any other domain gets socket()'s answer. Domain is an int: low 32 bits.
                let b = vec![
                    Op::Ld(arg_lo(0)),
                    Op::Jeq(AF_UNIX, 1, 0),
                    Op::Ret(Verdict::Harden(libc::EAFNOSUPPORT)),
                    Op::Ret(Verdict::Allow),
                ];
                rules.add(nr, b);
            }
        }
        HardeningKind::Personality => {
            if let Some(nr) = rules.allowed_nr("personality") {
                // personality(unsigned int persona): the kernel takes the low 32 bits. Only the plain
                // Linux persona, its 32-bit uname variant and the query are allowed; the flags
                // (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, ...) weaken the process.
                let b = vec![
                    Op::Ld(arg_lo(0)),
                    Op::Jeq(PER_LINUX, 3, 0),
                    Op::Jeq(PER_LINUX32, 2, 0),
                    Op::Jeq(PERSONALITY_QUERY, 1, 0),
                    Op::Ret(Verdict::Harden(libc::EPERM)),
                    Op::Ret(Verdict::Allow),
                ];
                rules.add(nr, b);
            }
        }
        HardeningKind::MemfdNoexec => {
            if let Some(nr) = rules.allowed_nr("memfd_create") {
                // memfd_create(const char *name, unsigned int flags): flags is an unsigned int (low
                // 32 bits). MFD_HUGETLB: a hugetlbfs file, whose F_SEAL_EXEC the kernel does not
                // enforce (fchmod +x works on it), and whose pages come from the host's huge page pool,
                // which no memory limit counts: EINVAL, what a kernel without hugetlbfs answers.
                // MFD_EXEC asks for an executable memfd: EACCES, as under vm.memfd_noexec=2.
                // MFD_NOEXEC_SEAL is what the jail wants anyway. Neither (pre-6.3 callers): the
                // supervisor creates the memfd with the seal added and hands it back.
                let b = vec![
                    Op::Ld(arg_lo(1)),
                    Op::Jset(MFD_HUGETLB, 0, 1),
                    Op::Ret(Verdict::Harden(libc::EINVAL)),
                    Op::Jset(MFD_EXEC, 0, 1),
                    Op::Ret(Verdict::Harden(libc::EACCES)),
                    Op::Jset(MFD_NOEXEC_SEAL, 0, 1),
                    Op::Ret(Verdict::Allow),
                    Op::Ret(Verdict::MemfdSubstitute),
                ];
                rules.add(nr, b);
            }
        }
        HardeningKind::SpecialModeBits => {
            if !policy.writes_host() {
                return;
            }
            for (name, arg) in MODE_ARGS {
                if let Some(nr) = rules.allowed_nr(name) {
                    // mode_t is an unsigned int: the low 32 bits. An open for writing goes
                    // on to be observed (below), when writes are.
                    let mut b = vec![
                        Op::Ld(arg_lo(*arg)),
                        Op::Jset(SETID_BITS, 0, 1),
                        Op::Ret(Verdict::Harden(libc::EPERM)),
                    ];
                    b.extend(write_open_tail(policy, name));
                    rules.add(nr, b);
                }
            }
            if let Some(nr) = rules.nr("openat2") {
                rules.add(nr, vec![Op::Ret(Verdict::Enosys)]);
            }
        }
    }
}
