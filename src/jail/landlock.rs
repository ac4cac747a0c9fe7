//! Landlock, the second independent wall: applied in the command process after
//! PR_SET_NO_NEW_PRIVS and before the seccomp filter, so that even if the mount namespace leaked
//! a path, the command could not use it beyond what the Policy grants.
//!
//! The ruleset handles every access right the running kernel's ABI knows (capped at what the
//! `landlock` crate knows), so a right added by a newer kernel is denied unless a rule grants it;
//! the rules are the plan's ([`crate::plan::landlock`]), which `explain` shows. The crate runs
//! in `HardRequirement` mode and is asked only for what this kernel offers: any degradation was
//! decided by preflight, before clone, and is reported; this step does not decide again.

use crate::error::{Error, Result};
use crate::plan::landlock::{FsRight, LandlockPlan, NetRight, ScopeRight};
use crate::policy::{Compat, FileKind};
use crate::preflight::features::{crate_abi, Unenforced};
use crate::preflight::{LandlockReport, LandlockSupport};
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};
use serde::Serialize;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// What the restrict step enforced, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockStatus {
    /// Whether a Landlock domain now confines the process.
    pub enforced: bool,
    pub mode: Compat,
    /// The kernel's ABI (as tooljail sees it), `None` when Landlock is unavailable.
    pub kernel_abi: Option<u32>,
    /// Filesystem rights denied everywhere except where a rule grants them.
    pub handled_fs: Vec<FsRight>,
    /// Network rights denied except on the listed ports (empty outside host mode).
    pub handled_net: Vec<NetRight>,
    /// Scopes in force.
    pub scopes: Vec<ScopeRight>,
    /// Number of path rules and port rules added.
    pub path_rules: usize,
    pub port_rules: usize,
    /// Needed features this kernel does not enforce (best-effort mode only).
    pub not_enforced: Vec<Unenforced>,
    /// Set when the kernel's ABI is newer than this build knows: rights it added are not
    /// handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_newer_than_build: Option<u32>,
}

const STEP: &str = "landlock";

/// Applies the planned Landlock ruleset to the calling thread and everything it later starts.
/// Call it in the command process, single-threaded, after PR_SET_NO_NEW_PRIVS, after pivot_root
/// (rule paths are inside paths, opened here), before the seccomp filter. `preflight` is what
/// the supervisor found before clone ([`crate::preflight::landlock`]): required mode never gets
/// here without full support, and best-effort enforces what it found.
///
/// Never returns Ok with less than the status says: a kernel that answers less than preflight
/// saw, or enforces the ruleset only partly, is an error (kind Setup).
pub fn restrict(plan: &LandlockPlan, preflight: &LandlockReport) -> Result<LandlockStatus> {
    let support = preflight.support;
    // The support preflight saw may only be lower than the kernel's (the test knob lowers it);
    // claiming more would make the status lie about what is enforced.
    let real = crate::sys::landlock::abi_version().ok();
    if support.abi() > real {
        return Err(Error::setup(
            STEP,
            format!("preflight saw Landlock {support:?} but the kernel answers ABI {real:?}"),
        )
        .with_hint("the kernel changed between preflight and the jail; run again"));
    }
    let kernel_abi = match support {
        LandlockSupport::Available(abi) => abi,
        // Only best-effort gets here (preflight refused required mode).
        _ => {
            return Ok(LandlockStatus {
                enforced: false,
                mode: plan.mode,
                kernel_abi: None,
                handled_fs: vec![],
                handled_net: vec![],
                scopes: vec![],
                path_rules: 0,
                port_rules: 0,
                not_enforced: preflight.not_enforced.clone(),
                kernel_newer_than_build: None,
            })
        }
    };
    let abi = ABI::from(i32::try_from(kernel_abi.min(crate_abi())).unwrap_or(i32::MAX));

    let fs = AccessFs::from_all(abi);
    let net = if plan.handles_net {
        AccessNet::from_all(abi)
    } else {
        BitFlags::EMPTY
    };
    let scope: BitFlags<Scope> = plan
        .scopes
        .iter()
        .fold(BitFlags::EMPTY, |s, r| s | r.access())
        & Scope::from_all(abi);

    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(fs)
        .map_err(ruleset_error)?;
    if !net.is_empty() {
        ruleset = ruleset.handle_access(net).map_err(ruleset_error)?;
    }
    if !scope.is_empty() {
        ruleset = ruleset.scope(scope).map_err(ruleset_error)?;
    }
    let mut created = ruleset.create().map_err(ruleset_error)?;

    for rule in &plan.paths {
        let access = rule.access() & fs;
        if access.is_empty() {
            continue;
        }
        let fd = open_rule_path(&rule.path, rule.kind)?;
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(ruleset_error)?;
    }
    for port in &plan.ports {
        let access = port.access() & net;
        if access.is_empty() {
            continue;
        }
        created = created
            .add_rule(NetPort::new(port.port, access))
            .map_err(ruleset_error)?;
    }

    let status = created.restrict_self().map_err(ruleset_error)?;
    // We asked only for what this kernel offers, in HardRequirement mode: anything but full
    // enforcement means the kernel or crate disagree with us, so fail closed in both modes.
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(Error::setup(
            STEP,
            format!(
                "the kernel enforced the Landlock ruleset only {:?} (ABI {kernel_abi})",
                status.ruleset
            ),
        )
        .with_hint("report this as a tooljail bug, with the output of `tooljail doctor`"));
    }
    if !status.no_new_privs {
        return Err(Error::setup(
            STEP,
            "no_new_privs is not set, so the Landlock domain could be escaped through a setuid binary",
        )
        .with_hint("report this as a tooljail bug"));
    }
    Ok(LandlockStatus {
        enforced: true,
        mode: plan.mode,
        kernel_abi: Some(kernel_abi),
        handled_fs: FsRight::from_flags(fs),
        handled_net: NetRight::from_flags(net),
        scopes: ScopeRight::from_flags(scope),
        path_rules: plan.paths.len(),
        port_rules: plan.ports.len(),
        not_enforced: preflight.not_enforced.clone(),
        kernel_newer_than_build: (kernel_abi > crate_abi()).then_some(kernel_abi),
    })
}

