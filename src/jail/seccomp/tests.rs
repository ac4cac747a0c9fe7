//! The compiler, checked by running its output in the interpreter against synthetic
//! seccomp_data: every always-denied rule denies, each argument variation does what it should,
//! allowed names allow, and the supervisor's answers match the kernel's decisions.

use super::*;
use crate::cli::PolicyArgs;
use crate::policy::syscalls::{AUDIT_ARCH_ARM, AUDIT_ARCH_I386};

fn policy(allow: &[&str], action: SeccompAction, unsafe_allow: &[&str]) -> Policy {
    let mut p = crate::profile::policy_from_args(&PolicyArgs::default()).unwrap();
    let names: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    p.syscalls.allow = syscalls::expand(&names).unwrap();
    p.syscalls.action = action;
    p.syscalls.unsafe_allow = unsafe_allow.iter().map(|s| s.to_string()).collect();
    p
}

fn default_policy() -> Policy {
    policy(&["@system-service"], SeccompAction::Errno(libc::EPERM), &[])
}

fn call(prog: &Program, name: &str, args: &[u64]) -> u32 {
    let a = prog.arch();
    let nr = a.number(name).unwrap_or_else(|| panic!("{name} on {a:?}"));
    prog.evaluate(&SeccompData::new(a.audit_arch(), nr, args))
}

fn shadow_answer(prog: &Program, name: &str, args: &[u64]) -> Answer {
    let a = prog.arch();
    let nr = a.number(name).unwrap();
    answer(&prog.shadow(), &SeccompData::new(a.audit_arch(), nr, args))
}

const HARD: Answer = Answer::Deny(DenialRule::Hardening, libc::EPERM);
const PROF: Answer = Answer::Deny(DenialRule::Profile, libc::EPERM);

#[test]
fn allowed_names_allow_on_both_arches() {
    let p = default_policy();
    for arch in Arch::ALL {
        let prog = compile_for(&p, arch).unwrap();
        for name in &p.syscalls.allow {
            let Some(nr) = arch.number(name) else {
                continue;
            };
            let special = [
                "clone3",
                "socket",
                "socketpair",
                "ioctl",
                "clone",
                "personality",
                "memfd_create",
            ];
            if special.contains(&name.as_str()) {
                continue;
            }
            let v = prog.evaluate(&SeccompData::new(arch.audit_arch(), nr, &[u64::MAX; 6]));
            assert_eq!(v, ret::ALLOW, "{name} on {arch:?}");
        }
    }
}

#[test]
fn every_hardening_syscall_is_denied_and_reported() {
    // Even when the profile puts every hardening syscall in its allow-list.
    let mut names = vec!["@system-service"];
    names.extend(
        HARDENING
            .iter()
            .filter(|h| h.kind == HardeningKind::Syscall)
            .map(|h| h.key),
    );
    let p = policy(&names, SeccompAction::Errno(libc::EACCES), &[]);
    for arch in Arch::ALL {
        let prog = compile_for(&p, arch).unwrap();
        for h in HARDENING
            .iter()
            .filter(|h| h.kind == HardeningKind::Syscall)
        {
            assert_eq!(call(&prog, h.key, &[]), ret::USER_NOTIF, "{}", h.key);
            assert_eq!(shadow_answer(&prog, h.key, &[]), HARD, "{}", h.key);
        }
    }
}

#[test]
fn profile_default_action_is_a_notification_answered_with_its_errno() {
    let p = policy(&["@default"], SeccompAction::Errno(libc::EACCES), &[]);
    let prog = compile(&p).unwrap();
    assert_eq!(call(&prog, "socket", &[2, 1, 0]), ret::USER_NOTIF);
    assert_eq!(
        shadow_answer(&prog, "socket", &[2, 1, 0]),
        Answer::Deny(DenialRule::Profile, libc::EACCES)
    );
    let k = compile(&policy(&["@default"], SeccompAction::Kill, &[])).unwrap();
    assert_eq!(call(&k, "socket", &[2, 1, 0]), ret::USER_NOTIF);
    assert_eq!(shadow_answer(&k, "socket", &[2, 1, 0]), Answer::Kill);
    // Hardening keeps EPERM whatever the profile's action.
    assert_eq!(shadow_answer(&k, "ptrace", &[]), HARD);
}

