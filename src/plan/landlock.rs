//! The Landlock ruleset a Policy asks for, as pure data: which paths get which named rights,
//! which TCP ports, which scopes, and the lowest Landlock ABI that enforces all of it.
//!
//! Computed before clone into [`crate::plan::Plan::landlock`]: `tooljail explain` shows the same
//! value the restrict step in the command applies ([`crate::jail::landlock`]). Nothing here
//! performs I/O. Which kernel features a Policy needs is preflight's business
//! ([`crate::preflight::features`]).
//!
//! Paths are the jail's *inside* paths: the rules are opened after pivot_root. (Without a mount
//! namespace, as in the layer tests, inside paths are host paths.)

use crate::policy::{Access, Compat, FileKind, IsolationMode, NetMode, Policy};
use crate::preflight::features::required_abi;
use landlock::{AccessFs, AccessNet, BitFlags, Scope};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A Landlock filesystem access right, named as in the kernel's `LANDLOCK_ACCESS_FS_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsRight {
    Execute,
    WriteFile,
    ReadFile,
    ReadDir,
    RemoveDir,
    RemoveFile,
    MakeChar,
    MakeDir,
    MakeReg,
    MakeSock,
    MakeFifo,
    MakeBlock,
    MakeSym,
    Refer,
    Truncate,
    IoctlDev,
    ResolveUnix,
}

impl FsRight {
    /// Every right this build knows, in kernel bit order.
    pub const ALL: [FsRight; 17] = [
        FsRight::Execute,
        FsRight::WriteFile,
        FsRight::ReadFile,
        FsRight::ReadDir,
        FsRight::RemoveDir,
        FsRight::RemoveFile,
        FsRight::MakeChar,
        FsRight::MakeDir,
        FsRight::MakeReg,
        FsRight::MakeSock,
        FsRight::MakeFifo,
        FsRight::MakeBlock,
        FsRight::MakeSym,
        FsRight::Refer,
        FsRight::Truncate,
        FsRight::IoctlDev,
        FsRight::ResolveUnix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FsRight::Execute => "execute",
            FsRight::WriteFile => "write-file",
            FsRight::ReadFile => "read-file",
            FsRight::ReadDir => "read-dir",
            FsRight::RemoveDir => "remove-dir",
            FsRight::RemoveFile => "remove-file",
            FsRight::MakeChar => "make-char",
            FsRight::MakeDir => "make-dir",
            FsRight::MakeReg => "make-reg",
            FsRight::MakeSock => "make-sock",
            FsRight::MakeFifo => "make-fifo",
            FsRight::MakeBlock => "make-block",
            FsRight::MakeSym => "make-sym",
            FsRight::Refer => "refer",
            FsRight::Truncate => "truncate",
            FsRight::IoctlDev => "ioctl-dev",
            FsRight::ResolveUnix => "resolve-unix",
        }
    }

    /// The Landlock ABI that introduced this right.
    pub fn abi(self) -> u32 {
        match self {
            FsRight::Refer => 2,
            FsRight::Truncate => 3,
            FsRight::IoctlDev => 5,
            FsRight::ResolveUnix => 9,
            _ => 1,
        }
    }

    /// Whether the right means anything on a non-directory. The kernel rejects a rule on a file
    /// that carries a directory-only right (EINVAL), so file rules get only these.
    pub fn applies_to_files(self) -> bool {
        matches!(
            self,
            FsRight::Execute
                | FsRight::WriteFile
                | FsRight::ReadFile
                | FsRight::Truncate
                | FsRight::IoctlDev
                | FsRight::ResolveUnix
        )
    }

    pub fn access(self) -> AccessFs {
        match self {
            FsRight::Execute => AccessFs::Execute,
            FsRight::WriteFile => AccessFs::WriteFile,
            FsRight::ReadFile => AccessFs::ReadFile,
            FsRight::ReadDir => AccessFs::ReadDir,
            FsRight::RemoveDir => AccessFs::RemoveDir,
            FsRight::RemoveFile => AccessFs::RemoveFile,
            FsRight::MakeChar => AccessFs::MakeChar,
            FsRight::MakeDir => AccessFs::MakeDir,
            FsRight::MakeReg => AccessFs::MakeReg,
            FsRight::MakeSock => AccessFs::MakeSock,
            FsRight::MakeFifo => AccessFs::MakeFifo,
            FsRight::MakeBlock => AccessFs::MakeBlock,
            FsRight::MakeSym => AccessFs::MakeSym,
            FsRight::Refer => AccessFs::Refer,
            FsRight::Truncate => AccessFs::Truncate,
            FsRight::IoctlDev => AccessFs::IoctlDev,
            FsRight::ResolveUnix => AccessFs::ResolveUnix,
        }
    }

    /// The named rights contained in a set of crate flags.
    pub fn from_flags(flags: BitFlags<AccessFs>) -> Vec<FsRight> {
        FsRight::ALL
            .into_iter()
            .filter(|r| flags.contains(r.access()))
            .collect()
    }
}

