//! The limit watch points: each watched call with matching arguments is a notification the
//! supervisor answers as [`Answer::Watch`], every other argument is allowed in the kernel, and a
//! program without watch points is unchanged.

use super::*;
use crate::plan::seccomp::watch::MemoryWatch;

const DATA: u64 = 256 << 20;
const AS: u64 = 4 << 30;

fn all() -> Watch {
    Watch {
        memory: Some(MemoryWatch {
            data: DATA,
            address_space: AS,
        }),
        open_files: Some(256),
    }
}

fn watched() -> Program {
    let p = policy(&["@system-service"], SeccompAction::Errno(libc::EPERM), &[]);
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
fn mmap_is_watched_only_when_the_limit_refuses_it_whatever_the_process_holds() {
    let prog = watched();
    let rw = u64::try_from(libc::PROT_READ | libc::PROT_WRITE).unwrap();
    let ro = u64::try_from(libc::PROT_READ).unwrap();
    let flag = |f: i32| u64::try_from(f).unwrap();
    let private = flag(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS);
    let map = |len: u64, prot: u64, flags: u64| both(&prog, "mmap", &[0, len, prot, flags]);
    // Private and writable: more than RLIMIT_DATA, the high word included.
    assert_eq!(map(DATA + 1, rw, private), watch(WatchPoint::Map));
    assert_eq!(map(1 << 40, rw, private), watch(WatchPoint::Map));
    assert_eq!(map(DATA, rw, private), ALLOWED);
    assert_eq!(map(4096, rw, private), ALLOWED);
    // Not counted by RLIMIT_DATA (read-only, shared, a stack) or possibly offset (MAP_FIXED):
    // only past RLIMIT_AS.
    for (prot, flags) in [
        (ro, private),
        (rw, flag(libc::MAP_SHARED | libc::MAP_ANONYMOUS)),
        (rw, flag(libc::MAP_SHARED_VALIDATE)),
        (rw, private | flag(libc::MAP_FIXED)),
        (rw, private | flag(libc::MAP_GROWSDOWN)),
    ] {
        assert_eq!(map(DATA + 1, prot, flags), ALLOWED, "{prot:#x} {flags:#x}");
        assert_eq!(map(AS, prot, flags), ALLOWED, "{prot:#x} {flags:#x}");
        assert_eq!(map(AS + 1, prot, flags), watch(WatchPoint::Map));
    }
    // The supervisor answers with the kernel's own errno.
    assert_eq!(WatchPoint::Map.refusal(), Some(libc::ENOMEM));
}

#[test]
fn the_last_descriptor_and_failing_exits_are_watched_and_run() {
    let prog = watched();
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
    for p in [WatchPoint::CloseLast, WatchPoint::FailingExit] {
        assert_eq!(p.refusal(), None);
    }
    // Forks are not watched (an interrupted notification would fail them with EINTR).
    assert_eq!(both(&prog, "clone", &[libc::SIGCHLD as u64]), ALLOWED);
    assert_eq!(both(&prog, "read", &[255]), ALLOWED);
}

#[test]
fn without_watch_points_the_watched_calls_are_plain_allows() {
    let prog = compile(&default_policy()).unwrap();
    assert_eq!(call(&prog, "mmap", &[0, 1 << 40, 3, 0x22]), ret::ALLOW);
    assert_eq!(call(&prog, "close", &[255]), ret::ALLOW);
    assert_eq!(call(&prog, "exit_group", &[1]), ret::ALLOW);
    assert_eq!(prog.watch(), Watch::default());
}

#[test]
fn no_watched_call_has_a_hardening_rule() {
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
    let p = watched();
    let shadow = p.shadow();
    let arch = p.arch();
    for nr in 0..=arch.max_nr() + 2 {
        for args in [[0u64; 6], [u64::MAX; 6], [255, 1 << 32, 3, 0x22, 0, 0]] {
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
    assert_eq!(w.open_files, Some(256));
    let m = w.memory.unwrap();
    assert_eq!((m.data, m.address_space), (1 << 30, 4 << 30));
    // A cgroup counts memory itself: only open files are watched.
    let cg = crate::plan::limits::plan(&limits, true);
    let w = Watch::for_limits(&limits, &cg);
    assert_eq!((w.memory, w.open_files), (None, Some(256)));
}