#[test]
fn log_action_logs_profile_denials_but_hardening_still_notifies() {
    let p = compile(&policy(&["@default"], SeccompAction::Log, &[])).unwrap();
    assert_eq!(call(&p, "socket", &[2, 1, 0]), ret::LOG);
    assert_eq!(call(&p, "ptrace", &[]), ret::USER_NOTIF);
    assert_eq!(call(&p, "getpid", &[]), ret::ALLOW);
}

#[test]
fn clone_namespace_flags() {
    let prog = compile(&default_policy()).unwrap();
    let sigchld = libc::SIGCHLD as u64;
    let thread = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_SETTLS
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID) as u64;
    assert_eq!(call(&prog, "clone", &[thread]), ret::ALLOW);
    assert_eq!(call(&prog, "clone", &[sigchld]), ret::ALLOW);
    assert_eq!(
        call(
            &prog,
            "clone",
            &[(libc::CLONE_VFORK | libc::CLONE_VM) as u64 | sigchld]
        ),
        ret::ALLOW
    );
    for f in [
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWNS,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWCGROUP,
    ] {
        let flags = f as u64 | sigchld;
        assert_eq!(call(&prog, "clone", &[flags]), ret::USER_NOTIF, "{f:#x}");
        assert_eq!(shadow_answer(&prog, "clone", &[flags]), HARD);
        // High bits are ignored by the kernel, so they must not hide the flag either.
        assert_eq!(
            call(&prog, "clone", &[flags | 0xffff_0000_0000_0000]),
            ret::USER_NOTIF
        );
    }
    assert_eq!(
        CLONE_NEW_MASK & 0xff,
        0,
        "mask must not touch the exit signal byte"
    );
    // Lifted: plain allow.
    let lifted = compile(&policy(
        &["@system-service"],
        SeccompAction::Errno(1),
        &["clone-namespaces"],
    ))
    .unwrap();
    assert_eq!(
        call(&lifted, "clone", &[libc::CLONE_NEWUSER as u64]),
        ret::ALLOW
    );
}

#[test]
fn clone3_is_enosys_and_not_reported() {
    let prog = compile(&default_policy()).unwrap();
    assert_eq!(
        call(&prog, "clone3", &[0, 88]),
        ret::ERRNO | libc::ENOSYS as u32
    );
    // Not in the allow-list at all: still ENOSYS (the hardening rule comes first).
    let p = compile(&policy(&["@default"], SeccompAction::Errno(1), &[])).unwrap();
    assert_eq!(call(&p, "clone3", &[]), ret::ERRNO | libc::ENOSYS as u32);
    let lifted = compile(&policy(
        &["@system-service"],
        SeccompAction::Errno(1),
        &["clone3"],
    ));
    assert_eq!(call(&lifted.unwrap(), "clone3", &[]), ret::ALLOW);
}

#[test]
fn tty_injection_compares_only_the_low_32_bits() {
    let prog = compile(&default_policy()).unwrap();
    for req in [TIOCSTI, TIOCLINUX] {
        for high in [0u64, 1 << 32, 0xdead_beef_0000_0000] {
            let cmd = high | u64::from(req);
            assert_eq!(call(&prog, "ioctl", &[0, cmd]), ret::USER_NOTIF, "{cmd:#x}");
            assert_eq!(shadow_answer(&prog, "ioctl", &[0, cmd]), HARD);
        }
    }
    assert_eq!(call(&prog, "ioctl", &[0, libc::TCGETS]), ret::ALLOW);
    assert_eq!(call(&prog, "ioctl", &[0, libc::FIONREAD]), ret::ALLOW);
    // TIOCSTI in the high half only is a different request for the kernel: allowed.
    assert_eq!(
        call(&prog, "ioctl", &[0, u64::from(TIOCSTI) << 32]),
        ret::ALLOW
    );
}

