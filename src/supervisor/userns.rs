//! Why the host refused a user namespace, and what to do about it.

use crate::error::Error;

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

const APPARMOR: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
const MAX_USERNS: &str = "/proc/sys/user/max_user_namespaces";
const UNPRIV_CLONE: &str = "/proc/sys/kernel/unprivileged_userns_clone";

/// The error for a failed clone3, reading /proc/sys to name the cause.
pub fn clone_refused(errno: i32) -> Error {
    refused("create the jail's namespaces (clone3)", errno)
}

/// The error for the command's failed unshare(CLONE_NEWUSER) (its nested user namespace).
pub fn unshare_refused(errno: i32) -> Error {
    refused("create the command's user namespace", errno)
}

fn refused(step: &str, errno: i32) -> Error {
    diagnose(
        step,
        errno,
        sysctl(APPARMOR).as_deref(),
        sysctl(MAX_USERNS).as_deref(),
        sysctl(UNPRIV_CLONE).as_deref(),
    )
}

/// Pure part of [`clone_refused`]: `apparmor`, `max_userns`, `unpriv_clone` are the values of
/// the three sysctls (None when absent).
pub fn diagnose(
    step: &str,
    errno: i32,
    apparmor: Option<&str>,
    max_userns: Option<&str>,
    unpriv_clone: Option<&str>,
) -> Error {
    let e = Error::setup(step, errno);
    let hint = if errno == libc::ENOSYS {
        "this kernel (or a container's seccomp filter) lacks clone3; tooljail needs Linux 5.3 or later"
            .to_string()
    } else if !matches!(
        errno,
        libc::EPERM | libc::ENOSPC | libc::EINVAL | libc::EUSERS | libc::EACCES
    ) {
        return e;
    } else if apparmor == Some("1") {
        "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1); \
         install an AppArmor profile for tooljail that allows `userns,`, or set the sysctl to 0"
            .to_string()
    } else if max_userns == Some("0") {
        "user namespaces are disabled (user.max_user_namespaces=0); run `sysctl -w user.max_user_namespaces=15000`"
            .to_string()
    } else if unpriv_clone == Some("0") {
        "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0); run \
         `sysctl -w kernel.unprivileged_userns_clone=1`"
            .to_string()
    } else if matches!(errno, libc::ENOSPC | libc::EUSERS) {
        "the user namespace limit (user.max_user_namespaces) or nesting depth (32) is reached \
         (every jail uses two nested user namespaces); raise the sysctl or run fewer nested jails"
            .to_string()
    } else {
        "user namespaces are refused here (likely a container whose seccomp profile or missing \
         capabilities forbid them); run tooljail on the host, or allow unshare(CLONE_NEWUSER) in \
         the container"
            .to_string()
    };
    e.with_hint(hint)
}

/// Ubuntu's AppArmor restriction lets the namespace be created but strips its capabilities, so
/// it surfaces later as EPERM on a mount: name the cause there too.
pub fn explain_eperm(e: &mut Error) {
    if e.errno == Some(libc::EPERM) && sysctl(APPARMOR).as_deref() == Some("1") {
        e.hint = diagnose("", libc::EPERM, Some("1"), None, None).hint;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_sysctl_that_refused() {
        assert!(diagnose("step", libc::EPERM, Some("1"), Some("100"), None)
            .hint
            .contains("apparmor_restrict_unprivileged_userns"));
        assert!(diagnose("step", libc::ENOSPC, None, Some("0"), None)
            .hint
            .contains("user.max_user_namespaces=0"));
        assert!(
            diagnose("step", libc::EPERM, Some("0"), Some("100"), Some("0"))
                .hint
                .contains("unprivileged_userns_clone")
        );
        assert!(diagnose("step", libc::EPERM, None, Some("100"), Some("1"))
            .hint
            .contains("container"));
        let e = diagnose("step", libc::EPERM, None, None, None);
        assert_eq!(e.exit_code(), 125);
        assert_eq!(e.errno, Some(libc::EPERM));
    }
}