/// Opens a rule's path with O_PATH (no read access needed, nothing triggered) and checks it is
/// the kind the Policy says: a file rule on a directory would silently widen to its tree, a
/// directory rule on a file would carry rights the kernel rejects.
///
/// A directory rule's path is opened with O_DIRECTORY, which is the check itself (ENOTDIR on
/// anything else); a file rule's path is asked with fstat.
fn open_rule_path(path: &Path, kind: FileKind) -> Result<std::fs::File> {
    let step = || format!("landlock rule {}", path.display());
    let mismatch = |found: &str| {
        Error::setup(
            step(),
            format!("the Policy says {kind:?} but the path is {found}"),
        )
        .with_hint("the path changed since the profile was resolved; run again")
    };
    let directory = if kind == FileKind::Dir {
        libc::O_DIRECTORY
    } else {
        0
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC | directory)
        .open(path)
        .map_err(|e| {
            // ENOTDIR: the path, or a directory on the way to it, is not a directory.
            if e.raw_os_error() == Some(libc::ENOTDIR) && kind == FileKind::Dir {
                return mismatch("not a directory");
            }
            Error::setup(step(), &e).with_hint(
                "the path is in the Policy but cannot be opened inside the jail; check the profile",
            )
        })?;
    if kind == FileKind::File
        && file
            .metadata()
            .map_err(|e| Error::setup(step(), &e))?
            .is_dir()
    {
        return Err(mismatch("a Dir"));
    }
    Ok(file)
}

/// A crate error as a Setup error, keeping the errno when there is one.
fn ruleset_error(e: RulesetError) -> Error {
    let mut errno = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            errno = io.raw_os_error();
            break;
        }
        source = s.source();
    }
    let mut err = Error::setup(STEP, e.to_string())
        .with_hint("the Landlock ruleset could not be built; run `tooljail doctor`");
    err.errno = errno;
    err.retryable = matches!(errno, Some(libc::ENOMEM | libc::EMFILE | libc::ENFILE));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_path_of_the_other_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(open_rule_path(dir.path(), FileKind::Dir).is_ok());
        assert!(open_rule_path(&file, FileKind::File).is_ok());
        let e = open_rule_path(&file, FileKind::Dir).unwrap_err();
        assert!(e.message.contains("says Dir but the path is not a"), "{e}");
        let e = open_rule_path(&file.join("below"), FileKind::Dir).unwrap_err();
        assert!(e.message.contains("says Dir but the path is not a"), "{e}");
        let e = open_rule_path(dir.path(), FileKind::File).unwrap_err();
        assert!(e.message.contains("says File but the path is a Dir"), "{e}");
        let e = open_rule_path(&dir.path().join("missing"), FileKind::Dir).unwrap_err();
        assert_eq!(e.errno, Some(libc::ENOENT), "{e}");
    }
}