#[test]
fn socket_families() {
    let prog = compile(&default_policy()).unwrap();
    let s = |d: i32, proto: i32| call(&prog, "socket", &[d as u64, 1, proto as u64]);
    assert_eq!(s(libc::AF_UNIX, 0), ret::ALLOW);
    assert_eq!(s(libc::AF_INET, 0), ret::ALLOW);
    assert_eq!(s(libc::AF_INET6, 0), ret::ALLOW);
    assert_eq!(s(libc::AF_NETLINK, libc::NETLINK_ROUTE), ret::ALLOW);
    for (d, proto) in [
        (libc::AF_PACKET, 0),
        (libc::AF_NETLINK, libc::NETLINK_AUDIT),
        (libc::AF_NETLINK, libc::NETLINK_KOBJECT_UEVENT),
        (libc::AF_ALG, 0),
        (libc::AF_VSOCK, 0),
        (libc::AF_BLUETOOTH, 0),
        (libc::AF_KEY, 0),
    ] {
        assert_eq!(s(d, proto), ret::USER_NOTIF, "{d} {proto}");
        assert_eq!(
            shadow_answer(&prog, "socket", &[d as u64, 1, proto as u64]),
            Answer::Deny(DenialRule::Hardening, libc::EAFNOSUPPORT)
        );
    }
    // The kernel sees int domain: AF_INET with garbage high bits is still AF_INET, and
    // AF_PACKET with garbage high bits is still AF_PACKET.
    assert_eq!(call(&prog, "socket", &[(1 << 40) | 2, 1, 0]), ret::ALLOW);
    assert_eq!(
        call(&prog, "socket", &[(1 << 40) | 17, 1, 0]),
        ret::USER_NOTIF
    );
}

#[test]
fn foreign_arch_and_x32_kill() {
    for arch in Arch::ALL {
        let prog = compile_for(&default_policy(), arch).unwrap();
        for foreign in [AUDIT_ARCH_I386, AUDIT_ARCH_ARM, 0] {
            // getuid on i386 is 24; any number must die.
            for nr in [0, 24, 199] {
                let v = prog.evaluate(&SeccompData::new(foreign, nr, &[]));
                assert_eq!(v, ret::KILL_PROCESS);
            }
        }
        let other = Arch::ALL.into_iter().find(|a| *a != arch).unwrap();
        let v = prog.evaluate(&SeccompData::new(other.audit_arch(), 0, &[]));
        assert_eq!(v, ret::KILL_PROCESS);
    }
    let prog = compile_for(&default_policy(), Arch::X86_64).unwrap();
    let getpid = Arch::X86_64.number("getpid").unwrap();
    for nr in [
        X32_SYSCALL_BIT | getpid,
        X32_SYSCALL_BIT | 512,
        X32_SYSCALL_BIT,
    ] {
        let v = prog.evaluate(&SeccompData::new(Arch::X86_64.audit_arch(), nr, &[]));
        assert_eq!(v, ret::KILL_PROCESS, "{nr:#x}");
    }
}

#[test]
fn open_is_skipped_on_aarch64_not_an_error() {
    let p = default_policy();
    assert!(p.syscalls.allow.contains(&"open".to_string()));
    let a = compile_for(&p, Arch::Aarch64).unwrap();
    assert_eq!(call(&a, "openat", &[]), ret::ALLOW);
    let x = compile_for(&p, Arch::X86_64).unwrap();
    assert_eq!(call(&x, "open", &[]), ret::ALLOW);
}

#[test]
fn handoff_sendmsg_rule() {
    // sendmsg not allowed by the profile: only the hand-off call passes.
    let p = compile(&policy(&["@default"], SeccompAction::Errno(1), &[])).unwrap();
    let prog = p.for_handoff_fd(7);
    let a = p.arch();
    let nr = a.number("sendmsg").unwrap();
    let flags = u64::from(HANDOFF_SEND_FLAGS);
    let run = |args: &[u64]| bpf::run(&prog, &SeccompData::new(a.audit_arch(), nr, args));
    assert_eq!(run(&[7, 0, flags]), Ok(ret::ALLOW));
    assert_eq!(run(&[(1 << 33) | 7, 0, flags]), Ok(ret::ALLOW)); // kernel fd is an int
    assert_eq!(run(&[7, 0, 0]), Ok(ret::USER_NOTIF));
    assert_eq!(run(&[8, 0, flags]), Ok(ret::USER_NOTIF));
    // The unpatched program matches no real fd.
    assert_eq!(call(&p, "sendmsg", &[7, 0, flags]), ret::USER_NOTIF);
    assert_eq!(shadow_answer(&p, "sendmsg", &[8, 0, 0]), PROF);
    // sendmsg allowed: no special rule.
    let q = compile(&default_policy()).unwrap();
    assert_eq!(call(&q, "sendmsg", &[9, 0, 0]), ret::ALLOW);
}

