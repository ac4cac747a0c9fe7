//! Why this host refuses the jail's namespaces, found by trying rather than by reading.
//!
//! Sysctls tell only part of the story: inside a container the sysctls say "allowed" while the
//! container's seccomp filter answers `clone3` with ENOSYS and `unshare`/`clone` with namespace
//! flags with EPERM (Docker's and Podman's default profiles allow them only to a process holding
//! CAP_SYS_ADMIN). A hint read from the sysctls alone then blames the kernel's version or says
//! nothing useful. So [`try_namespaces`] makes the jail's own clone3 in a throw-away child, and
//! [`diagnose`] names the cause from the errno and the facts ([`HostFacts`]) that decide it:
//! the seccomp filters in force on this process, CAP_SYS_ADMIN, the three sysctls, and signs of
//! a container. Every diagnosis says the way out, and `--isolation landlock` for hosts where
//! namespaces cannot be had.

use serde::Serialize;

/// The namespaces of a full jail: what the supervisor's clone3 asks for (with a private network).
pub const JAIL_FLAGS: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWNET) as u64;

/// CAP_SYS_ADMIN's bit in the capability sets of /proc/self/status (capability(7)).
const CAP_SYS_ADMIN_BIT: u32 = 21;

/// The way out when the host will not give namespaces.
pub const LANDLOCK_MODE: &str =
    "or run without namespaces, with what Landlock, seccomp and rlimits enforce alone: \
     `--isolation landlock` (docs/containers.md says what that mode lacks)";

/// Facts about this process and host that decide whether it may create namespaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// `Seccomp:` of /proc/self/status: 0 none, 1 strict, 2 filter.
    pub seccomp_mode: Option<u32>,
    /// `Seccomp_filters:` of /proc/self/status: how many filters are stacked on this process.
    pub seccomp_filters: Option<u32>,
    /// Whether CAP_SYS_ADMIN is in this process's effective set.
    pub cap_sys_admin: bool,
    /// Whether this process runs as uid 0.
    pub root: bool,
    pub max_user_namespaces: Option<u64>,
    /// Debian's patch: 0 forbids unprivileged user namespaces.
    pub unprivileged_userns_clone: Option<u64>,
    /// Ubuntu 23.10+: 1 lets AppArmor strip unconfined programs' user namespaces.
    pub apparmor_restrict_unprivileged_userns: Option<u64>,
    /// What makes this look like a container (`/.dockerenv`, `/run/.containerenv`,
    /// `container=` in pid 1's environment, a runtime's name in /proc/1/cgroup).
    pub container: Option<String>,
}

impl HostFacts {
    /// Whether a seccomp filter is stacked on this process (an outer sandbox's or container's).
    pub fn seccomp_filtered(&self) -> bool {
        self.seccomp_mode == Some(2) || self.seccomp_filters.is_some_and(|n| n > 0)
    }
}

/// Reads the facts about the calling process (call it where the clone happens: a supervisor
/// that dropped root reads its own capabilities after the drop).
pub fn host_facts() -> HostFacts {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let cap_eff = field("CapEff:").and_then(|v| u64::from_str_radix(&v, 16).ok());
    let sysctl = |name: &str| super::probe::sysctl(name).and_then(|s| s.parse::<u64>().ok());
    HostFacts {
        seccomp_mode: field("Seccomp:").and_then(|v| v.parse().ok()),
        seccomp_filters: field("Seccomp_filters:").and_then(|v| v.parse().ok()),
        cap_sys_admin: cap_eff.is_some_and(|c| c & (1u64 << CAP_SYS_ADMIN_BIT) != 0),
        root: nix::unistd::geteuid().is_root(),
        max_user_namespaces: sysctl("user.max_user_namespaces"),
        unprivileged_userns_clone: sysctl("kernel.unprivileged_userns_clone"),
        apparmor_restrict_unprivileged_userns: sysctl(
            "kernel.apparmor_restrict_unprivileged_userns",
        ),
        container: container_sign(),
    }
}

/// The first sign that this process runs in a container, if any.
fn container_sign() -> Option<String> {
    for file in ["/.dockerenv", "/run/.containerenv"] {
        if std::path::Path::new(file).exists() {
            return Some(format!("{file} exists"));
        }
    }
    if let Ok(env) = std::fs::read("/proc/1/environ") {
        if let Some(v) = env
            .split(|&b| b == 0)
            .find_map(|kv| kv.strip_prefix(b"container="))
        {
            return Some(format!(
                "pid 1 has container={}",
                String::from_utf8_lossy(v)
            ));
        }
    }
    let cgroup = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    ["docker", "containerd", "kubepods", "libpod", "lxc"]
        .into_iter()
        .find(|name| cgroup.contains(name))
        .map(|name| format!("/proc/1/cgroup names {name}"))
}

