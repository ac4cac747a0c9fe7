//! The host's checks: what this kernel and host offer, each one line of doctor's table (and
//! its findings in `--json`).

use super::{Check, LandlockFeature, LandlockFindings, NamespaceFindings, Status};
use crate::host::RealHost;
use crate::preflight::features::{crate_abi, Feature};
use crate::preflight::probe::{CgroupV2, Ia32, IoUring, Seccomp};
use crate::preflight::{self, namespaces, LandlockSupport};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Landlock: its ABI here against what tooljail uses and knows.
pub(super) fn landlock(support: LandlockSupport) -> (LandlockFindings, Check) {
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
    (
        landlock,
        Check {
            name: "landlock".into(),
            status,
            detail,
        },
    )
}

/// The jail's namespaces, tried in a throw-away child; and whether this is a container.
pub(super) fn namespaces() -> (NamespaceFindings, Vec<Check>) {
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
    let mut checks = vec![Check {
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
    }];
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
    (ns, checks)
}

pub(super) fn seccomp(seccomp: &Seccomp) -> Check {
    Check {
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
    }
}

pub(super) fn ia32(ia32: &Ia32, ia32_detail: &str) -> Check {
    Check {
        name: "ia32 emulation".into(),
        status: Status::Info,
        detail: match ia32 {
            Ia32::On => {
                format!("on ({ia32_detail}); the seccomp filter must refuse the i386 syscall ABI")
            }
            Ia32::Off => format!("off ({ia32_detail})"),
            Ia32::NotApplicable => ia32_detail.to_string(),
        },
    }
}

pub(super) fn io_uring(io_uring: &IoUring) -> Check {
    Check {
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
    }
}

pub(super) fn memfd(memfd_noexec_seal: bool) -> Check {
    Check {
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
    }
}

/// Whether jail cgroups can be made here (`cgroup_host`: where, or why not).
pub(super) fn cgroup(
    cgroup_host: &Result<PathBuf, crate::cgroup::Unavailable>,
    cgroup: &CgroupV2,
) -> Check {
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
    Check {
        name: "cgroup v2".into(),
        status,
        detail,
    }
}

pub(super) fn limits_path() -> Check {
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
    Check {
        name: "limits path".into(),
        status: Status::Info,
        detail: path,
    }
}

pub(super) fn gpu() -> Check {
    // The GPU device nodes `--gpu` would give a jail.
    let gpus = crate::policy::resolve::gpu_nodes(&RealHost);
    Check {
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
    }
}

/// Root's jails take transient uids: from which range, and whether this user namespace maps it.
pub(super) fn jail_uid() -> Check {
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

/// Root's jails get their id maps from the supervisor, with the capabilities it keeps for that
/// alone (supervisor::identity::MapsCap): CAP_DAC_OVERRIDE, and CAP_SYS_PTRACE where /proc
/// hides other tasks (`hidepid`).
pub(super) fn id_maps() -> Check {
    let name = "id maps".to_string();
    if !nix::unistd::getuid().is_root() {
        return Check {
            name,
            status: Status::Info,
            detail: "started by you, the supervisor writes its jail's maps as you (its clone is \
                     dumpable for that moment)"
                .into(),
        };
    }
    let held = caps::read(None, caps::CapSet::Permitted).unwrap_or_default();
    let dac = held.contains(&caps::Capability::CAP_DAC_OVERRIDE);
    let ptrace = held.contains(&caps::Capability::CAP_SYS_PTRACE);
    let hidepid = proc_hidepid();
    let (status, detail) = match (dac, &hidepid, ptrace) {
        (false, _, _) => (
            Status::Missing,
            "CAP_DAC_OVERRIDE is not held: root's jails cannot write their id maps (a \
             non-dumpable pid 1's /proc files are root's); give tooljail that capability"
                .to_string(),
        ),
        (true, Some(h), false) => (
            Status::Missing,
            format!(
                "/proc is mounted with hidepid={h} and CAP_SYS_PTRACE is not held: a \
                 non-dumpable pid 1 is invisible there, so root's jails cannot write their id \
                 maps; give tooljail CAP_SYS_PTRACE, or mount /proc without hidepid"
            ),
        ),
        (true, Some(h), true) => (
            Status::Ok,
            format!(
                "written by the supervisor with CAP_DAC_OVERRIDE and CAP_SYS_PTRACE (/proc is \
                 mounted with hidepid={h}), dropped before the jail runs"
            ),
        ),
        (true, None, _) => (
            Status::Ok,
            "written by the supervisor with CAP_DAC_OVERRIDE, dropped before the jail runs"
                .to_string(),
        ),
    };
    Check {
        name,
        status,
        detail,
    }
}

/// The `hidepid=` of the /proc this process sees, when it hides other tasks.
fn proc_hidepid() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // The last mount at /proc is the one on top.
    let line = mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/proc"))?;
    let (_, fs) = line.split_once(" - ")?;
    let options = fs.split(' ').nth(2)?;
    options
        .split(',')
        .find_map(|o| o.strip_prefix("hidepid="))
        .filter(|v| !matches!(*v, "0" | "off"))
        .map(str::to_string)
}

/// Which mounted file systems can hold a `--rw` directory of root's (idmapped binds).
pub(super) fn idmap() -> Check {
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