#[test]
fn unsafe_allow_lifts_only_to_the_allow_list() {
    let lifted = policy(
        &["@system-service", "ptrace"],
        SeccompAction::Errno(1),
        &["ptrace"],
    );
    assert_eq!(call(&compile(&lifted).unwrap(), "ptrace", &[]), ret::ALLOW);
    let not_allowed = policy(&["@system-service"], SeccompAction::Errno(1), &["ptrace"]);
    let prog = compile(&not_allowed).unwrap();
    assert_eq!(call(&prog, "ptrace", &[]), ret::USER_NOTIF);
    assert_eq!(
        shadow_answer(&prog, "ptrace", &[]),
        Answer::Deny(DenialRule::Profile, 1)
    );
}

#[test]
fn kernel_and_shadow_agree_on_what_is_a_notification() {
    for action in [
        SeccompAction::Errno(13),
        SeccompAction::Kill,
        SeccompAction::Log,
    ] {
        let p = compile(&policy(&["@system-service"], action, &[])).unwrap();
        let shadow = p.shadow();
        let arch = p.arch();
        for nr in 0..=arch.max_nr() + 2 {
            for args in [[0u64; 6], [u64::MAX; 6], [17, 0x5412, 9, 0, 0, 0]] {
                let d = SeccompData {
                    args,
                    ..SeccompData::new(arch.audit_arch(), nr, &[])
                };
                let k = p.evaluate(&d);
                let s = bpf::run(&shadow, &d).unwrap();
                let notif = k == ret::USER_NOTIF;
                let s_act = s & ret::ACTION_FULL;
                let s_notif = matches!(s_act, ret::TRACE | ret::KILL_THREAD | ret::TRAP)
                    || (s_act == ret::ERRNO && k != ret::ERRNO | libc::ENOSYS as u32);
                assert_eq!(
                    notif, s_notif,
                    "nr {nr} {action:?}: kernel {k:#x} shadow {s:#x}"
                );
                if !notif {
                    assert_eq!(k, s, "nr {nr}");
                }
            }
        }
    }
}

#[test]
fn refuses_empty_unknown_and_broken_policies() {
    let mut p = default_policy();
    p.syscalls.allow.clear();
    assert!(compile(&p).unwrap_err().message.contains("empty"));
    let p = policy(&["read", "write"], SeccompAction::Errno(1), &[]);
    assert!(compile(&p).unwrap_err().message.contains("execve"));
    let mut p = default_policy();
    p.syscalls.allow.push("not_a_syscall".into());
    assert!(compile(&p).unwrap_err().message.contains("not_a_syscall"));
    let p = policy(&["@default"], SeccompAction::Errno(1), &["ptrac"]);
    assert!(compile(&p).unwrap_err().message.contains("ptrac"));
    let p = policy(&["@default"], SeccompAction::Errno(0), &[]);
    assert!(compile(&p).is_err());
    let p = policy(&["@default"], SeccompAction::Errno(5000), &[]);
    assert!(compile(&p).is_err());
}

#[test]
fn refuses_allow_all() {
    // Every syscall of the table in allow, every hardening rule lifted, action Log: nothing
    // native is stopped any more, and the compiler must say so rather than return a program.
    let arch = Arch::NATIVE;
    let mut p = default_policy();
    p.syscalls.allow = (0..=arch.max_nr())
        .filter_map(|n| arch.name_of(n).map(str::to_string))
        .collect();
    p.syscalls.action = SeccompAction::Log;
    p.syscalls.unsafe_allow = HARDENING.iter().map(|h| h.key.to_string()).collect();
    let e = compile(&p).unwrap_err();
    assert!(e.message.contains("every syscall"), "{e}");
    // The same with the Errno action: unknown numbers (past the table) are still denied.
    p.syscalls.action = SeccompAction::Errno(1);
    assert!(compile(&p).is_ok());
}