/// What refused the namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// A seccomp filter on this process (a container's default profile) refuses them.
    SeccompFilter,
    /// user.max_user_namespaces=0.
    MaxUserNamespaces,
    /// kernel.unprivileged_userns_clone=0 (Debian).
    UnprivilegedUsernsClone,
    /// kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu).
    AppArmor,
    /// The count or nesting limit is reached.
    Exhausted,
    /// A kernel really without clone3 (before Linux 5.3), with no filter in the way.
    OldKernel,
    /// None of the above explains it.
    Unknown,
}

/// Names the cause of a refused namespace (`errno` from clone3 or unshare) and the way out.
/// Pure: the facts are passed in. The filter is considered first because it answers before the
/// kernel looks at any sysctl, and because its ENOSYS for clone3 looks like an old kernel.
pub fn diagnose(errno: i32, facts: &HostFacts) -> (Cause, String) {
    let filtered = facts.seccomp_filtered();
    let in_container = facts
        .container
        .as_deref()
        .map(|s| format!(" (this looks like a container: {s})"))
        .unwrap_or_default();
    let cause = if filtered && matches!(errno, libc::ENOSYS | libc::EPERM | libc::EACCES) {
        Cause::SeccompFilter
    } else if facts.max_user_namespaces == Some(0) {
        Cause::MaxUserNamespaces
    } else if facts.unprivileged_userns_clone == Some(0) {
        Cause::UnprivilegedUsernsClone
    } else if facts.apparmor_restrict_unprivileged_userns == Some(1) {
        Cause::AppArmor
    } else if matches!(errno, libc::ENOSPC | libc::EUSERS) {
        Cause::Exhausted
    } else if errno == libc::ENOSYS {
        Cause::OldKernel
    } else {
        Cause::Unknown
    };
    let text = match cause {
        Cause::SeccompFilter => {
            let cap = if facts.cap_sys_admin {
                String::new()
            } else {
                " and this process lacks CAP_SYS_ADMIN, without which container runtimes' \
                 default profiles refuse unshare, setns, mount and clone with namespace flags \
                 (and answer clone3 with ENOSYS)"
                    .to_string()
            };
            format!(
                "a seccomp filter on this process refuses namespaces ({} filter(s) in force, \
                 /proc/self/status){cap}{in_container}; run the container with a seccomp \
                 profile that allows them (e.g. `docker run --security-opt seccomp=unconfined`, \
                 or add clone3, unshare and namespace clone flags to the profile), {LANDLOCK_MODE}",
                facts.seccomp_filters.unwrap_or(1)
            )
        }
        Cause::MaxUserNamespaces => format!(
            "user namespaces are disabled (user.max_user_namespaces=0){in_container}; run \
             `sysctl -w user.max_user_namespaces=15000`, {LANDLOCK_MODE}"
        ),
        Cause::UnprivilegedUsernsClone => format!(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0); \
             run `sysctl -w kernel.unprivileged_userns_clone=1`, {LANDLOCK_MODE}"
        ),
        Cause::AppArmor => format!(
            "AppArmor restricts unprivileged user namespaces \
             (kernel.apparmor_restrict_unprivileged_userns=1); install the AppArmor profile \
             for tooljail that allows `userns,` (packaging/apparmor), or set the sysctl to 0, \
             {LANDLOCK_MODE}"
        ),
        Cause::Exhausted => format!(
            "the user namespace limit (user.max_user_namespaces) or nesting depth (32) is \
             reached (every jail uses two nested user namespaces); raise the sysctl or run fewer \
             nested jails, {LANDLOCK_MODE}"
        ),
        Cause::OldKernel => {
            format!("this kernel lacks clone3; tooljail needs Linux 5.3 or later, {LANDLOCK_MODE}")
        }
        Cause::Unknown => format!(
            "namespaces are refused here and no known cause was found{in_container}; allow \
             unshare(CLONE_NEWUSER) and clone3 for tooljail, {LANDLOCK_MODE}"
        ),
    };
    (cause, text)
}

/// What trying the jail's namespaces gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tried {
    /// The jail's clone3 (`JAIL_FLAGS`), as the jail's user: the errno when refused. (The
    /// command's nested user namespace is not tried: it needs the id maps a whole supervisor
    /// writes, and the filters that refuse it refuse this clone3 first.)
    pub clone3: Option<i32>,
}

impl Tried {
    pub fn ok(self) -> bool {
        self.clone3.is_none()
    }

    /// The errno to diagnose, if any.
    pub fn errno(self) -> Option<i32> {
        self.clone3
    }
}

