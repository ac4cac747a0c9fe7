//! `tooljail doctor`: what this kernel and host offer, what each missing piece costs, and
//! whether the default profile can be enforced in full. Every probe is read-only.
//!
//! Exit status: 0 when the default profile can be enforced in full, 1 when it cannot (the
//! report says what is missing). A run of doctor itself does not fail otherwise.

use crate::cli::DoctorArgs;
use crate::error::Result;
use crate::jail::landlock::{crate_abi, required_abi, Feature};
use crate::preflight::probe::{self, CgroupV2, Ia32, IoUring, Kernel, Seccomp, UserNamespaces};
use crate::preflight::{self, linux_for_abi, LandlockSupport};
use serde::Serialize;
use std::fmt::Write as _;

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
struct Ia32Findings {
    state: Ia32,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Findings {
    kernel: Kernel,
    landlock: LandlockFindings,
    user_namespaces: UserNamespaces,
    seccomp: Seccomp,
    ia32_emulation: Ia32Findings,
    io_uring: IoUring,
    cgroup_v2: CgroupV2,
    /// One line per check, as the table shows them.
    checks: Vec<Check>,
    /// Whether the default profile can be enforced in full on this host.
    default_profile_enforceable: bool,
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

    let show = |v: Option<u64>| v.map_or("absent".to_string(), |v| v.to_string());
    checks.push(Check {
        name: "user namespaces".into(),
        status: if userns.unprivileged_allowed {
            Status::Ok
        } else {
            Status::Missing
        },
        detail: match &userns.blocker {
            None => format!(
                "unprivileged allowed (user.max_user_namespaces={}, kernel.unprivileged_userns_clone={}, kernel.apparmor_restrict_unprivileged_userns={})",
                show(userns.max_user_namespaces),
                show(userns.unprivileged_userns_clone),
                show(userns.apparmor_restrict_unprivileged_userns)
            ),
            Some(b) => format!("unprivileged blocked by {b}: tooljail cannot build a jail (it runs unprivileged even as root)"),
        },
    });

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

    let (status, detail) = match &cgroup.mount {
        None => (
            Status::Warn,
            "no cgroup2 mount: memory and process limits fall back to rlimits".to_string(),
        ),
        Some(m) => {
            let controllers = if cgroup.controllers.is_empty() {
                "none".to_string()
            } else {
                cgroup.controllers.join(" ")
            };
            let cg = cgroup.cgroup.as_deref().unwrap_or("?");
            let mut d = format!(
                "mounted at {}, cgroup {cg}, controllers: {controllers}",
                m.display()
            );
            let usable = cgroup.writable
                && ["memory", "pids"]
                    .iter()
                    .all(|c| cgroup.controllers.iter().any(|x| x == c));
            if cgroup.writable {
                d.push_str(", subtree writable (delegated)");
            } else {
                d.push_str(", subtree not writable by this user");
            }
            let missing: Vec<&str> = ["memory", "pids"]
                .into_iter()
                .filter(|c| !cgroup.controllers.iter().any(|x| x == c))
                .collect();
            if !missing.is_empty() {
                let _ = write!(d, ", no {} controller", missing.join("/"));
            }
            if !usable {
                d.push_str(": memory and process limits fall back to rlimits");
            }
            (if usable { Status::Ok } else { Status::Warn }, d)
        }
    };
    checks.push(Check {
        name: "cgroup v2".into(),
        status,
        detail,
    });

    let default = crate::profile::policy_from_args(&Default::default());
    let default_profile_enforceable = match &default {
        Ok(policy) => {
            let ll = preflight::landlock_with(policy, support);
            let ok = matches!(&ll, Ok(r) if r.not_enforced.is_empty())
                && userns.unprivileged_allowed
                && seccomp.filter_usable;
            checks.push(Check {
                name: format!("profile {}", policy.name()),
                status: if ok { Status::Ok } else { Status::Missing },
                detail: match ll {
                    Ok(_) if ok => format!(
                        "enforceable in full (needs Landlock ABI {})",
                        required_abi(policy)
                    ),
                    Ok(_) => "not enforceable: see the MISSING lines above".into(),
                    Err(e) => e.to_string(),
                },
            });
            ok
        }
        Err(e) => {
            checks.push(Check {
                name: "profile default".into(),
                status: Status::Missing,
                detail: e.to_string(),
            });
            false
        }
    };

    Findings {
        kernel: probe::kernel(),
        landlock,
        user_namespaces: userns,
        seccomp,
        ia32_emulation: Ia32Findings {
            state: ia32,
            detail: ia32_detail,
        },
        io_uring,
        cgroup_v2: cgroup,
        checks,
        default_profile_enforceable,
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
    out
}
