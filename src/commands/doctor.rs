//! `tooljail doctor`: what this kernel and host offer, what each missing piece costs, and
//! whether each profile (on the search path and built in) can be enforced in full here. Doctor
//! reads /proc and /sys, asks Landlock its ABI and reads profiles, and tries the one thing
//! reading cannot answer: a throw-away child makes the jail's namespaces (as `nobody` when
//! started as root, as a jail does) and exits at once, so a container's seccomp filter is seen
//! for what it is ([`crate::preflight::namespaces`]). It leaves nothing (no namespace outlives
//! the child, no cgroup, no file).
//!
//! Each profile is resolved as `run` would resolve it, against the real host but from a neutral
//! working directory (the system temporary directory), because profiles that expose `${CWD}`
//! refuse `/` and HOME and doctor is often started from one of those. Then preflight runs on it,
//! its `require_cgroup` is compared with what [`crate::cgroup::host_parent`] finds, and
//! [`crate::plan::limits::plan`] says which of its limits fall back to rlimits.
//!
//! Exit status: 0 when the default profile can be enforced in full, 1 when it cannot (the
//! report says what is missing). Other profiles' verdicts are in the output (and `--json`)
//! without changing the status. A run of doctor itself does not fail otherwise.

use crate::cli::{DoctorArgs, PolicyArgs};
use crate::error::Result;
use crate::host::{Host, RealHost};
use crate::plan::limits::{self, Mechanism};
use crate::policy::resolve::Options;
use crate::policy::{Compat, FileKind, NetMode, Policy};
use crate::preflight::features::{crate_abi, required_abi, Feature};
use crate::preflight::probe::{self, CgroupV2, Ia32, IoUring, Kernel, Seccomp, UserNamespaces};
use crate::preflight::{self, linux_for_abi, namespaces, LandlockSupport};
use crate::profile::search::{list, search_dirs, toml_files};
use serde::Serialize;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    Ok,
    Warn,
    Missing,
    Info,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "MISSING",
            Status::Info => "info",
        }
    }
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    status: Status,
    detail: String,
}

#[derive(Debug, Serialize)]
struct LandlockFeature {
    feature: Feature,
    abi: u32,
    available: bool,
    /// What is lost without it (present only when unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct LandlockFindings {
    support: LandlockSupport,
    abi: Option<u32>,
    /// The highest ABI this build of tooljail knows.
    build_abi: u32,
    features: Vec<LandlockFeature>,
}

#[derive(Debug, Serialize)]
struct NamespaceFindings {
    /// Whether the jail's clone3 and the command's nested user namespace both worked.
    usable: bool,
    /// The errnos, when tried (`None` when the trying child could not be made).
    tried: Option<namespaces::Tried>,
    /// What refused them, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<namespaces::Cause>,
    facts: namespaces::HostFacts,
}

#[derive(Debug, Serialize)]
struct Ia32Findings {
    state: Ia32,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Findings {
    kernel: Kernel,
    landlock: LandlockFindings,
    user_namespaces: UserNamespaces,
    /// The jail's namespaces, tried in a throw-away child (not read from sysctls), and why
    /// they were refused.
    namespaces: NamespaceFindings,
    seccomp: Seccomp,
    ia32_emulation: Ia32Findings,
    io_uring: IoUring,
    /// `memfd_create` accepts `MFD_NOEXEC_SEAL` (Linux 6.3), which the `memfd-exec` rule needs.
    memfd_noexec_seal: bool,
    cgroup_v2: CgroupV2,
    /// One line per check, as the table shows them.
    checks: Vec<Check>,
    /// Whether jail cgroups (memory and pids controllers) can be created here, and where.
    cgroup_parent: Option<PathBuf>,
    /// Why not, when they cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup_unavailable: Option<String>,
    /// Whether the default profile can be enforced in full on this host.
    default_profile_enforceable: bool,
    /// The working directory the profiles were resolved from (`${CWD}`).
    profiles_resolved_in: PathBuf,
    /// Every profile `-p NAME` can reach (shadowed files left out), in search order.
    profiles: Vec<ProfileFinding>,
}

/// Whether one profile can be enforced in full on this host, and how its limits are enforced.
#[derive(Debug, Serialize)]
struct ProfileFinding {
    name: String,
    /// `builtin` or the file's path.
    origin: String,
    /// Resolved, preflight passed, every Landlock feature it needs is enforced, and its cgroup
    /// requirement (if any) can be met.
    enforceable: bool,
    /// The lowest Landlock ABI that enforces the whole profile (when it resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    required_landlock_abi: Option<u32>,
    /// How each limit is enforced here (when it resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<limits::LimitPlan>,
    /// Limits that fall back to rlimits here because no jail cgroup can be made.
    rlimit_fallback: Vec<&'static str>,
    /// Why it cannot be enforced in full (empty when it can).
    problems: Vec<String>,
    /// What holds but is worth knowing (host network).
    notes: Vec<String>,
}

pub fn doctor(args: &DoctorArgs) -> Result<i32> {
    let findings = gather();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&findings).expect("findings serialize")
        );
    } else {
        print!("{}", render(&findings));
    }
    Ok(if findings.default_profile_enforceable {
        0
    } else {
        1
    })
}

