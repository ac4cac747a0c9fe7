//! Stage `preflight`: the kernel features the Policy needs, and whether a cgroup or rlimits will
//! enforce its limits. Nothing is built yet. Report: warnings (weaker isolation than asked, in
//! best-effort mode, is said before the command runs).

use super::resolve::Resolved;
use super::Call;
use crate::cgroup::Unavailable;
use crate::error::{Error, Result};
use crate::preflight::PreflightReport;
use std::path::PathBuf;

/// What the kernel offers for this Policy.
pub struct Checked {
    pub resolved: Resolved,
    pub preflight: PreflightReport,
    /// The delegated cgroup v2 parent for the jail's cgroup, or why there is none (then memory
    /// and processes fall back to rlimits).
    pub cgroup: std::result::Result<PathBuf, Unavailable>,
}

pub fn preflight(call: &mut Call<'_>, resolved: Resolved) -> Result<Checked> {
    let policy = &resolved.policy;
    let preflight =
        tracing::debug_span!("preflight").in_scope(|| crate::preflight::preflight(policy))?;
    if let Some(w) = preflight.landlock.warning() {
        crate::shown::warn(&w);
        call.report.warnings.push(w);
    }
    // cgroup v2 when this caller has a delegated subtree, else rlimits; a profile that requires
    // cgroups fails here, before anything runs.
    let cgroup =
        crate::cgroup::for_run(nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root());
    if let (true, Err(why)) = (policy.limits.require_cgroup, &cgroup) {
        return Err(Error::preflight(
            "[limits] require_cgroup",
            format!("cgroup v2 is required but unusable: {why}"),
        )
        .with_hint(crate::cgroup::FIX));
    }
    Ok(Checked {
        resolved,
        preflight,
        cgroup,
    })
}
