//! What a Policy asks of Landlock, as kernel features with the ABI that brought each, and what
//! a kernel with a given ABI cannot enforce. Pure data: preflight compares it with the running
//! kernel, `doctor` lists it, the plan records the lowest ABI.

use crate::policy::{IsolationMode, NetMode, Policy};
use serde::Serialize;

/// The highest Landlock ABI the `landlock` crate in this build knows: rights a newer kernel
/// adds are not handled by this build.
pub fn crate_abi() -> u32 {
    landlock::ABI::from(i32::MAX) as u32
}

/// What a Policy can ask of Landlock, each with the ABI that brought it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Path rules: read, write, execute, make, remove.
    Filesystem,
    /// Granting rename/link across directories in read-write paths.
    Refer,
    /// Checking truncate(2), ftruncate(2) and O_TRUNC.
    Truncate,
    /// TCP bind/connect limited to listed ports (host network mode).
    TcpPorts,
    /// ioctl(2) on device files limited to the listed devices.
    IoctlDev,
    /// No connecting to abstract unix sockets outside the domain.
    ScopeAbstractUnix,
    /// No signals to processes outside the domain.
    ScopeSignals,
}

impl Feature {
    pub const ALL: [Feature; 7] = [
        Feature::Filesystem,
        Feature::Refer,
        Feature::Truncate,
        Feature::TcpPorts,
        Feature::IoctlDev,
        Feature::ScopeAbstractUnix,
        Feature::ScopeSignals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Filesystem => "filesystem",
            Feature::Refer => "refer",
            Feature::Truncate => "truncate",
            Feature::TcpPorts => "tcp-ports",
            Feature::IoctlDev => "ioctl-dev",
            Feature::ScopeAbstractUnix => "scope-abstract-unix",
            Feature::ScopeSignals => "scope-signals",
        }
    }

    pub fn abi(self) -> u32 {
        match self {
            Feature::Filesystem => 1,
            Feature::Refer => 2,
            Feature::Truncate => 3,
            Feature::TcpPorts => 4,
            Feature::IoctlDev => 5,
            Feature::ScopeAbstractUnix | Feature::ScopeSignals => 6,
        }
    }

    /// What is lost when the kernel cannot enforce this feature.
    pub fn cost(self) -> &'static str {
        match self {
            Feature::Filesystem => "no Landlock path rules at all: only the mount namespace hides the host",
            Feature::Refer => "renaming or linking across directories fails with EXDEV, even in read-write paths",
            Feature::Truncate => "truncate(2) and O_TRUNC are not checked: any file the command can reach and DAC allows may be truncated",
            Feature::TcpPorts => "TCP bind and connect are not limited to the listed ports",
            Feature::IoctlDev => "ioctl(2) on device files is not limited to the listed devices",
            Feature::ScopeAbstractUnix => "the command can connect to abstract unix sockets outside the jail",
            Feature::ScopeSignals => "the command can signal processes outside the jail that DAC lets it signal",
        }
    }
}

/// The features a Policy needs for Landlock to enforce it on its own, independent of the mount
/// namespace (the first wall):
/// - filesystem, refer and truncate always: every Policy has read-only paths (whose files must
///   not be truncatable, which Landlock checks only from ABI 3) and a read-write scratch (where
///   tools rename across directories, which ABI 1 always refuses);
/// - tcp-ports in host network mode (with no ports listed, none are allowed), and in
///   `isolation = "landlock"` whatever the network mode (no network namespace isolates then);
/// - ioctl-dev when the Policy lists devices: they are the only device nodes the jail opens
///   (binds are mounted nodev), and ioctl must stay confined to them;
/// - each scope the Policy turns on.
pub fn required_features(policy: &Policy) -> Vec<Feature> {
    let mut out = vec![Feature::Filesystem, Feature::Refer, Feature::Truncate];
    if policy.network.mode == NetMode::Host || policy.isolation.mode == IsolationMode::Landlock {
        out.push(Feature::TcpPorts);
    }
    if !policy.filesystem.devices.is_empty() {
        out.push(Feature::IoctlDev);
    }
    if policy.landlock.scope_abstract_unix {
        out.push(Feature::ScopeAbstractUnix);
    }
    if policy.landlock.scope_signals {
        out.push(Feature::ScopeSignals);
    }
    out
}

/// The lowest Landlock ABI that enforces everything the Policy asks (see
/// [`required_features`]).
pub fn required_abi(policy: &Policy) -> u32 {
    required_features(policy)
        .into_iter()
        .map(Feature::abi)
        .max()
        .unwrap_or(1)
}

/// A feature the Policy needs that the kernel does not enforce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unenforced {
    pub feature: Feature,
    /// The Landlock ABI that would enforce it.
    pub needs_abi: u32,
    /// What is lost without it.
    pub effect: &'static str,
}

/// The needed features a kernel with Landlock ABI `kernel_abi` (`None`: no Landlock) cannot
/// enforce. Empty means the Policy is enforced in full.
pub fn unenforced(policy: &Policy, kernel_abi: Option<u32>) -> Vec<Unenforced> {
    let have = kernel_abi.unwrap_or(0);
    required_features(policy)
        .into_iter()
        .filter(|f| f.abi() > have)
        .map(|feature| Unenforced {
            feature,
            needs_abi: feature.abi(),
            effect: feature.cost(),
        })
        .collect()
}
