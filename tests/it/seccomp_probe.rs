//! The filter installed for real (without the rest of the jail): the probe's checks from the
//! inside, the denials as the supervisor sees them, the foreign-ABI kills, the profile's
//! actions, and the hand-off when the profile denies sendmsg.

use crate::support::api::policy::syscalls::Arch;
use crate::support::api::policy::SeccompAction;
use crate::support::api::seccomp::DenialRule;
use crate::support::seccomp::{default_policy, policy, run, users};
use crate::support::ALWAYS_DENIED;
use std::os::unix::process::ExitStatusExt;

#[test]
fn probe_checks_pass_and_every_denial_is_named() {
    for user in users() {
        let o = run(&default_policy(), user, None, &["@probe"]);
        assert!(o.status.success(), "{}", o.dump());
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert!(lines.len() > 50, "{}", o.dump());
        for l in &lines {
            assert!(l.contains("\"ok\":true"), "failed check {l}\n{}", o.dump());
        }
        let arch = Arch::NATIVE.name();
        for (name, why) in ALWAYS_DENIED {
            let d = o
                .denials
                .iter()
                .find(|d| d.name == *name)
                .unwrap_or_else(|| panic!("no denial for {name} ({why}): {}", o.dump()));
            let want = if *name == "unshare" { 2 } else { 1 };
            assert_eq!(
                o.denials.iter().filter(|d| d.name == *name).count(),
                want,
                "{name}"
            );
            assert_eq!(d.arch, arch);
            assert_eq!(d.rule, DenialRule::Hardening);
            assert_eq!(d.errno, Some(libc::EPERM));
            assert!(!d.kill);
        }
        let count = |name: &str| o.denials.iter().filter(|d| d.name == name).count();
        assert_eq!(count("ioctl"), 3, "{}", o.dump()); // TIOCSTI x2, TIOCLINUX
        assert_eq!(count("socket"), 4, "{}", o.dump()); // netlink audit, packet, alg, vsock
        assert_eq!(count("clone"), 2, "{}", o.dump()); // CLONE_NEWUSER, NEWNS|NEWPID
        assert_eq!(count("unshare"), 2, "{}", o.dump());
        // clone3's ENOSYS comes from the kernel and is not a denial; allowed calls never are.
        for allowed in [
            "clone3",
            "read",
            "write",
            "uname",
            "getrandom",
            "getcwd",
            "newfstatat",
        ] {
            assert_eq!(count(allowed), 0, "{allowed}: {}", o.dump());
        }
        let line = o.summary.clone().unwrap();
        assert!(line.starts_with("tooljail: denied syscalls: "), "{line}");
        // ~40 distinct denials: the line names the first few and sums the rest (the names
        // and counts are checked on `o.denials` above).
        assert!(line.contains(" more denials (see --report)"), "{line}");
        assert!(line.len() < 600, "{line}");
        assert_eq!(count("socketpair"), 3, "{}", o.dump()); // vsock, inet, netlink
        assert_eq!(count("personality"), 2, "{}", o.dump()); // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn int80_from_a_64_bit_process_is_killed() {
    for user in users() {
        let o = run(&default_policy(), user, None, &["@probe", "int80"]);
        assert_eq!(o.status.signal(), Some(libc::SIGSYS), "{}", o.dump());
        assert!(o.stdout.is_empty(), "survived: {}", o.dump());
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_syscall_is_killed() {
    for user in users() {
        let o = run(&default_policy(), user, None, &["@probe", "x32"]);
        assert_eq!(o.status.signal(), Some(libc::SIGSYS), "{}", o.dump());
    }
}

fn without_uname(action: SeccompAction) -> crate::support::api::policy::Policy {
    let mut p = policy(&["@system-service"], action);
    p.syscalls.allow.retain(|n| n != "uname");
    p
}

#[test]
fn profile_denial_gets_the_profiles_errno_and_is_reported() {
    for user in users() {
        let o = run(
            &without_uname(SeccompAction::Errno(libc::EACCES)),
            user,
            None,
            &["uname"],
        );
        assert!(!o.status.success(), "{}", o.dump());
        assert!(o.stderr.contains("Permission denied"), "{}", o.dump());
        assert_eq!(o.denied_names(), vec!["uname"], "{}", o.dump());
        let d = &o.denials[0];
        assert_eq!(
            (d.rule, d.errno, d.kill),
            (DenialRule::Profile, Some(libc::EACCES), false)
        );
        assert_eq!(
            o.summary.as_deref(),
            Some(
                format!(
                    "tooljail: denied syscalls: uname({}) x1; allow them in [syscalls] if the \
                     tool needs them",
                    Arch::NATIVE.name()
                )
                .as_str()
            )
        );
    }
}

#[test]
fn kill_action_blocks_the_call_until_the_jail_is_killed() {
    for user in users() {
        let o = run(&without_uname(SeccompAction::Kill), user, None, &["uname"]);
        assert_eq!(o.status.signal(), Some(libc::SIGKILL), "{}", o.dump());
        assert_eq!(o.denied_names(), vec!["uname"]);
        assert!(o.denials[0].kill && o.denials[0].errno.is_none());
        // The call was never answered, so uname printed nothing.
        assert!(o.stdout.is_empty(), "{}", o.dump());
    }
}

#[test]
fn log_action_lets_the_call_run() {
    let o = run(&without_uname(SeccompAction::Log), None, None, &["uname"]);
    assert!(o.status.success(), "{}", o.dump());
    assert!(o.denials.is_empty(), "{}", o.dump());
}

#[test]
fn handoff_works_when_the_profile_denies_sendmsg() {
    // No @network-io: sendmsg is outside the allow-list, yet the hand-off must not deadlock.
    let p = policy(
        &[
            "@default",
            "@basic-io",
            "@file-system",
            "@memory",
            "@signal",
            "@process",
            "ioctl",
        ],
        SeccompAction::Errno(libc::EPERM),
    );
    assert!(!p.syscalls.allow.contains(&"sendmsg".to_string()));
    for user in users() {
        let o = run(&p, user, None, &["/bin/true"]);
        assert!(o.status.success(), "{}", o.dump());
        assert!(
            !o.denied_names().contains(&"sendmsg".to_string()),
            "{}",
            o.dump()
        );
    }
}
