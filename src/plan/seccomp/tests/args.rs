//! The argument rules: clone's namespace flags, clone3, TIOCSTI/TIOCLINUX, socket and
//! socketpair families, personality, memfd_create's flags.
#![allow(
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    reason = "syscall arguments are built from C ints, as a caller passes them"
)]

use super::*;

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
    for req in [TIOCSTI, TIOCLINUX, TIOCSETD, TIOCEXCL, TIOCCONS] {
        for high in [0u64, 1 << 32, 0xdead_beef_0000_0000] {
            let cmd = high | u64::from(req);
            assert_eq!(call(&prog, "ioctl", &[0, cmd]), ret::USER_NOTIF, "{cmd:#x}");
            assert_eq!(shadow_answer(&prog, "ioctl", &[0, cmd]), HARD);
        }
    }
    // What a terminal program needs, on its own pty or the caller's (src/tty.rs puts the
    // caller's settings and size back after the jail).
    for req in [
        libc::TCGETS,
        libc::TCSETS,
        libc::TCSETSW,
        libc::TIOCGWINSZ,
        libc::TIOCSWINSZ,
        libc::FIONREAD,
        libc::TIOCNXCL,
    ] {
        assert_eq!(call(&prog, "ioctl", &[0, req]), ret::ALLOW, "{req:#x}");
    }
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
    // Without namespaces, modes none and loopback have no private network: AF_INET and AF_INET6
    // are refused like any rare family (UDP would reach the host); host mode keeps them.
    let mut landlock = default_policy();
    landlock.isolation.mode = crate::policy::IsolationMode::Landlock;
    let lprog = compile(&landlock).unwrap();
    let ls = |d: i32| call(&lprog, "socket", &[d as u64, 2, 0]);
    assert_eq!(ls(libc::AF_UNIX), ret::ALLOW);
    assert_eq!(ls(libc::AF_INET), ret::USER_NOTIF);
    assert_eq!(ls(libc::AF_INET6), ret::USER_NOTIF);
    assert_eq!(
        shadow_answer(&lprog, "socket", &[libc::AF_INET as u64, 2, 0]),
        Answer::Deny(DenialRule::Hardening, libc::EAFNOSUPPORT)
    );
    landlock.network.mode = crate::policy::NetMode::Host;
    let hprog = compile(&landlock).unwrap();
    assert_eq!(
        call(&hprog, "socket", &[libc::AF_INET as u64, 2, 0]),
        ret::ALLOW
    );
    // The kernel sees int domain: AF_INET with garbage high bits is still AF_INET, and
    // AF_PACKET with garbage high bits is still AF_PACKET.
    assert_eq!(call(&prog, "socket", &[(1 << 40) | 2, 1, 0]), ret::ALLOW);
    assert_eq!(
        call(&prog, "socket", &[(1 << 40) | 17, 1, 0]),
        ret::USER_NOTIF
    );
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