fn gather() -> Findings {
    let support = preflight::landlock_support();
    let abi = support.abi();
    let landlock = LandlockFindings {
        support,
        abi,
        build_abi: crate_abi(),
        features: Feature::ALL
            .into_iter()
            .map(|feature| {
                let available = abi.is_some_and(|a| a >= feature.abi());
                LandlockFeature {
                    feature,
                    abi: feature.abi(),
                    available,
                    cost: (!available).then(|| feature.cost()),
                }
            })
            .collect(),
    };
    let userns = probe::user_namespaces();
    let seccomp = probe::seccomp();
    let (ia32, ia32_detail) = probe::ia32_emulation();
    let io_uring = probe::io_uring();
    let cgroup = probe::cgroup_v2();
    let mut checks = Vec::new();

    let (status, detail) = match support {
        LandlockSupport::Available(a) if a > crate_abi() => (
            Status::Warn,
            format!(
                "ABI {a}, newer than this build knows ({}): rights added after ABI {} are not handled; upgrade tooljail",
                crate_abi(),
                crate_abi()
            ),
        ),
        LandlockSupport::Available(a) => {
            let missing: Vec<&str> = preflight::missing_features(Some(a))
                .into_iter()
                .map(Feature::name)
                .collect();
            if missing.is_empty() {
                (Status::Ok, format!("ABI {a}: every feature tooljail uses"))
            } else {
                (
                    Status::Warn,
                    format!("ABI {a}: lacks {} (see below)", missing.join(", ")),
                )
            }
        }
        LandlockSupport::Disabled => (
            Status::Missing,
            "built in but not enabled: add landlock to the lsm= boot parameter".into(),
        ),
        LandlockSupport::NotBuilt => (
            Status::Missing,
            "not built into this kernel (CONFIG_SECURITY_LANDLOCK)".into(),
        ),
        LandlockSupport::Blocked(e) => (
            Status::Missing,
            format!(
                "probe failed: {} (an outer sandbox's seccomp filter?)",
                std::io::Error::from_raw_os_error(e)
            ),
        ),
    };
    checks.push(Check {
        name: "landlock".into(),
        status,
        detail,
    });

    // Tried, not read: a container's seccomp filter refuses namespaces while every sysctl says
    // they are allowed.
    let facts = namespaces::host_facts();
    let tried = namespaces::try_namespaces().ok();
    let errno = match tried {
        Some(t) => t.errno(),
        None => Some(libc::ECHILD),
    };
    let (cause, why) = match errno {
        Some(errno) => {
            let (cause, text) = namespaces::diagnose(errno, &facts);
            (Some(cause), Some((errno, text)))
        }
        None => (None, None),
    };
    let ns = NamespaceFindings {
        usable: why.is_none(),
        tried,
        cause,
        facts,
    };
    checks.push(Check {
        name: "user namespaces".into(),
        status: if ns.usable {
            Status::Ok
        } else {
            Status::Missing
        },
        detail: match &why {
            None => "tried: the jail's user, mount, pid, net, ipc, uts and cgroup namespaces were created (as the jail user)".into(),
            Some((errno, text)) => format!(
                "tried: refused ({}): {text}",
                std::io::Error::from_raw_os_error(*errno)
            ),
        },
    });
    if let Some(sign) = &ns.facts.container {
        checks.push(Check {
            name: "container".into(),
            status: Status::Info,
            detail: format!(
                "{sign}; seccomp filters on this process: {}",
                ns.facts.seccomp_filters.unwrap_or(0)
            ),
        });
    }

    checks.push(Check {
        name: "seccomp".into(),
        status: if seccomp.filter_usable {
            Status::Ok
        } else {
            Status::Missing
        },
        detail: match &seccomp.actions {
            Some(a) => format!("filter actions: {}", a.join(" ")),
            None => "no seccomp filter support (kernel.seccomp.actions_avail absent)".into(),
        },
    });

    checks.push(Check {
        name: "ia32 emulation".into(),
        status: Status::Info,
        detail: match ia32 {
            Ia32::On => {
                format!("on ({ia32_detail}); the seccomp filter must refuse the i386 syscall ABI")
            }
            Ia32::Off => format!("off ({ia32_detail})"),
            Ia32::NotApplicable => ia32_detail.clone(),
        },
    });

    checks.push(Check {
        name: "io_uring".into(),
        status: Status::Info,
        detail: match io_uring.io_uring_disabled {
            Some(0) => {
                "enabled (kernel.io_uring_disabled=0); the seccomp filter must deny io_uring_setup"
                    .into()
            }
            Some(1) => "restricted to kernel.io_uring_group (kernel.io_uring_disabled=1)".into(),
            Some(n) => format!("disabled (kernel.io_uring_disabled={n})"),
            None => "kernel.io_uring_disabled absent (kernel before 6.6): assume enabled".into(),
        },
    });

    let memfd_noexec_seal = probe::memfd_noexec_seal();
    checks.push(Check {
        name: "memfd".into(),
        status: if memfd_noexec_seal {
            Status::Ok
        } else {
            Status::Warn
        },
        detail: if memfd_noexec_seal {
            "MFD_NOEXEC_SEAL supported: every memfd in a jail is sealed non-executable".into()
        } else {
            "MFD_NOEXEC_SEAL unknown (kernel before 6.3): memfd_create fails in jails \
             (EACCES) unless a profile lifts unsafe_allow \"memfd-exec\", which makes \
             memfds executable"
                .into()
        },
    });

    let cgroup_host = crate::cgroup::host_parent();
    // The verdict is the one jail creation uses (crate::cgroup::host_parent): a parent cgroup
    // that enables memory and pids for its children and that this user may write.
    let (status, detail) = match &cgroup_host {
        Ok(parent) => (
            Status::Ok,
            format!(
                "delegated: jail cgroups go below {} (memory.max, pids.max per jail)",
                parent.display()
            ),
        ),
        Err(crate::cgroup::Unavailable(why)) => {
            let mut d = format!("not usable: {why}");
            if let Some(cg) = &cgroup.cgroup {
                let _ = write!(d, " (this process is in cgroup {cg})");
            }
            d.push_str(
                "; memory falls back to RLIMIT_DATA with an RLIMIT_AS backstop (per process, not per jail; SysV shared memory is not bounded) and processes to RLIMIT_NPROC (per jail user namespace)",
            );
            (Status::Warn, d)
        }
    };
    checks.push(Check {
        name: "cgroup v2".into(),
        status,
        detail,
    });
    // Which of the two ways a run by this caller enforces memory and processes: the verdict
    // `run` itself takes (crate::cgroup::for_run), root's jails never using a cgroup.
    let path = match crate::cgroup::for_run(nix::unistd::geteuid().is_root()) {
        Ok(parent) => format!(
            "a run here takes the cgroup path: a jail cgroup below {} (memory.max, pids.max)",
            parent.display()
        ),
        Err(crate::cgroup::Unavailable(why)) => {
            format!("a run here takes the rlimit path (RLIMIT_DATA, RLIMIT_NPROC): {why}")
        }
    };
    checks.push(Check {
        name: "limits path".into(),
        status: Status::Info,
        detail: path,
    });

    checks.push(jail_uid_check());
    checks.push(idmap_check());

    let host = NeutralCwd::neutral();
    let base_ok = ns.usable && seccomp.filter_usable;
    let cgroup_ok = cgroup_host.is_ok();
    let profiles: Vec<ProfileFinding> = reachable_profiles()
        .into_iter()
        .map(|(name, origin, arg)| {
            profile_finding(&host, name, origin, &arg, support, base_ok, cgroup_ok)
        })
        .collect();
    let default_profile_enforceable = profiles
        .iter()
        .find(|p| p.name == "default")
        .is_some_and(|p| p.enforceable);
    if let Some(d) = profiles.iter().find(|p| p.name == "default") {
        checks.push(Check {
            name: "profile default".into(),
            status: if d.enforceable {
                Status::Ok
            } else {
                Status::Missing
            },
            detail: verdict(d),
        });
    }
    // The GPU device nodes `--gpu` would give a jail.
    let gpus = crate::policy::resolve::gpu_nodes(&RealHost);
    checks.push(Check {
        name: "gpu".into(),
        status: Status::Info,
        detail: if gpus.is_empty() {
            format!(
                "no GPU device node (looked for {}): --gpu refuses to run here",
                crate::policy::resolve::gpu_places()
            )
        } else {
            let names: Vec<String> = gpus.iter().map(|p| p.display().to_string()).collect();
            format!("--gpu gives the jail {}", names.join(", "))
        },
    });

    Findings {
        kernel: probe::kernel(),
        landlock,
        user_namespaces: userns,
        namespaces: ns,
        seccomp,
        ia32_emulation: Ia32Findings {
            state: ia32,
            detail: ia32_detail,
        },
        io_uring,
        memfd_noexec_seal,
        cgroup_v2: cgroup,
        checks,
        cgroup_parent: cgroup_host.as_ref().ok().cloned(),
        cgroup_unavailable: cgroup_host.err().map(|u| u.0),
        default_profile_enforceable,
        profiles_resolved_in: host.cwd,
        profiles,
    }
}

