//! The limit watch points: each watched call with a matching argument is a notification the
//! supervisor answers by looking ([`Answer::Watch`]), every other argument is allowed in the
//! kernel, and a program without watch points is unchanged.

use super::*;
use crate::plan::seccomp::watch::MemoryWatch;

const THRESHOLD: u64 = 64 << 20;

fn all() -> Watch {
    Watch {
        processes: Some(16),
        memory: Some(MemoryWatch {
            data: 1 << 30,
            address_space: 4 << 30,
            threshold: THRESHOLD,
        }),
        open_files: Some(256),
    }
}

fn watched(allow: &[&str], unsafe_allow: &[&str]) -> Program {
    let p = policy(allow, SeccompAction::Errno(libc::EPERM), unsafe_allow);
    compile_watching_for(&p, Arch::NATIVE, all()).unwrap()
}

/// The kernel's value and the supervisor's answer for one call.
fn both(prog: &Program, name: &str, args: &[u64]) -> (u32, Option<Answer>) {
    let k = call(prog, name, args);
    let s = (k == ret::USER_NOTIF).then(|| shadow_answer(prog, name, args));
    (k, s)
}

fn watch(p: WatchPoint) -> (u32, Option<Answer>) {
    (ret::USER_NOTIF, Some(Answer::Watch(p)))
}

const ALLOWED: (u32, Option<Answer>) = (ret::ALLOW, None);

#[test]
fn each_watch_point_notifies_only_for_its_arguments() {
    let prog = watched(&["@system-service", "fork", "vfork"], &[]);
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let private = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    // mmap(addr, len, ...): from the threshold up, the high word included.
    assert_eq!(
        both(&prog, "mmap", &[0, THRESHOLD, rw, private]),
        watch(WatchPoint::Map)
    );
    assert_eq!(
        both(&prog, "mmap", &[0, THRESHOLD - 1, rw, private]),
        ALLOWED
    );
    assert_eq!(both(&prog, "mmap", &[0, 4096, rw, private]), ALLOWED);
    assert_eq!(
        both(&prog, "mmap", &[0, 1 << 32, rw, private]),
        watch(WatchPoint::Map)
    );
    assert_eq!(
        both(&prog, "mmap", &[0, (1 << 32) | 1, 0, 0]),
        watch(WatchPoint::Map)
    );
    // mremap(old, old_len, new_len, ...): the new length.
    assert_eq!(
        both(&prog, "mremap", &[0, 4096, THRESHOLD, 1]),
        watch(WatchPoint::Remap)
    );
    assert_eq!(both(&prog, "mremap", &[0, THRESHOLD, 4096, 1]), ALLOWED);
    // close(N - 1) only, compared on the low 32 bits as the kernel reads an unsigned int.
    assert_eq!(both(&prog, "close", &[255]), watch(WatchPoint::CloseLast));
    assert_eq!(
        both(&prog, "close", &[(1 << 32) | 255]),
        watch(WatchPoint::CloseLast)
    );
    assert_eq!(both(&prog, "close", &[254]), ALLOWED);
    assert_eq!(both(&prog, "close", &[3]), ALLOWED);
    // exit_group: a non-zero exit code (status & 0xff).
    assert_eq!(
        both(&prog, "exit_group", &[1]),
        watch(WatchPoint::FailingExit)
    );
    assert_eq!(both(&prog, "exit_group", &[0]), ALLOWED);
    assert_eq!(both(&prog, "exit_group", &[256]), ALLOWED);
    // Every fork; clone keeps its namespace rule first.
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(both(&prog, "clone", &[sigchld]), watch(WatchPoint::Fork));
    assert_eq!(
        both(&prog, "clone", &[libc::CLONE_NEWUSER as u64 | sigchld]),
        (ret::USER_NOTIF, Some(HARD))
    );
    assert_eq!(both(&prog, "fork", &[]), watch(WatchPoint::Fork));
    assert_eq!(both(&prog, "vfork", &[]), watch(WatchPoint::Fork));
    // Unwatched calls stay in the allow list.
    assert_eq!(both(&prog, "read", &[255]), ALLOWED);
}

#[test]
fn with_clones_namespace_rule_lifted_every_clone_is_still_watched() {
    let key = HARDENING
        .iter()
        .find(|h| h.kind == HardeningKind::CloneNamespaces)
        .unwrap()
        .key;
    let prog = watched(&["@system-service"], &[key]);
    assert_eq!(
        both(&prog, "clone", &[libc::CLONE_NEWUSER as u64]),
        watch(WatchPoint::Fork)
    );
}

#[test]
fn without_watch_points_the_watched_calls_are_plain_allows() {
    let prog = compile(&default_policy()).unwrap();
    assert_eq!(call(&prog, "mmap", &[0, 1 << 40]), ret::ALLOW);
    assert_eq!(call(&prog, "close", &[255]), ret::ALLOW);
    assert_eq!(call(&prog, "exit_group", &[1]), ret::ALLOW);
    assert_eq!(call(&prog, "clone", &[libc::SIGCHLD as u64]), ret::ALLOW);
    assert_eq!(prog.watch(), Watch::default());
}

#[test]
fn no_watched_call_but_clone_has_a_hardening_rule() {
    // A watched call with a hardening rule would get two rules, the second never reached.
    for (name, _) in all().blocks() {
        assert!(
            HARDENING.iter().all(|h| h.key != name),
            "{name} is both watched and hardened"
        );
    }
}

#[test]
fn kernel_and_shadow_agree_with_watch_points() {
    let p = watched(&["@system-service"], &[]);
    let shadow = p.shadow();
    let arch = p.arch();
    for nr in 0..=arch.max_nr() + 2 {
        for args in [[0u64; 6], [u64::MAX; 6], [255, 1 << 32, 3, 2, 0, 0]] {
            let d = SeccompData {
                args,
                ..SeccompData::new(arch.audit_arch(), nr, &[])
            };
            let k = p.evaluate(&d);
            let s = bpf::run(&shadow, &d).unwrap();
            let watch = s & ret::ACTION_FULL == ret::ALLOW && s & ret::DATA != 0;
            if watch {
                assert_eq!(k, ret::USER_NOTIF, "nr {nr}");
                assert!(matches!(answer(&shadow, &d), Answer::Watch(_)), "nr {nr}");
            } else if k != ret::USER_NOTIF {
                assert_eq!(k, s, "nr {nr}");
            }
        }
    }
}

#[test]
fn watch_follows_the_mechanism_of_each_limit() {
    let limits = crate::plan::limits::tests::limits();
    let rl = crate::plan::limits::plan(&limits, false);
    let w = Watch::for_limits(&limits, &rl);
    assert_eq!(w.processes, Some(64));
    assert_eq!(w.open_files, Some(256));
    let m = w.memory.unwrap();
    assert_eq!(
        (m.data, m.address_space, m.threshold),
        (1 << 30, 4 << 30, 64 << 20)
    );
    // A cgroup counts processes and memory itself: only open files are watched.
    let cg = crate::plan::limits::plan(&limits, true);
    let w = Watch::for_limits(&limits, &cg);
    assert_eq!(
        (w.processes, w.memory, w.open_files),
        (None, None, Some(256))
    );
}