#[test]
fn setid_mode_bits_are_refused_only_when_the_jail_writes_the_host() {
    let writing = |mut p: Policy| {
        p.isolation.mode = crate::policy::IsolationMode::Landlock;
        p
    };
    // (syscall, position of the mode argument) on each architecture that has the call.
    let calls: [(&str, usize); 11] = [
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
    let with_mode = |at: usize, mode: u64| {
        let mut args = vec![3, 0x1000, 0, 0];
        args[at] = mode;
        args
    };
    for arch in Arch::ALL {
        let prog = compile_for(&writing(default_policy()), arch).unwrap();
        let mut checked = 0;
        for (name, at) in calls {
            if arch.number(name).is_none() {
                continue; // aarch64 has only the *at forms
            }
            checked += 1;
            for bad in [0o4755, 0o2755, 0o6777, 0o4000 | (1 << 33)] {
                assert_eq!(
                    shadow_answer(&prog, name, &with_mode(at, bad)),
                    HARD,
                    "{name} {bad:#o} on {arch:?}"
                );
            }
            for ok in [0, 0o644, 0o755, 0o1777, 0o6000 << 32] {
                assert_eq!(
                    call(&prog, name, &with_mode(at, ok)),
                    ret::ALLOW,
                    "{name} {ok:#o} on {arch:?}"
                );
            }
        }
        assert!(checked >= 6, "{arch:?}");
        assert_eq!(
            call(&prog, "openat2", &[3, 0x1000, 0x2000, 24]),
            ret::ERRNO | libc::ENOSYS as u32
        );
        // A jail that writes nothing of the host keeps the cheap rules: by number alone.
        let tmpfs_only = compile_for(&default_policy(), arch).unwrap();
        assert_eq!(
            call(&tmpfs_only, "fchmodat", &with_mode(2, 0o4755)),
            ret::ALLOW
        );
        assert_eq!(
            call(&tmpfs_only, "openat2", &[3, 0x1000, 0x2000, 24]),
            ret::ALLOW
        );
    }
}

#[test]
fn opens_for_writing_are_observed_after_the_setid_check() {
    let landlock = |mut p: Policy| {
        p.isolation.mode = crate::policy::IsolationMode::Landlock;
        p
    };
    // (syscall, flags position, mode position)
    let calls = [("open", 1, 2), ("openat", 2, 3)];
    for arch in Arch::ALL {
        for (policy, setid) in [
            (default_policy(), false),
            (landlock(default_policy()), true),
        ] {
            assert!(policy.observes_writes());
            let prog = compile_for(&policy, arch).unwrap();
            for (name, flags_at, mode_at) in calls {
                if arch.number(name).is_none() {
                    continue;
                }
                let args = |flags: u64, mode: u64| {
                    let mut a = vec![3, 0x1000, 0, 0];
                    a[flags_at] = flags;
                    a[mode_at] = mode;
                    a
                };
                for w in [
                    libc::O_WRONLY,
                    libc::O_RDWR,
                    libc::O_CREAT,
                    libc::O_TRUNC,
                    libc::O_WRONLY | libc::O_CLOEXEC,
                ] {
                    let flags = u64::try_from(w).unwrap();
                    assert_eq!(
                        shadow_answer(&prog, name, &args(flags, 0o644)),
                        Answer::Observe,
                        "{name} {w:#o} on {arch:?}"
                    );
                    if setid {
                        assert_eq!(shadow_answer(&prog, name, &args(flags, 0o4755)), HARD);
                    }
                }
                let read = u64::try_from(libc::O_RDONLY | libc::O_CLOEXEC).unwrap();
                assert_eq!(call(&prog, name, &args(read, 0)), ret::ALLOW, "{name}");
                // The high half of flags is not the kernel's: not a write.
                assert_eq!(call(&prog, name, &args(1 << 33, 0)), ret::ALLOW, "{name}");
            }
        }
    }
}

#[test]
fn observe_writes_false_lets_opens_for_writing_run_unseen_and_keeps_the_setid_check() {
    let quiet = |mut p: Policy, mode| {
        p.isolation.mode = mode;
        p.filesystem.observe_writes = false;
        p
    };
    for arch in Arch::ALL {
        for (mode, setid) in [
            (crate::policy::IsolationMode::Full, false),
            (crate::policy::IsolationMode::Landlock, true),
        ] {
            let policy = quiet(default_policy(), mode);
            assert!(!policy.observes_writes());
            let prog = compile_for(&policy, arch).unwrap();
            for (name, flags_at, mode_at) in [("open", 1, 2), ("openat", 2, 3)] {
                if arch.number(name).is_none() {
                    continue;
                }
                let mut a = vec![3, 0x1000, 0, 0];
                a[flags_at] = u64::try_from(libc::O_WRONLY | libc::O_CREAT).unwrap();
                a[mode_at] = 0o644;
                assert_eq!(call(&prog, name, &a), ret::ALLOW, "{name} on {arch:?}");
                if setid {
                    a[mode_at] = 0o4755;
                    assert_eq!(shadow_answer(&prog, name, &a), HARD, "{name} on {arch:?}");
                }
            }
        }
    }
}

#[test]
fn the_commands_own_exec_runs_unseen_and_every_other_exec_is_observed() {
    // dirfd as a caller passes it: the int in the low half, sign-extended or not.
    let at_fdcwd = [u64::from(AT_FDCWD_LO), libc::AT_FDCWD as u64];
    for arch in Arch::ALL {
        let prog = compile_for(&default_policy(), arch).unwrap();
        assert!(prog.allows_execveat(), "{arch:?}");
        for dirfd in at_fdcwd {
            let args = [dirfd, 0x1000, 0x2000, 0x3000, 0];
            assert_eq!(call(&prog, "execveat", &args), ret::ALLOW, "{arch:?}");
        }
        // fexecve: execveat(fd, "", argv, envp, AT_EMPTY_PATH); any other dirfd.
        let empty = libc::AT_EMPTY_PATH as u64;
        for args in [
            [3, 0x1000, 0x2000, 0x3000, empty],
            [5, 0x1000, 0x2000, 0x3000, 0],
        ] {
            assert_eq!(
                shadow_answer(&prog, "execveat", &args),
                Answer::Observe,
                "{arch:?}"
            );
        }
        // AT_FDCWD in the high half only is another descriptor to the kernel.
        let high = [u64::from(AT_FDCWD_LO) << 32, 0x1000, 0x2000, 0x3000, 0];
        assert_eq!(shadow_answer(&prog, "execveat", &high), Answer::Observe);
        if arch.number("execve").is_some() {
            let args = [0x1000, 0x2000, 0x3000];
            assert_eq!(shadow_answer(&prog, "execve", &args), Answer::Observe);
        }
        // A profile without execveat: the command execs through execve, observed as any.
        let mut p = default_policy();
        p.syscalls.allow.retain(|n| n != "execveat");
        let prog = compile_for(&p, arch).unwrap();
        assert!(!prog.allows_execveat(), "{arch:?}");
        let args = [u64::from(AT_FDCWD_LO), 0x1000, 0x2000, 0x3000, 0];
        assert_ne!(call(&prog, "execveat", &args), ret::ALLOW, "{arch:?}");
    }
}
