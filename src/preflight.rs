//! Preflight: what the running kernel offers, compared with what the Policy needs, in the
//! supervisor before clone. A missing feature the Policy requires is an error that names the
//! feature, what the kernel has, and the fix (exit 125); nothing is started.
//!
//! Landlock is checked here. Other layers add their own checks to [`PreflightReport`].
//! The read-only host probes that `tooljail doctor` shows live in [`probe`].

pub mod features;
pub mod namespaces;
pub mod probe;

use crate::error::{Error, Result};
use crate::policy::{Compat, Policy};
use features::{required_abi, unenforced, Feature, Unenforced};
use serde::{Deserialize, Serialize};

/// Whether and how the running kernel offers Landlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "value")]
pub enum LandlockSupport {
    /// Landlock works; the value is the kernel's ABI version.
    Available(u32),
    /// Built in but not enabled at boot (the probe fails with EOPNOTSUPP).
    Disabled,
    /// Not built into this kernel (ENOSYS).
    NotBuilt,
    /// The probe failed with another errno: something (an outer sandbox's seccomp filter, say)
    /// blocks the Landlock syscalls.
    Blocked(i32),
}

impl LandlockSupport {
    pub fn abi(self) -> Option<u32> {
        match self {
            LandlockSupport::Available(abi) => Some(abi),
            _ => None,
        }
    }
}

/// The test-only knob that makes tooljail believe the kernel's Landlock ABI is lower than it is
/// (`0`: Landlock disabled). Read only in debug builds (`cfg(debug_assertions)`): a release
/// binary does not contain this code, and no profile or flag can set it.
#[cfg(debug_assertions)]
pub const FAKE_ABI_ENV: &str = "TOOLJAIL_TEST_FAKE_LANDLOCK_ABI";

/// Probes the running kernel's Landlock support (landlock_create_ruleset(2) with
/// LANDLOCK_CREATE_RULESET_VERSION). Read-only and cheap.
pub fn landlock_support() -> LandlockSupport {
    let real = real_landlock_support();
    #[cfg(debug_assertions)]
    if let Some(fake) = std::env::var_os(FAKE_ABI_ENV) {
        return fake_support(real, &fake.to_string_lossy());
    }
    real
}

/// The kernel's answer, ignoring the test knob.
pub fn real_landlock_support() -> LandlockSupport {
    match crate::sys::landlock::abi_version() {
        Ok(abi) => LandlockSupport::Available(abi),
        Err(libc::EOPNOTSUPP) => LandlockSupport::Disabled,
        Err(libc::ENOSYS) => LandlockSupport::NotBuilt,
        Err(errno) => LandlockSupport::Blocked(errno),
    }
}

/// The knob can only take features away: a fake ABI above the real one is the real one, and
/// an unreadable value is treated as a blocked probe (fail closed).
#[cfg(debug_assertions)]
fn fake_support(real: LandlockSupport, fake: &str) -> LandlockSupport {
    match (fake.trim().parse::<u32>(), real) {
        (Ok(0), _) => LandlockSupport::Disabled,
        (Ok(fake), LandlockSupport::Available(abi)) => LandlockSupport::Available(fake.min(abi)),
        (Ok(_), real) => real,
        (Err(_), _) => LandlockSupport::Blocked(libc::EINVAL),
    }
}

/// The running kernel's Landlock ABI, `None` when Landlock is unavailable.
pub fn kernel_abi() -> Option<u32> {
    landlock_support().abi()
}

/// The first Linux release with each Landlock ABI, for hints.
pub fn linux_for_abi(abi: u32) -> &'static str {
    match abi {
        0 | 1 => "5.13",
        2 => "5.19",
        3 => "6.2",
        4 => "6.7",
        5 => "6.10",
        6 => "6.12",
        7 => "6.15",
        8 => "7.0",
        9 => "7.1",
        _ => "7.2",
    }
}

/// What preflight found about Landlock, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LandlockReport {
    pub mode: Compat,
    pub support: LandlockSupport,
    /// The kernel's ABI, `None` when Landlock is unavailable.
    pub kernel_abi: Option<u32>,
    /// The lowest ABI that enforces the whole Policy.
    pub required_abi: u32,
    /// Needed features this kernel does not enforce (only ever non-empty in best-effort mode).
    pub not_enforced: Vec<Unenforced>,
}

