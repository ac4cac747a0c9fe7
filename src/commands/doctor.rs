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

mod host;
mod profiles;

use crate::cli::DoctorArgs;
use crate::error::Result;
use crate::preflight::features::Feature;
use crate::preflight::probe::{self, CgroupV2, Ia32, IoUring, Kernel, Seccomp, UserNamespaces};
use crate::preflight::{self, linux_for_abi, namespaces, LandlockSupport};
use profiles::{profile_finding, reachable_profiles, verdict, NeutralCwd, ProfileFinding};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

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
    let (landlock, landlock_check) = host::landlock(support);
    let userns = probe::user_namespaces();
    let seccomp = probe::seccomp();
    let (ia32, ia32_detail) = probe::ia32_emulation();
    let io_uring = probe::io_uring();
    let cgroup = probe::cgroup_v2();
    let memfd_noexec_seal = probe::memfd_noexec_seal();
    let cgroup_host = crate::cgroup::host_parent();

    let mut checks = vec![landlock_check];
    let (ns, ns_checks) = host::namespaces();
    checks.extend(ns_checks);
    checks.push(host::seccomp(&seccomp));
    checks.push(host::ia32(&ia32, &ia32_detail));
    checks.push(host::io_uring(&io_uring));
    checks.push(host::memfd(memfd_noexec_seal));
    checks.push(host::cgroup(&cgroup_host, &cgroup));
    checks.push(host::limits_path());
    checks.push(host::jail_uid());
    checks.push(host::id_maps());
    checks.push(host::idmap());

    let neutral = NeutralCwd::neutral();
    let base_ok = ns.usable && seccomp.filter_usable;
    let cgroup_ok = cgroup_host.is_ok();
    let profiles: Vec<ProfileFinding> = reachable_profiles()
        .into_iter()
        .map(|(name, origin, arg)| {
            profile_finding(&neutral, name, origin, &arg, support, base_ok, cgroup_ok)
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
    checks.push(host::gpu());

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
        profiles_resolved_in: neutral.cwd,
        profiles,
    }
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
