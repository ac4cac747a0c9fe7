//! The compiler, checked by running its output in the interpreter against synthetic
//! seccomp_data: every always-denied rule denies, each argument variation does what it should,
//! allowed names allow, and the supervisor's answers match the kernel's decisions. This file:
//! the program as a whole (actions, hardening, hand-off, refusals); [`args`]: the rules that
//! read a syscall's arguments. (The supervisor's record of denials is tested in
//! `supervisor::notify`.)

use super::*;
use crate::cli::PolicyArgs;
use crate::policy::syscalls::{
    HardeningKind, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, MFD_EXEC, MFD_HUGETLB, MFD_NOEXEC_SEAL,
};

mod args;
mod watch;

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
            let data = SeccompData::new(arch.audit_arch(), nr, &[u64::MAX; 6]);
            let v = prog.evaluate(&data);
            // Allowed, or observed (an exec, an X_OK check...): shown to the supervisor, which
            // lets it continue.
            let observed = v == ret::USER_NOTIF && answer(&prog.shadow(), &data) == Answer::Observe;
            assert!(v == ret::ALLOW || observed, "{name} on {arch:?}: {v:#x}");
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
fn a_learning_program_observes_every_allowed_call_and_denies_the_same() {
    let mut learn = default_policy();
    learn.syscalls.observe_all = true;
    let base = default_policy();
    for arch in Arch::ALL {
        let l = compile_for(&learn, arch).unwrap();
        let b = compile_for(&base, arch).unwrap();
        assert!(l.learns() && !b.learns());
        let (lk, ls) = (l.for_handoff_fd(7), l.shadow());
        let (bk, bs) = (b.for_handoff_fd(7), b.shadow());
        for nr in 0..=arch.max_nr() + 1 {
            for args in [
                [0u64; 6],
                [7, 0, u64::from(HANDOFF_SEND_FLAGS), 0, 0, 0],
                [1, 2, 4, 0, 3, 0],
            ] {
                let data = SeccompData::new(arch.audit_arch(), nr, &args);
                let (lv, bv) = (evaluate(&lk, &data), evaluate(&bk, &data));
                let hand_off = arch.name_of(nr) == Some("sendmsg") && args[0] == 7;
                if bv == ret::ALLOW && !hand_off {
                    // Allowed before: now seen, then let run.
                    assert_eq!(lv, ret::USER_NOTIF, "{arch:?} nr {nr} {args:?}");
                    assert_eq!(answer(&ls, &data), Answer::Observe, "{arch:?} nr {nr}");
                } else {
                    // Denied, killed, watched, observed or the hand-off: exactly as before.
                    assert_eq!(lv, bv, "{arch:?} nr {nr} {args:?}");
                    if bv == ret::USER_NOTIF {
                        assert_eq!(answer(&ls, &data), answer(&bs, &data), "{arch:?} nr {nr}");
                    }
                }
            }
        }
    }
    // The hand-off sendmsg itself still passes without anyone listening.
    let l = compile(&learn).unwrap();
    let a = l.arch();
    let nr = a.number("sendmsg").unwrap();
    let flags = u64::from(HANDOFF_SEND_FLAGS);
    let prog = l.for_handoff_fd(7);
    let run = |args: &[u64]| bpf::run(&prog, &SeccompData::new(a.audit_arch(), nr, args));
    assert_eq!(run(&[7, 0, flags]), Ok(ret::ALLOW));
    assert_eq!(run(&[8, 0, flags]), Ok(ret::USER_NOTIF));
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
                let s_notif = matches!(
                    s_act,
                    ret::TRACE | ret::KILL_THREAD | ret::TRAP | ret::USER_NOTIF
                ) || (s_act == ret::ERRNO && k != ret::ERRNO | libc::ENOSYS as u32);
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

/// Every hardening kind must compile to something: for each rule in the table, lifting it
/// (`unsafe_allow`) changes the program, and the list below names every kind, so a new kind
/// that compiled to nothing (while `explain` listed it as enforced) fails here.
#[test]
fn every_hardening_rule_changes_the_compiled_program() {
    // Allow every syscall a hardening rule inspects, so argument rules are compiled too.
    let inspected = [
        "ioctl",
        "clone",
        "clone3",
        "socket",
        "socketpair",
        "personality",
        "memfd_create",
    ];
    let mut allow = vec!["@system-service"];
    allow.extend(inspected);
    let mut kinds_seen = Vec::new();
    // A jail that writes the host, so the rules compiled only then are there to be lifted.
    let writing = |mut p: Policy| {
        p.isolation.mode = crate::policy::IsolationMode::Landlock;
        p
    };
    for arch in Arch::ALL {
        let base = compile_for(
            &writing(policy(&allow, SeccompAction::Errno(libc::EPERM), &[])),
            arch,
        )
        .unwrap();
        // The kernel program and the shadow: a denial the kernel sends to the supervisor either
        // way differs only in the shadow's answer.
        let base = (base.for_handoff_fd(3), base.shadow());
        for h in HARDENING {
            if h.kind == HardeningKind::Syscall && arch.number(h.key).is_none() {
                continue; // a syscall this architecture does not have
            }
            let lifted = writing(policy(&allow, SeccompAction::Errno(libc::EPERM), &[h.key]));
            let prog = compile_for(&lifted, arch).unwrap();
            let prog = (prog.for_handoff_fd(3), prog.shadow());
            assert_ne!(
                prog, base,
                "{} ({:?}) compiles to nothing on {arch:?}",
                h.key, h.kind
            );
            kinds_seen.push(h.kind);
        }
    }
    // Exhaustive on purpose: a new kind must be added here and to the table.
    let every_kind = |k: HardeningKind| match k {
        HardeningKind::Syscall
        | HardeningKind::CloneNamespaces
        | HardeningKind::Clone3Enosys
        | HardeningKind::TtyInjection
        | HardeningKind::SocketFamilies
        | HardeningKind::Personality
        | HardeningKind::MemfdNoexec
        | HardeningKind::SpecialModeBits => k,
    };
    for k in [
        HardeningKind::Syscall,
        HardeningKind::CloneNamespaces,
        HardeningKind::Clone3Enosys,
        HardeningKind::TtyInjection,
        HardeningKind::SocketFamilies,
        HardeningKind::Personality,
        HardeningKind::MemfdNoexec,
        HardeningKind::SpecialModeBits,
    ] {
        assert!(
            kinds_seen.contains(&every_kind(k)),
            "no rule of kind {k:?} in HARDENING"
        );
    }
}

/// The dispatch's far jumps (`ja`, for a lower half longer than 255 instructions), lowered and
/// run by the interpreter the supervisor uses: every number reaches its own block, ALLOW or
/// the default. No shipped program is that long yet, so this is the path's only real run.
#[test]
fn far_jumps_of_the_dispatch_run_as_laid_out() {
    let block = |nr: u32| {
        let mut b = vec![Op::Ld(OFF_NR); 119];
        b.push(Op::Ret(Verdict::Harden(i32::try_from(nr).unwrap())));
        b
    };
    let rule_nrs = [0, 5, 6, 40, 41, 300, 301, 302, 450];
    let rules: BTreeMap<u32, Vec<Op>> = rule_nrs.iter().map(|&n| (n, block(n))).collect();
    let allowed: BTreeSet<u32> = (0..460).filter(|n| n % 3 == 0).collect();
    let mut ops = vec![Op::Ld(OFF_NR)];
    ops.extend(layout::dispatch(&rules, &allowed, 455));
    assert!(ops.iter().any(|op| matches!(op, Op::Ja(_))));
    let prog = Program {
        arch: Arch::NATIVE,
        action: SeccompAction::Errno(libc::EPERM),
        ops,
        handoff_slot: None,
        watch: Watch::default(),
        learns: false,
        execveat: false,
    };
    let shadow = prog.shadow();
    bpf::check(&shadow).unwrap();
    for nr in (0..=470).chain([u32::MAX]) {
        let want = if rules.contains_key(&nr) {
            ret::TRACE | nr
        } else if nr <= 459 && allowed.contains(&nr) {
            ret::ALLOW
        } else {
            ret::ERRNO | ret_data(libc::EPERM)
        };
        let data = SeccompData::new(Arch::NATIVE.audit_arch(), nr, &[]);
        assert_eq!(bpf::run(&shadow, &data), Ok(want), "syscall {nr}");
    }
}