impl LandlockReport {
    /// One line for stderr when best-effort mode runs with less than the Policy asks.
    pub fn warning(&self) -> Option<String> {
        if self.not_enforced.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.not_enforced.iter().map(|u| u.feature.name()).collect();
        let have = match self.kernel_abi {
            Some(abi) => format!("kernel Landlock ABI {abi}"),
            None => "no Landlock on this kernel".into(),
        };
        Some(format!(
            "landlock best-effort: not enforced ({have}, the profile needs ABI {}): {}",
            self.required_abi,
            names.join(", ")
        ))
    }
}

/// Everything preflight checked. Other layers add fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreflightReport {
    pub landlock: LandlockReport,
}

/// Runs every preflight check against the running kernel. Called by the supervisor before
/// clone; an error means nothing may start (exit 125).
pub fn preflight(policy: &Policy) -> Result<PreflightReport> {
    Ok(PreflightReport {
        landlock: landlock(policy)?,
    })
}

/// The Landlock preflight against the running kernel (see [`landlock_with`]).
pub fn landlock(policy: &Policy) -> Result<LandlockReport> {
    landlock_with(policy, landlock_support())
}

/// The Landlock preflight against a given kernel: in required mode, any needed feature the
/// kernel lacks is an error (kind Preflight); in best-effort mode the report lists them.
/// The restrict step in the jail calls this too, so both sides decide alike.
pub fn landlock_with(policy: &Policy, support: LandlockSupport) -> Result<LandlockReport> {
    let kernel_abi = support.abi();
    let report = LandlockReport {
        mode: policy.landlock.mode,
        support,
        kernel_abi,
        required_abi: required_abi(policy),
        not_enforced: unenforced(policy, kernel_abi),
    };
    // Without namespaces Landlock is the only filesystem and TCP wall: best-effort would let
    // the command run with no wall at all, so that mode always requires it in full.
    let best_effort = policy.landlock.mode == Compat::BestEffort
        && policy.isolation.mode != crate::policy::IsolationMode::Landlock;
    if best_effort || report.not_enforced.is_empty() {
        return Ok(report);
    }
    let mut e = required_error(policy, &report);
    if policy.isolation.mode == crate::policy::IsolationMode::Landlock {
        e.hint = format!(
            "isolation \"landlock\" relies on Landlock alone, so [landlock] mode = \"best-effort\" does not apply; use Linux {} or newer, or the full jail",
            linux_for_abi(report.required_abi)
        );
    }
    Err(e)
}

const BEST_EFFORT: &str =
    "set mode = \"best-effort\" in [landlock] to run with what this kernel enforces";

fn required_error(policy: &Policy, report: &LandlockReport) -> Error {
    let profile = policy.name();
    let need = report.required_abi;
    match report.support {
        LandlockSupport::Available(have) => {
            let missing: Vec<&str> = report
                .not_enforced
                .iter()
                .map(|u| u.feature.name())
                .collect();
            Error::preflight(
                "landlock",
                format!(
                    "profile \"{profile}\" needs Landlock ABI {need} ({}), this kernel has ABI {have}",
                    missing.join(", ")
                ),
            )
            .with_hint(format!(
                "use Linux {} or newer, or {BEST_EFFORT}",
                linux_for_abi(need)
            ))
        }
        LandlockSupport::Disabled => Error::preflight(
            "landlock",
            format!(
                "profile \"{profile}\" needs Landlock ABI {need}, which this kernel has but did not enable at boot"
            ),
        )
        .with_hint(format!(
            "add landlock to the lsm= boot parameter (the current list is in /sys/kernel/security/lsm), or {BEST_EFFORT}"
        )),
        LandlockSupport::NotBuilt => Error::preflight(
            "landlock",
            format!("profile \"{profile}\" needs Landlock ABI {need}, which this kernel is built without"),
        )
        .with_hint(format!(
            "use a kernel with CONFIG_SECURITY_LANDLOCK=y and landlock in lsm=, or {BEST_EFFORT}"
        )),
        LandlockSupport::Blocked(errno) => {
            let mut e = Error::preflight(
                "landlock",
                format!(
                    "profile \"{profile}\" needs Landlock ABI {need}, but probing it failed: {}",
                    std::io::Error::from_raw_os_error(errno)
                ),
            )
            .with_hint(format!(
                "an outer sandbox's seccomp filter may block landlock_create_ruleset; allow it there, or {BEST_EFFORT}"
            ));
            e.errno = Some(errno);
            e
        }
    }
}