/// A Landlock network access right (`LANDLOCK_ACCESS_NET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetRight {
    BindTcp,
    ConnectTcp,
    BindUdp,
    ConnectSendUdp,
}

impl NetRight {
    pub const ALL: [NetRight; 4] = [
        NetRight::BindTcp,
        NetRight::ConnectTcp,
        NetRight::BindUdp,
        NetRight::ConnectSendUdp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NetRight::BindTcp => "bind-tcp",
            NetRight::ConnectTcp => "connect-tcp",
            NetRight::BindUdp => "bind-udp",
            NetRight::ConnectSendUdp => "connect-send-udp",
        }
    }

    pub fn abi(self) -> u32 {
        match self {
            NetRight::BindTcp | NetRight::ConnectTcp => 4,
            NetRight::BindUdp | NetRight::ConnectSendUdp => 10,
        }
    }

    pub fn access(self) -> AccessNet {
        match self {
            NetRight::BindTcp => AccessNet::BindTcp,
            NetRight::ConnectTcp => AccessNet::ConnectTcp,
            NetRight::BindUdp => AccessNet::BindUdp,
            NetRight::ConnectSendUdp => AccessNet::ConnectSendUdp,
        }
    }

    pub fn from_flags(flags: BitFlags<AccessNet>) -> Vec<NetRight> {
        NetRight::ALL
            .into_iter()
            .filter(|r| flags.contains(r.access()))
            .collect()
    }
}

/// A Landlock scope (`LANDLOCK_SCOPE_*`): IPC the domain may not reach out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeRight {
    AbstractUnixSocket,
    Signal,
}

impl ScopeRight {
    pub const ALL: [ScopeRight; 2] = [ScopeRight::AbstractUnixSocket, ScopeRight::Signal];

    pub fn name(self) -> &'static str {
        match self {
            ScopeRight::AbstractUnixSocket => "abstract-unix-socket",
            ScopeRight::Signal => "signal",
        }
    }

    pub fn abi(self) -> u32 {
        6
    }

    pub fn access(self) -> Scope {
        match self {
            ScopeRight::AbstractUnixSocket => Scope::AbstractUnixSocket,
            ScopeRight::Signal => Scope::Signal,
        }
    }

    pub fn from_flags(flags: BitFlags<Scope>) -> Vec<ScopeRight> {
        ScopeRight::ALL
            .into_iter()
            .filter(|r| flags.contains(r.access()))
            .collect()
    }
}

/// One path rule: `rights` are allowed on `path` and, for a directory, everything beneath it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockRule {
    /// Inside-the-jail path, opened when the rules are applied.
    pub path: PathBuf,
    pub kind: FileKind,
    pub rights: Vec<FsRight>,
    /// Why the rule exists: `bind (ORIGIN)`, `scratch`, `device`, `proc`, `dev`.
    pub origin: String,
}

