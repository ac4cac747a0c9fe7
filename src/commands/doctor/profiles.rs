//! The profiles' verdicts: each profile `-p NAME` can reach, resolved as `run` would resolve it
//! (from a neutral working directory) and checked against what this host offers.

use crate::cli::PolicyArgs;
use crate::host::{Host, RealHost};
use crate::plan::limits::{self, Mechanism};
use crate::policy::resolve::Options;
use crate::policy::{Compat, FileKind, NetMode, Policy};
use crate::preflight::features::required_abi;
use crate::preflight::{self, LandlockSupport};
use crate::profile::search::{list, search_dirs, toml_files};
use serde::Serialize;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// Whether one profile can be enforced in full on this host, and how its limits are enforced.
#[derive(Debug, Serialize)]
pub(super) struct ProfileFinding {
    pub(super) name: String,
    /// `builtin` or the file's path.
    pub(super) origin: String,
    /// Resolved, preflight passed, every Landlock feature it needs is enforced, and its cgroup
    /// requirement (if any) can be met.
    pub(super) enforceable: bool,
    /// The lowest Landlock ABI that enforces the whole profile (when it resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) required_landlock_abi: Option<u32>,
    /// How each limit is enforced here (when it resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) limits: Option<limits::LimitPlan>,
    /// Limits that fall back to rlimits here because no jail cgroup can be made.
    pub(super) rlimit_fallback: Vec<&'static str>,
    /// Why it cannot be enforced in full (empty when it can).
    pub(super) problems: Vec<String>,
    /// What holds but is worth knowing (host network).
    pub(super) notes: Vec<String>,
}

/// The real host, except that `${CWD}` is a neutral directory: the system temporary directory
/// (never `/` or HOME, which `${CWD}` profiles refuse). Nothing is created.
pub(super) struct NeutralCwd {
    pub(super) cwd: PathBuf,
}

impl NeutralCwd {
    pub(super) fn neutral() -> NeutralCwd {
        let tmp = std::env::temp_dir();
        NeutralCwd {
            cwd: std::fs::canonicalize(&tmp).unwrap_or(tmp),
        }
    }
}

impl Host for NeutralCwd {
    fn env(&self, key: &str) -> Option<String> {
        RealHost.env(key)
    }
    fn cwd(&self) -> io::Result<PathBuf> {
        Ok(self.cwd.clone())
    }
    fn uid(&self) -> u32 {
        RealHost.uid()
    }
    fn gid(&self) -> u32 {
        RealHost.gid()
    }
    fn home(&self) -> Option<PathBuf> {
        RealHost.home()
    }
    fn account_home(&self) -> Option<PathBuf> {
        RealHost.account_home()
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        RealHost.canonicalize(path)
    }
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        RealHost.kind(path)
    }
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        RealHost.read_to_string(path)
    }
    fn owner_and_mode(&self, path: &Path) -> io::Result<(u32, u32)> {
        RealHost.owner_and_mode(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        RealHost.list_dir(path)
    }
}

/// `(name, origin, argument for -p)` of every profile `-p NAME` can reach: files on the search
/// path, then the built-ins, leaving out those a file of the same name hides.
pub(super) fn reachable_profiles() -> Vec<(String, String, String)> {
    let dirs = search_dirs(&RealHost);
    let found = list(&RealHost, &dirs, |d| toml_files(d));
    found
        .into_iter()
        .filter(|f| !f.shadowed)
        .map(|f| {
            let arg = if f.origin == "builtin" {
                format!("builtin:{}", f.name)
            } else {
                f.origin.clone()
            };
            (f.name, f.origin, arg)
        })
        .collect()
}

/// Resolve profile `arg` as `run -p arg` would (from the neutral directory) and say whether
/// everything it asks for can be enforced here. `base_ok`: user namespaces and seccomp work;
/// `cgroup_ok`: jail cgroups can be created.
pub(super) fn profile_finding(
    host: &NeutralCwd,
    name: String,
    origin: String,
    arg: &str,
    support: LandlockSupport,
    base_ok: bool,
    cgroup_ok: bool,
) -> ProfileFinding {
    let mut f = ProfileFinding {
        name,
        origin,
        enforceable: false,
        required_landlock_abi: None,
        limits: None,
        rlimit_fallback: Vec::new(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let args = PolicyArgs {
        profiles: vec![arg.to_string()],
        ..PolicyArgs::default()
    };
    let policy: Policy = match crate::profile::resolve_args(host, &args, Options::default()) {
        Ok(p) => p,
        Err(errors) => {
            f.problems
                .extend(errors.iter().map(|e| format!("does not resolve here: {e}")));
            return f;
        }
    };
    if !base_ok {
        f.problems
            .push("no jail can be built here (see namespaces / seccomp above; `--isolation landlock` runs without namespaces)".into());
    }
    f.required_landlock_abi = Some(required_abi(&policy));
    match preflight::landlock_with(&policy, support) {
        Ok(r) if r.not_enforced.is_empty() => {}
        Ok(r) => {
            let names: Vec<&str> = r.not_enforced.iter().map(|u| u.feature.name()).collect();
            debug_assert_eq!(policy.landlock.mode, Compat::BestEffort);
            f.problems.push(format!(
                "best-effort Landlock: would run without {} (needs ABI {})",
                names.join(", "),
                r.required_abi
            ));
        }
        Err(e) => f.problems.push(e.to_string()),
    }
    let plan = limits::plan(&policy.limits, cgroup_ok);
    if policy.limits.require_cgroup && !cgroup_ok {
        f.problems.push(
            "require_cgroup = true, but no delegated cgroup v2 subtree with memory and pids is available (see cgroup v2 above)"
                .into(),
        );
    } else {
        // Shown once in the cgroup v2 line; per profile only in --json (`rlimit_fallback`).
        f.rlimit_fallback = [(plan.memory, "memory"), (plan.processes, "processes")]
            .into_iter()
            .filter(|(m, _)| *m == Mechanism::Rlimit)
            .map(|(_, what)| what)
            .collect();
    }
    if policy.network.mode == NetMode::Host {
        let ports: Vec<String> = policy
            .network
            .tcp_connect
            .iter()
            .map(u16::to_string)
            .collect();
        f.notes.push(format!(
            "host network: TCP connect to {} only (Landlock); UDP is not filtered",
            if ports.is_empty() {
                "no port".to_string()
            } else {
                ports.join(", ")
            }
        ));
    }
    f.limits = Some(plan);
    f.enforceable = f.problems.is_empty();
    f
}

/// The one-line verdict for a profile.
pub(super) fn verdict(p: &ProfileFinding) -> String {
    if !p.enforceable {
        return p.problems.join("; ");
    }
    let mut v = match p.required_landlock_abi {
        Some(abi) => format!("enforceable in full (needs Landlock ABI {abi})"),
        None => "enforceable in full".into(),
    };
    for n in &p.notes {
        let _ = write!(v, "; {n}");
    }
    v
}
