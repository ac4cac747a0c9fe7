//! The isolation mode (the full jail, or Landlock without namespaces) and the walls a profile
//! may require.

use serde::{Deserialize, Serialize};

/// The isolation mode and what the profile refuses to run without.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolation {
    pub mode: IsolationMode,
    /// Walls the profile will not run without (`requires = [...]`): a mode that lacks one is
    /// refused before anything runs.
    pub requires: Vec<Wall>,
}

impl Isolation {
    pub fn is_default(&self) -> bool {
        *self == Isolation::default()
    }
}

/// How the jail is built. The full jail is the default and the only mode chosen without being
/// asked (DESIGN.md invariant 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationMode {
    /// Namespaces, a new root, Landlock, seccomp, rlimits, the scratch tmpfs.
    #[default]
    Full,
    /// No namespace: the command is forked by the supervisor and confined by Landlock (the only
    /// filesystem and TCP wall), seccomp, rlimits, capabilities and no_new_privs; for
    /// containers whose seccomp profile forbids namespaces. What it lacks: [`Wall::lacking`].
    Landlock,
}

impl IsolationMode {
    pub fn name(self) -> &'static str {
        match self {
            IsolationMode::Full => "full",
            IsolationMode::Landlock => "landlock",
        }
    }
}

/// A wall of the full jail that a weaker mode may lack; a profile names the ones it needs in
/// `requires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wall {
    /// What the profile does not name does not exist (ENOENT), rather than being denied.
    MountNamespace,
    /// The command sees no host process; every process of the jail dies with it, also when
    /// tooljail is SIGKILLed.
    PidNamespace,
    /// A private network stack: no UDP, raw or unix-socket path to the host's network.
    NetworkNamespace,
    /// Private SysV IPC and POSIX message queues, capped at the memory limit.
    IpcNamespace,
    /// Its own hostname.
    UtsNamespace,
    /// The scratch directory is a tmpfs with a size cap, and /tmp and /dev/shm are private.
    ScratchTmpfs,
}

impl Wall {
    pub const ALL: [Wall; 6] = [
        Wall::MountNamespace,
        Wall::PidNamespace,
        Wall::NetworkNamespace,
        Wall::IpcNamespace,
        Wall::UtsNamespace,
        Wall::ScratchTmpfs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Wall::MountNamespace => "mount-namespace",
            Wall::PidNamespace => "pid-namespace",
            Wall::NetworkNamespace => "network-namespace",
            Wall::IpcNamespace => "ipc-namespace",
            Wall::UtsNamespace => "uts-namespace",
            Wall::ScratchTmpfs => "scratch-tmpfs",
        }
    }

    /// What a run in `--isolation landlock` does instead, for the report, `explain` and
    /// docs/security.md. Exhaustive: a new wall must say what the mode does without it.
    pub fn without(self) -> &'static str {
        match self {
            Wall::MountNamespace => "paths the profile does not name exist and are denied by Landlock (EACCES), not absent; the host's /proc is visible read-only; no private /dev, /dev/pts or /dev/shm",
            Wall::PidNamespace => "the command sees host processes; descendants left when it ends are killed by the supervisor (a child subreaper), but survive a SIGKILL of tooljail itself",
            Wall::NetworkNamespace => "in modes none and loopback, seccomp refuses AF_INET and AF_INET6 sockets (EAFNOSUPPORT), so no server the tool starts is reachable even on loopback; in mode host, Landlock limits TCP bind and connect to the listed ports and UDP, including DNS, reaches the host's network (as in the full jail)",
            Wall::IpcNamespace => "SysV IPC and POSIX message queues are the host's, not capped by the memory limit",
            Wall::UtsNamespace => "the hostname is the host's",
            Wall::ScratchTmpfs => "the scratch is a fresh 0700 directory under /tmp, removed afterwards (left behind if tooljail itself is SIGKILLed), with no size cap (only the file-size limit); /tmp and /dev/shm are not writable",
        }
    }

    /// The walls a mode lacks.
    pub fn lacking(mode: IsolationMode) -> Vec<Wall> {
        match mode {
            IsolationMode::Full => Vec::new(),
            IsolationMode::Landlock => Wall::ALL.to_vec(),
        }
    }
}