/// The features a kernel with this ABI lacks, for `doctor`: every [`Feature`] above it.
pub fn missing_features(abi: Option<u32>) -> Vec<Feature> {
    let have = abi.unwrap_or(0);
    Feature::ALL
        .into_iter()
        .filter(|f| f.abi() > have)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn policy(mode: Compat) -> Policy {
        let mut p = crate::profile::policy_from_args(&Default::default()).unwrap();
        p.landlock.mode = mode;
        p
    }

    #[test]
    fn required_and_too_old_is_a_preflight_error_naming_both_abis_and_the_fix() {
        let e =
            landlock_with(&policy(Compat::Required), LandlockSupport::Available(4)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Preflight);
        assert_eq!(e.exit_code(), 125);
        let line = e.to_string();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("landlock: profile \"default\" needs Landlock ABI 6 (ioctl-dev, scope-abstract-unix, scope-signals), this kernel has ABI 4; "), "{line}");
        assert!(line.contains("Linux 6.12 or newer"), "{line}");
        assert!(
            line.contains("mode = \"best-effort\" in [landlock]"),
            "{line}"
        );
    }

    #[test]
    fn landlock_missing_says_how_to_enable_it() {
        for (support, needle) in [
            (LandlockSupport::Disabled, "lsm="),
            (LandlockSupport::NotBuilt, "CONFIG_SECURITY_LANDLOCK"),
            (LandlockSupport::Blocked(libc::EPERM), "seccomp"),
        ] {
            let e = landlock_with(&policy(Compat::Required), support).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Preflight);
            assert!(e.hint.contains(needle), "{e}");
            assert!(e.hint.contains("best-effort"), "{e}");
        }
    }

    #[test]
    fn new_enough_kernel_passes_with_nothing_unenforced() {
        for abi in [6, 7, 12] {
            let r =
                landlock_with(&policy(Compat::Required), LandlockSupport::Available(abi)).unwrap();
            assert!(r.not_enforced.is_empty());
            assert_eq!(r.required_abi, 6);
            assert_eq!(r.warning(), None);
        }
    }

    #[test]
    fn best_effort_runs_and_lists_exactly_what_is_missing() {
        let r = landlock_with(&policy(Compat::BestEffort), LandlockSupport::Available(3)).unwrap();
        let names: Vec<_> = r.not_enforced.iter().map(|u| u.feature).collect();
        assert_eq!(
            names,
            [
                Feature::IoctlDev,
                Feature::ScopeAbstractUnix,
                Feature::ScopeSignals
            ]
        );
        let w = r.warning().unwrap();
        assert!(w.contains("kernel Landlock ABI 3"), "{w}");
        assert!(
            w.contains("ioctl-dev, scope-abstract-unix, scope-signals"),
            "{w}"
        );

        let r = landlock_with(&policy(Compat::BestEffort), LandlockSupport::Disabled).unwrap();
        assert_eq!(r.not_enforced[0].feature, Feature::Filesystem);
        assert!(r.warning().unwrap().contains("no Landlock"));
    }

    #[cfg(debug_assertions)]
    #[test]
    fn fake_abi_only_lowers() {
        let real = LandlockSupport::Available(7);
        assert_eq!(fake_support(real, "3"), LandlockSupport::Available(3));
        assert_eq!(fake_support(real, "9"), LandlockSupport::Available(7));
        assert_eq!(fake_support(real, "0"), LandlockSupport::Disabled);
        assert_eq!(
            fake_support(LandlockSupport::NotBuilt, "5"),
            LandlockSupport::NotBuilt
        );
        assert_eq!(
            fake_support(real, "seven"),
            LandlockSupport::Blocked(libc::EINVAL)
        );
    }

    #[test]
    fn missing_features_by_abi() {
        assert_eq!(missing_features(Some(7)), []);
        assert_eq!(
            missing_features(Some(5)),
            [Feature::ScopeAbstractUnix, Feature::ScopeSignals]
        );
        assert_eq!(missing_features(None).len(), Feature::ALL.len());
    }
}