/// Tries what a jail does, in a throw-away child: drop to `nobody` when root (the jail never
/// runs as root), then clone3 with the jail's namespaces; the new process exits at once.
/// Creates nothing that outlives the call. `Err` only when the child could not be made at all.
/// The child's exit code carries the errno (0: worked).
pub fn try_namespaces() -> std::io::Result<Tried> {
    use crate::sys::process::{self, Forked};
    match process::fork()? {
        Forked::Child => {
            if nix::unistd::geteuid().is_root() {
                // As the supervisor does: nothing of root's is left for the other processes
                // of nobody's uid to read (environment) or take (fds) once we are nobody.
                if let Err(e) = process::scrub_env().and_then(|()| process::close_fds_except(&[])) {
                    process::exit_now(crate::sys::errno_of(&e).clamp(1, 255));
                }
                let nobody = nix::unistd::Uid::from_raw(65534);
                let nogroup = nix::unistd::Gid::from_raw(65534);
                let dropped = nix::unistd::setgroups(&[])
                    .and_then(|()| nix::unistd::setresgid(nogroup, nogroup, nogroup))
                    .and_then(|()| nix::unistd::setresuid(nobody, nobody, nobody));
                if let Err(e) = dropped {
                    process::exit_now(e as i32);
                }
            }
            let code = match process::clone3(JAIL_FLAGS) {
                Ok(Forked::Child) => process::exit_now(0),
                Ok(Forked::Parent { pid, .. }) => {
                    let _ = process::wait4(pid, true);
                    0
                }
                Err(e) => crate::sys::errno_of(&e).clamp(1, 255),
            };
            process::exit_now(code)
        }
        Forked::Parent { pid, .. } => loop {
            match process::wait4(pid, true) {
                Ok(Some((status, _))) if libc::WIFEXITED(status) => {
                    let code = libc::WEXITSTATUS(status);
                    return Ok(Tried {
                        clone3: (code != 0).then_some(code),
                    });
                }
                Ok(Some(_)) => return Err(std::io::Error::from_raw_os_error(libc::ECHILD)),
                Ok(None) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> HostFacts {
        HostFacts {
            seccomp_mode: Some(2),
            seccomp_filters: Some(1),
            cap_sys_admin: false,
            root: true,
            max_user_namespaces: Some(15000),
            container: Some("/.dockerenv exists".into()),
            ..HostFacts::default()
        }
    }

    #[test]
    fn a_filters_enosys_for_clone3_is_never_blamed_on_the_kernel() {
        let (cause, text) = diagnose(libc::ENOSYS, &container());
        assert_eq!(cause, Cause::SeccompFilter);
        assert!(!text.contains("Linux 5.3"), "{text}");
        assert!(text.contains("seccomp"), "{text}");
        assert!(text.contains("CAP_SYS_ADMIN"), "{text}");
        assert!(text.contains("/.dockerenv"), "{text}");
        assert!(text.contains("--isolation landlock"), "{text}");
        // Positive control: without a filter, ENOSYS from clone3 is the kernel's.
        let bare = HostFacts {
            seccomp_mode: Some(0),
            seccomp_filters: Some(0),
            ..container()
        };
        assert_eq!(diagnose(libc::ENOSYS, &bare).0, Cause::OldKernel);
    }

    #[test]
    fn each_sysctl_is_named_when_no_filter_is_in_the_way() {
        let none = HostFacts {
            max_user_namespaces: Some(100),
            ..HostFacts::default()
        };
        for (facts, cause, needle) in [
            (
                HostFacts {
                    max_user_namespaces: Some(0),
                    ..none.clone()
                },
                Cause::MaxUserNamespaces,
                "user.max_user_namespaces=0",
            ),
            (
                HostFacts {
                    unprivileged_userns_clone: Some(0),
                    ..none.clone()
                },
                Cause::UnprivilegedUsernsClone,
                "kernel.unprivileged_userns_clone=0",
            ),
            (
                HostFacts {
                    apparmor_restrict_unprivileged_userns: Some(1),
                    ..none.clone()
                },
                Cause::AppArmor,
                "apparmor_restrict_unprivileged_userns=1",
            ),
            (none.clone(), Cause::Unknown, "no known cause"),
        ] {
            let (got, text) = diagnose(libc::EPERM, &facts);
            assert_eq!(got, cause, "{text}");
            assert!(text.contains(needle), "{text}");
            assert!(text.contains("--isolation landlock"), "{text}");
        }
        assert_eq!(diagnose(libc::ENOSPC, &none).0, Cause::Exhausted);
    }

    #[test]
    fn the_capability_is_named_only_when_missing() {
        let with = HostFacts {
            cap_sys_admin: true,
            ..container()
        };
        assert!(!diagnose(libc::EPERM, &with)
            .1
            .contains("lacks CAP_SYS_ADMIN"));
        assert!(diagnose(libc::EPERM, &container())
            .1
            .contains("lacks CAP_SYS_ADMIN"));
    }

    #[test]
    fn this_process_reads_its_own_facts() {
        let f = host_facts();
        assert!(f.seccomp_mode.is_some());
        assert!(f.max_user_namespaces.is_some());
    }
}