impl LandlockRule {
    pub fn access(&self) -> BitFlags<AccessFs> {
        self.rights
            .iter()
            .fold(BitFlags::EMPTY, |a, r| a | r.access())
    }
}

impl fmt::Display for LandlockRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FileKind::Dir => "dir ",
            FileKind::File => "file",
        };
        let rights: Vec<&str> = self.rights.iter().map(|r| r.name()).collect();
        write!(
            f,
            "{kind} {} {} [{}]",
            self.path.display(),
            rights.join(","),
            self.origin
        )
    }
}

/// One TCP port rule (host network mode only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortRule {
    pub port: u16,
    pub rights: Vec<NetRight>,
}

impl PortRule {
    pub fn access(&self) -> BitFlags<AccessNet> {
        self.rights
            .iter()
            .fold(BitFlags::EMPTY, |a, r| a | r.access())
    }
}

impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rights: Vec<&str> = self.rights.iter().map(|r| r.name()).collect();
        write!(f, "port {} {}", self.port, rights.join(","))
    }
}

const READ_DIR: &[FsRight] = &[FsRight::ReadFile, FsRight::ReadDir];
const READ_FILE: &[FsRight] = &[FsRight::ReadFile];
/// Read-write directory: what real tools were seen to need (DESIGN, compatibility facts), and
/// nothing to make device nodes. `resolve-unix` lets a tool connect to a socket it made here.
const WRITE_DIR: &[FsRight] = &[
    FsRight::WriteFile,
    FsRight::RemoveDir,
    FsRight::RemoveFile,
    FsRight::MakeDir,
    FsRight::MakeReg,
    FsRight::MakeSock,
    FsRight::MakeFifo,
    FsRight::MakeSym,
    FsRight::Refer,
    FsRight::Truncate,
    FsRight::ResolveUnix,
];
const WRITE_FILE: &[FsRight] = &[FsRight::WriteFile, FsRight::Truncate, FsRight::ResolveUnix];
const DEVICE: &[FsRight] = &[FsRight::WriteFile, FsRight::ReadFile, FsRight::IoctlDev];

fn path_rights(access: Access, kind: FileKind, exec: bool) -> Vec<FsRight> {
    let mut rights: Vec<FsRight> = match kind {
        FileKind::Dir => READ_DIR.to_vec(),
        FileKind::File => READ_FILE.to_vec(),
    };
    if access == Access::ReadWrite {
        rights.extend_from_slice(match kind {
            FileKind::Dir => WRITE_DIR,
            FileKind::File => WRITE_FILE,
        });
    }
    if exec {
        rights.push(FsRight::Execute);
    }
    rights.sort();
    rights.dedup();
    rights
}

/// The path rules, in the order they are added: listing from `/`, binds, scratch (and /tmp,
/// /dev/shm), devices, /proc, /dev, /dev/pts. Beyond listing directories, paths the Policy does not name
/// get no rule, so no file beneath them may be read, written or executed.
pub fn rules(policy: &Policy) -> Vec<LandlockRule> {
    match policy.isolation.mode {
        IsolationMode::Full => rules_in_jail(policy),
        IsolationMode::Landlock => rules_on_host(policy),
    }
}

