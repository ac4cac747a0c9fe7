//! Test helper: the confinement a container runtime's default profile puts on a process, then
//! CMD exec'd. The container tests (tests/containers.rs) run tooljail under it, so they see
//! what tooljail sees inside `docker run` without needing a container runtime:
//!
//!     containerize [--no-openat2 | --only-openat2] [--no-process-vm-readv] -- CMD ARGS...
//!
//! - a seccomp filter like Docker's and Podman's defaults for a process without CAP_SYS_ADMIN:
//!   `unshare`, `setns`, `mount`, `umount2`, `pivot_root` and `clone` with any CLONE_NEW* flag
//!   fail with EPERM, and `clone3` with ENOSYS (its flags are behind a pointer the filter
//!   cannot read, so the runtimes make glibc fall back to `clone`);
//! - with `--no-openat2`, `openat2` fails with ENOSYS too, as under runtimes whose profile
//!   predates it; with `--only-openat2`, that is the whole confinement (namespaces and
//!   capabilities untouched), to test the full jail without openat2;
//! - with `--no-process-vm-readv`, `process_vm_readv` and `process_vm_writev` fail with EPERM
//!   too, as under systemd's `SystemCallFilter=@system-service` (which leaves out `@debug`)
//!   and container profiles that allow them only with CAP_SYS_PTRACE;
//! - when started as root: the capability sets and bounding set cut to Docker's default
//!   (chown, dac_override, fsetid, fowner, mknod, net_raw, setgid, setuid, setfcap, setpcap,
//!   net_bind_service, sys_chroot, kill, audit_write), so CAP_SYS_ADMIN is gone.
//!
//! Started as root the filter is installed while CAP_SYS_ADMIN is still held, without
//! no_new_privs, as a runtime does; otherwise no_new_privs is set first, which the kernel
//! requires of an unprivileged process. It is not a security tool.

use caps::{CapSet, Capability};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;

fn die(msg: &str) -> ! {
    eprintln!("containerize: {msg}");
    std::process::exit(125)
}

/// Docker's default capability set (moby `oci/caps/defaults.go`).
const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

const CLONE_NEW: [i32; 8] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWTIME,
];

/// A filter that answers each of `syscalls` (with its conditions) with `errno` and allows
/// everything else.
fn filter(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> BpfProgram {
    let arch = TargetArch::try_from(std::env::consts::ARCH).unwrap_or_else(|e| die(&e.to_string()));
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno.unsigned_abs()),
        arch,
    )
    .unwrap_or_else(|e| die(&e.to_string()));
    f.try_into()
        .unwrap_or_else(|e: seccompiler::BackendError| die(&e.to_string()))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dash) = args.iter().position(|a| a == "--") else {
        die("usage: containerize [OPTIONS] -- CMD ARGS... (see the source's header)");
    };
    let only_openat2 = args[..dash].iter().any(|a| a == "--only-openat2");
    let no_openat2 = only_openat2 || args[..dash].iter().any(|a| a == "--no-openat2");
    let no_vm_readv = args[..dash].iter().any(|a| a == "--no-process-vm-readv");
    let argv = &args[dash + 1..];
    if argv.is_empty() {
        die("usage: containerize [OPTIONS] -- CMD ARGS... (see the source's header)");
    }
    let root = nix::unistd::geteuid().is_root();

    let always = |nrs: &[i64]| nrs.iter().map(|&nr| (nr, Vec::new())).collect::<Vec<_>>();
    let mut eperm: BTreeMap<i64, Vec<SeccompRule>> = always(&[
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
    ])
    .into_iter()
    .collect();
    let flag_rules = CLONE_NEW
        .iter()
        .map(|&flag| {
            let flag = u64::from(flag.unsigned_abs());
            let cond = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .unwrap_or_else(|e| die(&e.to_string()));
            SeccompRule::new(vec![cond]).unwrap_or_else(|e| die(&e.to_string()))
        })
        .collect();
    eperm.insert(libc::SYS_clone, flag_rules);
    if no_vm_readv {
        eperm.insert(libc::SYS_process_vm_readv, Vec::new());
        eperm.insert(libc::SYS_process_vm_writev, Vec::new());
    }
    let mut enosys: BTreeMap<i64, Vec<SeccompRule>> =
        always(&[libc::SYS_clone3]).into_iter().collect();
    if no_openat2 {
        enosys.insert(libc::SYS_openat2, Vec::new());
    }

    if !root {
        nix::sys::prctl::set_no_new_privs().unwrap_or_else(|e| die(&e.to_string()));
    }
    if only_openat2 {
        let only: BTreeMap<i64, Vec<SeccompRule>> =
            always(&[libc::SYS_openat2]).into_iter().collect();
        seccompiler::apply_filter(&filter(only, libc::ENOSYS))
            .unwrap_or_else(|e| die(&e.to_string()));
        let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
        die(&format!("exec {}: {e}", argv[0]))
    }
    for prog in [filter(eperm, libc::EPERM), filter(enosys, libc::ENOSYS)] {
        seccompiler::apply_filter(&prog).unwrap_or_else(|e| die(&e.to_string()));
    }
    if root {
        let keep: caps::CapsHashSet = DOCKER_DEFAULT.into_iter().collect();
        for cap in caps::all() {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap).unwrap_or_else(|e| die(&e.to_string()));
            }
        }
        for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
            caps::set(None, set, &keep).unwrap_or_else(|e| die(&e.to_string()));
        }
    }
    let e = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    die(&format!("exec {}: {e}", argv[0]))
}
