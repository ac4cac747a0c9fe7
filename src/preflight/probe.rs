//! Read-only host probes for `tooljail doctor`: each reads a few files under /proc or /sys and
//! changes nothing. (The Landlock probe is [`super::landlock_support`].)

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Reads a sysctl by its dotted name (`user.max_user_namespaces`), `None` when absent.
pub fn sysctl(name: &str) -> Option<String> {
    let path = Path::new("/proc/sys").join(name.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn sysctl_u64(name: &str) -> Option<u64> {
    sysctl(name).and_then(|s| s.parse().ok())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kernel {
    pub release: String,
    pub arch: &'static str,
}

pub fn kernel() -> Kernel {
    Kernel {
        release: sysctl("kernel.osrelease").unwrap_or_else(|| "unknown".into()),
        arch: std::env::consts::ARCH,
    }
}

/// Whether an unprivileged process may create a user namespace, from the sysctls that decide
/// it. (A sysctl that does not exist on this kernel is `None` and does not block.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserNamespaces {
    pub max_user_namespaces: Option<u64>,
    /// Debian/Ubuntu patch: 0 forbids unprivileged user namespaces.
    pub unprivileged_userns_clone: Option<u64>,
    /// Ubuntu 23.10+: 1 lets AppArmor deny unprivileged user namespaces to unconfined programs.
    pub apparmor_restrict_unprivileged_userns: Option<u64>,
    pub unprivileged_allowed: bool,
    /// Which sysctl to change when not allowed.
    pub blocker: Option<String>,
}

pub fn user_namespaces() -> UserNamespaces {
    let max = sysctl_u64("user.max_user_namespaces");
    let clone = sysctl_u64("kernel.unprivileged_userns_clone");
    let apparmor = sysctl_u64("kernel.apparmor_restrict_unprivileged_userns");
    let blocker = if max == Some(0) {
        Some("user.max_user_namespaces=0".to_string())
    } else if clone == Some(0) {
        Some("kernel.unprivileged_userns_clone=0".to_string())
    } else if apparmor == Some(1) {
        Some("kernel.apparmor_restrict_unprivileged_userns=1".to_string())
    } else if max.is_none() {
        Some("user.max_user_namespaces is missing (kernel without CONFIG_USER_NS?)".to_string())
    } else {
        None
    };
    UserNamespaces {
        max_user_namespaces: max,
        unprivileged_userns_clone: clone,
        apparmor_restrict_unprivileged_userns: apparmor,
        unprivileged_allowed: blocker.is_none(),
        blocker,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seccomp {
    /// `kernel.seccomp.actions_avail`, `None` when seccomp filters are not built in.
    pub actions: Option<Vec<String>>,
    /// Filter mode with the actions tooljail uses (errno, kill_process, log).
    pub filter_usable: bool,
}

pub fn seccomp() -> Seccomp {
    let actions: Option<Vec<String>> = sysctl("kernel.seccomp.actions_avail")
        .map(|s| s.split_whitespace().map(str::to_string).collect());
    let filter_usable = actions.as_ref().is_some_and(|a| {
        ["errno", "kill_process", "log"]
            .iter()
            .all(|need| a.iter().any(|x| x == need))
    });
    Seccomp {
        actions,
        filter_usable,
    }
}

/// Whether 32-bit x86 syscalls (int 0x80) reach the kernel. The seccomp filter must reject the
/// i386 ABI when they do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ia32 {
    On,
    Off,
    NotApplicable,
}

pub fn ia32_emulation() -> (Ia32, String) {
    if std::env::consts::ARCH != "x86_64" {
        return (Ia32::NotApplicable, "not an x86_64 kernel".into());
    }
    // abi.vsyscall32 exists exactly when the kernel is built with CONFIG_IA32_EMULATION.
    if sysctl("abi.vsyscall32").is_none() {
        return (
            Ia32::Off,
            "abi.vsyscall32 absent: built without CONFIG_IA32_EMULATION".into(),
        );
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let param = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ia32_emulation="));
    match param {
        Some("0" | "false" | "n" | "off" | "no") => (
            Ia32::Off,
            format!(
                "ia32_emulation={} on the kernel command line",
                param.unwrap_or("")
            ),
        ),
        _ => (
            Ia32::On,
            "CONFIG_IA32_EMULATION (abi.vsyscall32 present), not disabled on the command line"
                .into(),
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoUring {
    /// `kernel.io_uring_disabled`: 0 enabled, 1 only for a group, 2 disabled; `None` on kernels
    /// before 6.6 (enabled unless built without it).
    pub io_uring_disabled: Option<u64>,
}

pub fn io_uring() -> IoUring {
    IoUring {
        io_uring_disabled: sysctl_u64("kernel.io_uring_disabled"),
    }
}

/// Whether `memfd_create` knows `MFD_NOEXEC_SEAL` (Linux 6.3). The `memfd-exec` hardening rule
/// gives every memfd made in a jail that seal; a kernel without it fails those calls.
pub fn memfd_noexec_seal() -> bool {
    use crate::policy::syscalls::MFD_NOEXEC_SEAL;
    crate::sys::seccomp::memfd_create(MFD_NOEXEC_SEAL | libc::MFD_CLOEXEC).is_ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupV2 {
    /// Where the cgroup2 hierarchy is mounted, `None` when it is not.
    pub mount: Option<PathBuf>,
    /// This process's cgroup v2 path (from /proc/self/cgroup, `0::PATH`).
    pub cgroup: Option<String>,
    /// Controllers available in this cgroup (`cgroup.controllers`).
    pub controllers: Vec<String>,
    /// Controllers enabled for children (`cgroup.subtree_control`).
    pub subtree_control: Vec<String>,
    /// Whether this process may create child cgroups and move processes (directory and
    /// cgroup.procs writable by this user): a delegated subtree.
    pub writable: bool,
}

fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Whether this process may write `path`, per access(2) with the real uid.
fn writable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

pub fn cgroup_v2() -> CgroupV2 {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = cgroup2_mount(&mountinfo);
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        });
    let dir = match (&mount, &cgroup) {
        (Some(m), Some(c)) => Some(m.join(c.trim_start_matches('/'))),
        _ => None,
    };
    let (controllers, subtree_control, writable) = match &dir {
        Some(d) => (
            words(&d.join("cgroup.controllers")),
            words(&d.join("cgroup.subtree_control")),
            writable(d) && writable(&d.join("cgroup.procs")),
        ),
        None => (vec![], vec![], false),
    };
    CgroupV2 {
        mount,
        cgroup,
        controllers,
        subtree_control,
        writable,
    }
}

/// The mount point of the first cgroup2 file system in a mountinfo text.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mount_point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_octal(mount_point)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_among_v1_mounts() {
        let info = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw
";
        assert_eq!(
            cgroup2_mount(info),
            Some(PathBuf::from("/sys/fs/cgroup/uni fied"))
        );
        assert_eq!(cgroup2_mount("1 2 0:1 / / rw - ext4 /dev/x rw\n"), None);
    }

    #[test]
    fn sysctl_reads_dotted_names() {
        // kernel.osrelease exists on every Linux.
        assert!(sysctl("kernel.osrelease").is_some_and(|s| !s.is_empty()));
        assert_eq!(sysctl("kernel.no_such_sysctl_here"), None);
    }
}