#[test]
fn program_size_is_within_kernel_limits() {
    for arch in Arch::ALL {
        let p = compile_for(&default_policy(), arch).unwrap();
        assert!(p.len() < bpf::MAX_INSNS && !p.is_empty());
        assert!(bpf::check(&p.for_handoff_fd(3)).is_ok());
    }
}

#[test]
fn summary_line() {
    let mut d = Denials::default();
    assert_eq!(d.summary_line(), None);
    // Entries are keyed by (arch, number): use the real numbers.
    let mk = |name: &str, rule| denial(name, Arch::X86_64.number(name).unwrap(), rule);
    d.record(&mk("ptrace", DenialRule::Profile));
    d.record(&mk("setns", DenialRule::Profile));
    d.record(&mk("setns", DenialRule::Profile));
    assert_eq!(
        d.summary_line().unwrap(),
        "tooljail: denied syscalls: ptrace(x86_64) x1, setns(x86_64) x2; allow them in \
         [syscalls] if the tool needs them"
    );
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        json.contains("\"name\":\"setns\"") && json.contains("\"count\":2"),
        "{json}"
    );
    let mut h = Denials::default();
    h.record(&mk("bpf", DenialRule::Hardening));
    assert!(h.summary_line().unwrap().contains("unsafe_allow"));
}

#[test]
fn every_network_mode_gets_unix_and_inet_but_never_packet() {
    use crate::policy::NetMode;
    for mode in [NetMode::None, NetMode::Loopback, NetMode::Host] {
        let mut p = default_policy();
        p.network.mode = mode;
        let prog = compile(&p).unwrap();
        for af in [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6] {
            assert_eq!(
                call(&prog, "socket", &[af as u64, 1, 0]),
                ret::ALLOW,
                "{mode:?}"
            );
        }
        let packet = call(&prog, "socket", &[libc::AF_PACKET as u64, 3, 0]);
        assert_eq!(packet, ret::USER_NOTIF, "{mode:?}");
    }
}

#[test]
fn socketpair_is_unix_only() {
    for arch in Arch::ALL {
        let prog = compile_for(&default_policy(), arch).unwrap();
        let sp = |d: u64| call(&prog, "socketpair", &[d, 1, 0, 0]);
        assert_eq!(sp(libc::AF_UNIX as u64), ret::ALLOW);
        // The kernel sees int domain: garbage high bits do not change the family.
        assert_eq!(sp((1 << 40) | libc::AF_UNIX as u64), ret::ALLOW);
        for d in [
            libc::AF_VSOCK,
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_NETLINK,
            libc::AF_PACKET,
            libc::AF_ALG,
            libc::AF_TIPC,
            0,
        ] {
            for high in [0u64, 1 << 32] {
                let dom = high | d as u64;
                assert_eq!(sp(dom), ret::USER_NOTIF, "{dom:#x} on {arch:?}");
                assert_eq!(
                    shadow_answer(&prog, "socketpair", &[dom, 1, 0, 0]),
                    Answer::Deny(DenialRule::Hardening, libc::EAFNOSUPPORT),
                    "{dom:#x}"
                );
            }
        }
    }
    // Lifted with the socket rule: the allow-list decides again.
    let lifted = compile(&policy(
        &["@system-service"],
        SeccompAction::Errno(1),
        &["socket-families"],
    ))
    .unwrap();
    assert_eq!(
        call(&lifted, "socketpair", &[libc::AF_VSOCK as u64, 2, 0, 0]),
        ret::ALLOW
    );
    // Not in the allow-list: the profile's answer, not the hardening one.
    let p = compile(&policy(&["@default"], SeccompAction::Errno(13), &[])).unwrap();
    assert_eq!(
        shadow_answer(&p, "socketpair", &[libc::AF_VSOCK as u64, 2, 0, 0]),
        Answer::Deny(DenialRule::Profile, 13)
    );
}

