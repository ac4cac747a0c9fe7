//! Why the host refused a user namespace, and what to do about it.

use crate::error::Error;
use crate::preflight::namespaces;

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

const APPARMOR: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";

/// The error for a failed clone3, naming the cause ([`namespaces::diagnose`]).
pub fn clone_refused(errno: i32) -> Error {
    refused("create the jail's namespaces (clone3)", errno)
}

/// The error for a failed clone3 of the user namespace that idmaps a writable bind.
pub fn idmap_refused(errno: i32) -> Error {
    refused(
        "create the user namespace of an idmapped bind (clone3)",
        errno,
    )
}

/// The error for the command's failed unshare(CLONE_NEWUSER) (its nested user namespace).
pub fn unshare_refused(errno: i32) -> Error {
    refused("create the command's user namespace", errno)
}

/// The clone3 or unshare that failed was the try: the facts of this process (after it dropped
/// root, so its own capabilities and seccomp filters) name the cause.
fn refused(step: &str, errno: i32) -> Error {
    let e = Error::setup(step, errno);
    if !matches!(
        errno,
        libc::EPERM | libc::ENOSPC | libc::EINVAL | libc::EUSERS | libc::EACCES | libc::ENOSYS
    ) {
        return e;
    }
    e.with_hint(namespaces::diagnose(errno, &namespaces::host_facts()).1)
}

/// Ubuntu's AppArmor restriction lets the namespace be created but strips its capabilities, so
/// it surfaces later as EPERM on a mount: name the cause there too.
pub fn explain_eperm(e: &mut Error) {
    if e.errno == Some(libc::EPERM) && sysctl(APPARMOR).as_deref() == Some("1") {
        let facts = namespaces::HostFacts {
            apparmor_restrict_unprivileged_userns: Some(1),
            ..namespaces::HostFacts::default()
        };
        e.hint = namespaces::diagnose(libc::EPERM, &facts).1;
    }
}