/// The rules of the full jail, whose paths are inside the new root.
fn rules_in_jail(policy: &Policy) -> Vec<LandlockRule> {
    let fs = &policy.filesystem;
    // Listing directories is granted from the root down: inside the jail the mount namespace
    // has already decided which names exist (only the Policy's paths), and without this `ls /`,
    // `find /` or a glob over the root fail with EACCES on the jail's own skeleton directories.
    // Names only: reading, writing and executing stay granted per path below.
    let mut out = vec![LandlockRule {
        path: "/".into(),
        kind: FileKind::Dir,
        rights: vec![FsRight::ReadDir],
        origin: "root (list directories only)".into(),
    }];
    for bind in &fs.binds {
        let access = match bind.access {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        };
        out.push(LandlockRule {
            path: bind.target.clone(),
            kind: bind.kind,
            rights: path_rights(bind.access, bind.kind, bind.exec),
            origin: format!("bind {access} ({})", bind.origin),
        });
    }
    let scratch = &fs.scratch;
    let mut scratch_dirs = vec![(scratch.path.clone(), "scratch")];
    if scratch.tmp {
        scratch_dirs.push(("/tmp".into(), "scratch /tmp"));
    }
    if scratch.shm {
        scratch_dirs.push(("/dev/shm".into(), "scratch /dev/shm"));
    }
    for (path, origin) in scratch_dirs {
        out.push(LandlockRule {
            path,
            kind: FileKind::Dir,
            rights: path_rights(Access::ReadWrite, FileKind::Dir, scratch.exec),
            origin: origin.into(),
        });
    }
    out.extend(device_rules(&fs.devices));
    out.push(LandlockRule {
        path: "/proc".into(),
        kind: FileKind::Dir,
        rights: READ_DIR.to_vec(),
        origin: "proc".into(),
    });
    out.push(LandlockRule {
        path: "/dev".into(),
        kind: FileKind::Dir,
        rights: vec![FsRight::ReadDir],
        origin: "dev".into(),
    });
    // The jail's own devpts instance (mounted `newinstance`, /dev/ptmx -> pts/ptmx): opening
    // ptmx and the pseudo-terminals it makes, and the terminal ioctls on them, so `script`,
    // `expect` or Python's `pty` work. No host terminal is reachable by a path beneath it.
    out.push(LandlockRule {
        path: "/dev/pts".into(),
        kind: FileKind::Dir,
        rights: DEVICE.to_vec(),
        origin: "devpts (private instance)".into(),
    });
    out
}

/// Whether the ruleset handles network rights. Only in host mode: with `none`/`loopback` the
/// private network namespace is the wall, and handling TCP there with no port rules would
/// break a tool's own server on its private `lo`, which those modes promise works.
pub fn handles_net(policy: &Policy) -> bool {
    policy.network.mode == NetMode::Host || policy.isolation.mode == IsolationMode::Landlock
}

/// TCP port rules (host mode only), one per port, ports ascending.
pub fn port_rules(policy: &Policy) -> Vec<PortRule> {
    if policy.network.mode != NetMode::Host {
        return Vec::new();
    }
    let mut ports: BTreeMap<u16, Vec<NetRight>> = BTreeMap::new();
    for &p in &policy.network.tcp_bind {
        ports.entry(p).or_default().push(NetRight::BindTcp);
    }
    for &p in &policy.network.tcp_connect {
        ports.entry(p).or_default().push(NetRight::ConnectTcp);
    }
    ports
        .into_iter()
        .map(|(port, mut rights)| {
            rights.sort();
            rights.dedup();
            PortRule { port, rights }
        })
        .collect()
}

/// The scopes the Policy turns on.
pub fn scopes(policy: &Policy) -> Vec<ScopeRight> {
    let mut out = Vec::new();
    if policy.landlock.scope_abstract_unix {
        out.push(ScopeRight::AbstractUnixSocket);
    }
    if policy.landlock.scope_signals {
        out.push(ScopeRight::Signal);
    }
    out
}