#[test]
fn personality_allows_only_linux_and_the_query() {
    const ADDR_NO_RANDOMIZE: u64 = 0x0040000;
    const READ_IMPLIES_EXEC: u64 = 0x0400000;
    const MMAP_PAGE_ZERO: u64 = 0x0100000;
    const UNAME26: u64 = 0x0020000;
    for arch in Arch::ALL {
        let prog = compile_for(&default_policy(), arch).unwrap();
        for ok in [0, 8, 0xffff_ffff, u64::MAX, 1 << 32] {
            assert_eq!(call(&prog, "personality", &[ok]), ret::ALLOW, "{ok:#x}");
        }
        for bad in [
            ADDR_NO_RANDOMIZE,
            READ_IMPLIES_EXEC,
            MMAP_PAGE_ZERO,
            UNAME26,
            ADDR_NO_RANDOMIZE | 8,
            READ_IMPLIES_EXEC | (1 << 32),
            6, // PER_BSD
            0xffff_fffe,
        ] {
            assert_eq!(
                call(&prog, "personality", &[bad]),
                ret::USER_NOTIF,
                "{bad:#x}"
            );
            assert_eq!(
                shadow_answer(&prog, "personality", &[bad]),
                HARD,
                "{bad:#x}"
            );
        }
    }
    let lifted = compile(&policy(
        &["@system-service"],
        SeccompAction::Errno(1),
        &["personality"],
    ))
    .unwrap();
    assert_eq!(
        call(&lifted, "personality", &[ADDR_NO_RANDOMIZE]),
        ret::ALLOW
    );
}

#[test]
fn memfd_create_is_never_executable() {
    let cloexec = u64::from(libc::MFD_CLOEXEC);
    let sealing = u64::from(libc::MFD_ALLOW_SEALING);
    let seal = u64::from(MFD_NOEXEC_SEAL);
    let exec = u64::from(MFD_EXEC);
    let huge = u64::from(MFD_HUGETLB);
    let name = 0x1000; // the name pointer: never looked at
    for arch in Arch::ALL {
        let prog = compile_for(&default_policy(), arch).unwrap();
        // Asked for the seal: the kernel runs it as is.
        for ok in [
            seal,
            seal | cloexec,
            seal | sealing | cloexec,
            seal | (1 << 40),
        ] {
            assert_eq!(
                call(&prog, "memfd_create", &[name, ok]),
                ret::ALLOW,
                "{ok:#x}"
            );
        }
        // Neither flag (every pre-6.3 caller), or the seal only in the high 32 bits the kernel
        // drops: the supervisor substitutes a sealed memfd.
        for old in [0, cloexec, cloexec | sealing, (seal << 32) | cloexec] {
            assert_eq!(
                call(&prog, "memfd_create", &[name, old]),
                ret::USER_NOTIF,
                "{old:#x}"
            );
            assert_eq!(
                shadow_answer(&prog, "memfd_create", &[name, old]),
                Answer::MemfdSubstitute,
                "{old:#x}"
            );
        }
        // hugetlbfs (F_SEAL_EXEC not enforced there), with any other flag or a huge page size
        // (bits 26..31): EINVAL, before anything else.
        for bad in [
            huge,
            huge | seal,
            huge | seal | cloexec,
            huge | exec,
            huge | (21 << 26),
        ] {
            assert_eq!(
                shadow_answer(&prog, "memfd_create", &[name, bad]),
                Answer::Deny(DenialRule::Hardening, libc::EINVAL),
                "{bad:#x}"
            );
        }
        // An executable memfd, alone or with the seal (the kernel would say EINVAL): EACCES.
        for bad in [exec, exec | cloexec, exec | seal] {
            assert_eq!(
                call(&prog, "memfd_create", &[name, bad]),
                ret::USER_NOTIF,
                "{bad:#x}"
            );
            assert_eq!(
                shadow_answer(&prog, "memfd_create", &[name, bad]),
                Answer::Deny(DenialRule::Hardening, libc::EACCES),
                "{bad:#x}"
            );
        }
    }
    let lifted = compile(&policy(
        &["@system-service"],
        SeccompAction::Errno(1),
        &["memfd-exec"],
    ))
    .unwrap();
    for any in [0, cloexec, exec, huge] {
        assert_eq!(call(&lifted, "memfd_create", &[name, any]), ret::ALLOW);
    }
    // Not allowed at all: the profile's action, no substitution.
    let denied = compile(&policy(&["@default"], SeccompAction::Errno(1), &[])).unwrap();
    assert_eq!(
        shadow_answer(&denied, "memfd_create", &[name, 0]),
        Answer::Deny(DenialRule::Profile, 1)
    );
}