/// The real host, except that `${CWD}` is a neutral directory: the system temporary directory
/// (never `/` or HOME, which `${CWD}` profiles refuse). Nothing is created.
struct NeutralCwd {
    cwd: PathBuf,
}

impl NeutralCwd {
    fn neutral() -> NeutralCwd {
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
/// Root's jails take transient uids: from which range, and whether this user namespace maps it.
fn jail_uid_check() -> Check {
    use crate::supervisor::transient::{describe, UidRange, RANGE_VAR};
    if !nix::unistd::getuid().is_root() {
        return Check {
            name: "jail uid".into(),
            status: Status::Info,
            detail: "started by you, the jail runs as you; started as root, each call takes a \
                     transient uid of its own"
                .into(),
        };
    }
    match UidRange::configured() {
        Ok(range) => {
            let detail = describe(range);
            Check {
                name: "jail uid".into(),
                status: if detail.contains("NOT mapped") {
                    Status::Missing
                } else {
                    Status::Ok
                },
                detail: format!("transient, one per call, from {detail}; {RANGE_VAR} sets it"),
            }
        }
        Err(e) => Check {
            name: "jail uid".into(),
            status: Status::Missing,
            detail: e.to_string(),
        },
    }
}

/// Which mounted file systems can hold a `--rw` directory of root's (idmapped binds).
fn idmap_check() -> Check {
    let name = "idmapped binds".to_string();
    if !nix::unistd::getuid().is_root() {
        return Check {
            name,
            status: Status::Info,
            detail: "not used: an unprivileged caller's jail writes its --rw directories as the \
                     caller"
                .into(),
        };
    }
    match crate::supervisor::idmap::probe_mounts() {
        Ok(found) => {
            let list = |ok: bool| {
                found
                    .iter()
                    .filter(|f| f.2 == ok)
                    .map(|(t, p, _)| format!("{t} ({p})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (yes, no) = (list(true), list(false));
            Check {
                name,
                status: if yes.is_empty() {
                    Status::Warn
                } else {
                    Status::Ok
                },
                detail: format!(
                    "--rw of another owner's directory works on: {}; fails closed on: {}",
                    if yes.is_empty() { "none" } else { &yes },
                    if no.is_empty() { "none" } else { &no }
                ),
            }
        }
        Err(e) => Check {
            name,
            status: Status::Warn,
            detail: format!("could not be tried: {e}"),
        },
    }
}

fn reachable_profiles() -> Vec<(String, String, String)> {
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
fn profile_finding(
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
fn verdict(p: &ProfileFinding) -> String {
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

fn render(f: &Findings) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tooljail doctor: Linux {} {}\n",
        f.kernel.release, f.kernel.arch
    );
    let width = f.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &f.checks {
        let _ = writeln!(
            out,
            "  {:width$}  {:7}  {}",
            c.name,
            c.status.word(),
            c.detail
        );
    }
    let _ = writeln!(out, "\nLandlock features (ABI: first Linux release):");
    for feat in &f.landlock.features {
        let have = if feat.available { "yes" } else { "NO " };
        let _ = write!(
            out,
            "  ABI {} ({:>4}+)  {:20} {have}",
            feat.abi,
            linux_for_abi(feat.abi),
            feat.feature.name()
        );
        match feat.cost {
            Some(cost) => {
                let _ = writeln!(out, "  without it: {cost}");
            }
            None => out.push('\n'),
        }
    }
    let _ = writeln!(
        out,
        "\nProfiles (resolved with ${{CWD}} = {}):",
        f.profiles_resolved_in.display()
    );
    let width = f.profiles.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &f.profiles {
        let status = if p.enforceable {
            Status::Ok
        } else {
            Status::Missing
        };
        let origin = if p.origin == "builtin" {
            String::new()
        } else {
            format!(" [{}]", p.origin)
        };
        let _ = writeln!(
            out,
            "  {:width$}  {:7}  {}{origin}",
            p.name,
            status.word(),
            verdict(p)
        );
    }
    out
}