/// The rules of `isolation = "landlock"`, where Landlock is the only filesystem wall and paths
/// are host paths (a bind's target is its source: resolution refuses any other): the binds, the
/// scratch (a fresh host directory, see `crate::isolation`), the devices as single files, and
/// /proc read-only. No listing from `/` (it would show the host's tree), no /tmp, /dev/shm,
/// /dev or /dev/pts (they would be the host's).
fn rules_on_host(policy: &Policy) -> Vec<LandlockRule> {
    let fs = &policy.filesystem;
    let mut out = Vec::new();
    for bind in &fs.binds {
        let access = match bind.access {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        };
        out.push(LandlockRule {
            path: bind.source.clone(),
            kind: bind.kind,
            rights: path_rights(bind.access, bind.kind, bind.exec),
            origin: format!("path {access} ({})", bind.origin),
        });
    }
    out.push(LandlockRule {
        path: fs.scratch.path.clone(),
        kind: FileKind::Dir,
        rights: path_rights(Access::ReadWrite, FileKind::Dir, fs.scratch.exec),
        origin: "scratch (a host directory)".into(),
    });
    out.extend(device_rules(&fs.devices));
    out.push(LandlockRule {
        path: "/proc".into(),
        kind: FileKind::Dir,
        rights: READ_DIR.to_vec(),
        origin: "proc (the host's, read-only)".into(),
    });
    out
}

/// Everything `tooljail explain` shows about Landlock, from the same functions the restrict
/// step uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockPlan {
    pub mode: Compat,
    pub required_abi: u32,
    pub paths: Vec<LandlockRule>,
    /// Whether TCP rights are handled (host mode); when true, ports not listed are denied.
    pub handles_net: bool,
    pub ports: Vec<PortRule>,
    pub scopes: Vec<ScopeRight>,
}

pub fn plan(policy: &Policy) -> LandlockPlan {
    LandlockPlan {
        mode: policy.landlock.mode,
        required_abi: required_abi(policy),
        paths: rules(policy),
        handles_net: handles_net(policy),
        ports: port_rules(policy),
        scopes: scopes(policy),
    }
}

impl LandlockPlan {
    /// The rights and scopes the rules grant or turn on that a kernel with Landlock ABI `abi`
    /// does not know, with the ABI each needs, in order: granted in the rules but enforced
    /// nowhere on that kernel (a right the kernel does not know is neither handled nor denied).
    pub fn beyond_abi(&self, abi: u32) -> Vec<(&'static str, u32)> {
        let mut out: Vec<(&'static str, u32)> = Vec::new();
        let fs = self
            .paths
            .iter()
            .flat_map(|r| &r.rights)
            .map(|r| (r.name(), r.abi()));
        let net = self
            .ports
            .iter()
            .flat_map(|p| &p.rights)
            .map(|r| (r.name(), r.abi()));
        let scopes = self.scopes.iter().map(|s| (s.name(), s.abi()));
        for (name, needs) in fs.chain(net).chain(scopes) {
            if needs > abi && !out.iter().any(|(n, _)| *n == name) {
                out.push((name, needs));
            }
        }
        out
    }
}

impl fmt::Display for LandlockPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Compat::Required => "required",
            Compat::BestEffort => "best-effort",
        };
        writeln!(
            f,
            "landlock: mode {mode}, needs ABI {}; every right below is denied except where granted",
            self.required_abi
        )?;
        for rule in &self.paths {
            writeln!(f, "  {rule}")?;
        }
        if self.handles_net {
            if self.ports.is_empty() {
                writeln!(f, "  tcp: no port may be bound or connected to")?;
            }
            for port in &self.ports {
                writeln!(f, "  tcp {port}")?;
            }
        } else {
            writeln!(
                f,
                "  tcp: not handled (the private network namespace isolates)"
            )?;
        }
        let scopes: Vec<&str> = self.scopes.iter().map(|s| s.name()).collect();
        if scopes.is_empty() {
            writeln!(f, "  scopes: none")
        } else {
            writeln!(f, "  scopes: {}", scopes.join(","))
        }
    }
}

/// One rule per device node the Policy lists: the device rights (ioctl included) on exactly
/// those files, in both isolation modes.
fn device_rules(devices: &[PathBuf]) -> impl Iterator<Item = LandlockRule> + '_ {
    devices.iter().map(|dev| LandlockRule {
        path: dev.clone(),
        kind: FileKind::File,
        rights: DEVICE.to_vec(),
        origin: "device".into(),
    })
}

#[cfg(test)]
mod tests;