fn denial(name: &str, nr: u32, rule: DenialRule) -> Denial {
    Denial {
        name: name.into(),
        arch: "x86_64".into(),
        nr,
        pid: 1,
        rule,
        errno: Some(1),
        kill: false,
    }
}

#[test]
fn unknown_numbers_share_one_entry_with_examples() {
    let mut d = Denials::default();
    for nr in 1000..21_000u32 {
        d.record(&denial(&format!("syscall_{nr}"), nr, DenialRule::Profile));
    }
    d.record(&denial("ptrace", 101, DenialRule::Hardening));
    let e = d.entries();
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].name, UNKNOWN);
    assert_eq!(e[0].count, 20_000);
    assert_eq!(
        e[0].examples,
        (1000..1000 + MAX_UNKNOWN_EXAMPLES as u32).collect::<Vec<_>>()
    );
    assert_eq!((e[1].name.as_str(), e[1].count), ("ptrace", 1));
    assert_eq!((d.others(), d.total()), (0, 20_001));
    let line = d.summary_line().unwrap();
    assert!(line.len() < 400, "{line}");
    assert!(
        line.starts_with("tooljail: denied syscalls: unknown(x86_64) x20000 (nr 1000, 1001, "),
        "{line}"
    );
    assert!(line.contains("ptrace(x86_64) x1"), "{line}");
    // Per architecture: aarch64's unknown numbers are another entry.
    let mut a = denial("syscall_5000", 5000, DenialRule::Profile);
    a.arch = "aarch64".into();
    d.record(&a);
    assert_eq!(d.entries().len(), 3);
}

#[test]
fn distinct_entries_are_capped_and_the_totals_stay_exact() {
    let arch = Arch::X86_64;
    let names: Vec<(u32, &str)> = (0..=arch.max_nr())
        .filter_map(|nr| arch.name_of(nr).map(|n| (nr, n)))
        .take(MAX_ENTRIES + 30)
        .collect();
    assert_eq!(names.len(), MAX_ENTRIES + 30);
    let mut d = Denials::default();
    for _ in 0..3 {
        for (nr, name) in &names {
            d.record(&denial(name, *nr, DenialRule::Profile));
        }
    }
    assert_eq!(d.entries().len(), MAX_ENTRIES);
    assert!(d.entries().iter().all(|e| e.count == 3));
    assert_eq!(d.others(), 30 * 3);
    assert_eq!(d.total(), 3 * names.len() as u64);
    // The report form ends with the honest remainder.
    let json: serde_json::Value = serde_json::to_value(&d).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), MAX_ENTRIES + 1);
    assert_eq!(list[MAX_ENTRIES]["name"], OTHERS);
    assert_eq!(list[MAX_ENTRIES]["count"], 90);
    let sum: u64 = list.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, d.total());
    // The stderr line names a few and sums the rest.
    let line = d.summary_line().unwrap();
    assert!(line.len() < 400, "{} chars: {line}", line.len());
    let rest = d.total() - 8 * 3;
    assert!(
        line.contains(&format!("... and {rest} more denials")),
        "{line}"
    );
    // Without the cap being hit there is no (others) entry.
    let mut small = Denials::default();
    small.record(&denial("ptrace", 101, DenialRule::Hardening));
    let json = serde_json::to_string(&small).unwrap();
    assert!(
        !json.contains(OTHERS) && !json.contains("examples"),
        "{json}"
    );
}
