//! `tooljail learn`: a learning run's record -> the tightest profile that lets the command do
//! what it did. A stage after the run: it reads the report's `observed` section (what the
//! supervisor recorded, `supervisor::learning`), the resources the run used, and the resolved
//! parent profile, and writes TOML. Pure but for the `Host` it asks what exists; the command
//! (`commands/learn.rs`) runs the jail and writes the file.
//!
//! What it writes (docs/writing-profiles.md):
//! - `extends` the learning base's parent (the hardened profile the base itself builds on);
//! - binds for what the parent does not give: read-only unless written, executable only where
//!   something was executed or mapped executable, folded into a directory only where the run
//!   needed the directory (listed it, made or removed entries in it) or every entry in it
//!   ([`paths`]);
//! - secret-looking paths never, even when used: they are returned as warnings;
//! - the parent's syscall list replaced by `@default`, the groups the run used in full and
//!   the other calls by name ([`syscalls`]);
//! - the network mode and TCP ports of the connects seen, never beyond the learning base's mode
//!   (an outside connect the base refused is a comment and a warning only);
//! - limits at [`HEADROOM`] times the peak seen, with floors;
//! - a comment on every line saying what the run did that needs it.

pub mod paths;
pub mod render;
pub mod syscalls;

use crate::host::Host;
use crate::policy::Policy;
use crate::report::Report;
use paths::PathRule;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The factor between the peak a run showed and the limit written for it.
pub const HEADROOM: u64 = 2;
/// The factor for CPU and wall time (a loaded machine is slower than the learning run's).
pub const TIME_HEADROOM: u64 = 4;
/// The smallest limits written, whatever the run showed.
pub const MIN_MEMORY: u64 = 64 << 20;
pub const MIN_PROCESSES: u64 = 16;
pub const MIN_SECONDS: u64 = 10;

/// A learned profile, as data: what [`render`] writes and [`render::parse`] reads back, so
/// runs can be merged ([`Learned::merge`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    /// The commands learned from, one per run.
    pub commands: Vec<String>,
    pub extends: Vec<String>,
    /// `cwd = "${CWD}"`: the command worked in the caller's directory.
    pub cwd: bool,
    /// Each bind as the profile spells it (`${CWD}/...` for the caller's directory).
    pub paths: BTreeMap<String, PathRule>,
    /// The parent's `[syscalls] allow` entries, removed (`"!@system-service"`).
    pub remove: Vec<String>,
    pub groups: BTreeMap<String, String>,
    pub syscalls: BTreeMap<String, String>,
    /// `host` or `loopback` with why; `None`: the parent's (no connect seen).
    pub network: Option<(String, String)>,
    pub tcp_connect: BTreeMap<u16, String>,
    /// Limits: key -> (value in bytes, seconds or a count; why).
    pub limits: BTreeMap<String, (u64, String)>,
    /// Secret-looking paths the run used and the profile leaves out.
    pub secrets: Vec<String>,
    /// Outside addresses the run tried to connect to that the learning base's network mode
    /// refuses (so each attempt failed): written as a comment and a warning, never as access.
    pub tried: Vec<String>,
}

/// What [`learn`] needs besides the report.
pub struct Context<'a> {
    /// The caller's directory on the host (`${CWD}`).
    pub cwd: &'a Path,
    /// The learning base's parent, resolved: what the profile extends.
    pub parent: &'a Policy,
    /// Its names, as `extends` writes them.
    pub extends: Vec<String>,
    /// The parent's merged `[syscalls] allow` entries as written.
    pub parent_allow: Vec<String>,
    /// The learning base's binds: what the run could see (nothing outside them and the caller's
    /// directory is bound, nothing is folded above them).
    pub roots: Vec<std::path::PathBuf>,
    /// The learning base's network mode: a learned profile never reaches further (a connect
    /// the base refused failed, and proves nothing about what the tool needs).
    pub base_network: crate::policy::NetMode,
}

/// The profile a learning run's `report` asks for. `None` when the report has no record (the
/// run was not a learning run, or failed before the command started).
pub fn learn(host: &dyn Host, report: &Report, cx: &Context<'_>) -> Option<Learned> {
    let observed = report.observed.as_ref()?;
    let mut secrets = BTreeSet::new();
    let rules = paths::rules(
        host,
        &observed.paths,
        cx.parent,
        cx.cwd,
        &cx.roots,
        &mut secrets,
    );
    let mut l = Learned {
        // The command line too names no secret: a path argument that looks like one is hidden.
        commands: vec![report
            .argv
            .iter()
            .map(|a| match paths::is_secret(Path::new(a)) {
                true => "(a secret-looking path)",
                false => a.as_str(),
            })
            .collect::<Vec<_>>()
            .join(" ")],
        extends: cx.extends.clone(),
        remove: cx.parent_allow.iter().map(|e| format!("!{e}")).collect(),
        ..Learned::default()
    };
    let spell = |p: &Path| spell(cx.cwd, p);
    for (p, r) in rules {
        l.paths.insert(spell(&p), r);
    }
    // The command starts in the caller's directory when it used its working directory (a
    // relative path, getcwd) and anything there: a directory tooljail can start it in must be
    // bound. Not when a secret-looking file lies there, used or not (a `.env`, `.aws/` the
    // run never opened is still readable through a bind of the whole directory): the
    // directory is then not bound whole, only the entries the run used are, and the command
    // starts in the scratch (it must name files by absolute path). A profile cannot start a
    // command in a directory it does not bind, and binding it would give the secrets.
    let secret_here = || {
        secrets.iter().any(|s| s.starts_with(cx.cwd)) || paths::holds_secret(host, cx.cwd).is_some()
    };
    if observed.cwd_used && l.paths.keys().any(|k| k.starts_with("${CWD}")) && !secret_here() {
        l.cwd = true;
        l.paths.entry("${CWD}".into()).or_insert(PathRule {
            write: false,
            exec: false,
            why: "the command works here (relative paths, getcwd) and used files below it".into(),
        });
        l.fold_covered();
    }
    l.secrets = secrets.iter().map(|p| spell(p)).collect();
    let allowed: BTreeSet<String> = cx.parent.syscalls.allow.iter().cloned().collect();
    (l.groups, l.syscalls) = syscalls::choose(&observed.syscalls, &allowed);
    network(&mut l, &observed.connects, cx.base_network);
    limits(&mut l, report, observed.threads);
    Some(l)
}

/// A path as the profile writes it: `${CWD}` for the caller's directory, `$$` for a `$`.
fn spell(cwd: &Path, p: &Path) -> String {
    let escaped = |s: &str| s.replace('$', "$$");
    match p.strip_prefix(cwd) {
        Ok(rest) if rest.as_os_str().is_empty() => "${CWD}".into(),
        Ok(rest) => format!("${{CWD}}/{}", escaped(&rest.to_string_lossy())),
        Err(_) => escaped(&p.to_string_lossy()),
    }
}

/// The network mode and ports of the connects seen. Loopback connects work in every mode's
/// namespace; an outside connect is learned only when the learning base runs on the host's
/// network (else it failed: it is kept in `tried`, a comment and a warning, and the profile
/// stays at the parent's mode).
fn network(l: &mut Learned, connects: &BTreeSet<String>, base: crate::policy::NetMode) {
    let addrs: Vec<std::net::SocketAddr> = connects.iter().filter_map(|c| c.parse().ok()).collect();
    if addrs.is_empty() {
        return;
    }
    let outside: Vec<&std::net::SocketAddr> =
        addrs.iter().filter(|a| !is_loopback(&a.ip())).collect();
    let list = |v: &[&std::net::SocketAddr]| {
        v.iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if base != crate::policy::NetMode::Host {
        l.tried = outside.iter().map(|a| a.to_string()).collect();
        let inside: Vec<&std::net::SocketAddr> =
            addrs.iter().filter(|a| is_loopback(&a.ip())).collect();
        if !inside.is_empty() {
            l.network = Some(("loopback".into(), format!("connected to {}", list(&inside))));
        }
        return;
    }
    if outside.is_empty() {
        let all: Vec<&std::net::SocketAddr> = addrs.iter().collect();
        l.network = Some(("loopback".into(), format!("connected to {}", list(&all))));
        return;
    }
    l.network = Some(("host".into(), format!("connected to {}", list(&outside))));
    for a in outside {
        l.tcp_connect
            .entry(a.port())
            .or_insert_with(|| format!("connected to {a}"));
    }
}

fn is_loopback(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(a) => a.is_loopback(),
        std::net::IpAddr::V6(a) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback())
        }
    }
}

/// Limits at [`HEADROOM`] (memory, processes) or [`TIME_HEADROOM`] (CPU, wall time) over the
/// peak, never below the floors.
fn limits(l: &mut Learned, report: &Report, threads: u64) {
    let r = &report.resources;
    let (peak, how) = match r.memory_peak_bytes {
        Some(b) => (b, "the jail's peak (cgroup memory.peak)"),
        None => (
            r.max_rss_kib.saturating_mul(1024),
            "the largest process's peak (ru_maxrss)",
        ),
    };
    let memory = round_mib(peak.saturating_mul(HEADROOM)).max(MIN_MEMORY);
    l.limits.insert(
        "memory".into(),
        (
            memory,
            format!(
                "{HEADROOM}x {how} of {} MiB, at least {} MiB",
                mib(peak),
                mib(MIN_MEMORY)
            ),
        ),
    );
    let tasks = r.tasks_peak.max(r.tasks_at_end).unwrap_or(0);
    let (tasks, how) = if tasks > 0 {
        (tasks, "tasks at once")
    } else {
        (threads, "threads seen in all")
    };
    l.limits.insert(
        "processes".into(),
        (
            tasks.saturating_mul(HEADROOM).max(MIN_PROCESSES),
            format!("{HEADROOM}x the {tasks} {how}, at least {MIN_PROCESSES}"),
        ),
    );
    let cpu_ms = r.user_cpu_ms.saturating_add(r.system_cpu_ms);
    let secs = |ms: u64| {
        ms.saturating_mul(TIME_HEADROOM)
            .div_ceil(1000)
            .max(MIN_SECONDS)
    };
    l.limits.insert(
        "cpu_time".into(),
        (
            secs(cpu_ms),
            format!("{TIME_HEADROOM}x the {cpu_ms} ms of CPU used, at least {MIN_SECONDS} s"),
        ),
    );
    l.limits.insert(
        "wall_time".into(),
        (
            secs(report.duration_ms),
            format!(
                "{TIME_HEADROOM}x the {} ms the run took, at least {MIN_SECONDS} s",
                report.duration_ms
            ),
        ),
    );
}

fn mib(b: u64) -> u64 {
    b.div_ceil(1 << 20)
}

fn round_mib(b: u64) -> u64 {
    mib(b) << 20
}

/// Append each of `more` that `to` does not hold yet, in order.
fn push_new(to: &mut Vec<String>, more: Vec<String>) {
    for m in more {
        if !to.contains(&m) {
            to.push(m);
        }
    }
}

impl Learned {
    /// Drop binds that a bind above them already gives with at least their rights.
    fn fold_covered(&mut self) {
        let keys: Vec<String> = self.paths.keys().cloned().collect();
        for k in keys {
            let Some(r) = self.paths.get(&k).cloned() else {
                continue;
            };
            let covered = Path::new(&k).ancestors().skip(1).any(|a| {
                self.paths
                    .get(a.to_str().unwrap_or(""))
                    .is_some_and(|ar| (ar.write || !r.write) && (ar.exec || !r.exec))
            });
            if covered {
                self.paths.remove(&k);
            }
        }
    }

    /// The union of two learned profiles (two runs of one tool in different modes): every
    /// bind with the rights either needed, every syscall and port, the larger limit of each.
    /// Binds one now covers are dropped; the groups are chosen again from the union.
    pub fn merge(mut self, other: Learned) -> Learned {
        push_new(&mut self.commands, other.commands);
        push_new(&mut self.extends, other.extends);
        push_new(&mut self.remove, other.remove);
        self.cwd |= other.cwd;
        for (p, r) in other.paths {
            match self.paths.get_mut(&p) {
                Some(mine) => {
                    mine.write |= r.write;
                    mine.exec |= r.exec;
                    if !mine.why.contains(&r.why) {
                        mine.why = format!("{}; {}", mine.why, r.why);
                    }
                }
                None => {
                    self.paths.insert(p, r);
                }
            }
        }
        self.fold_covered();
        for (g, why) in other.groups {
            self.groups.entry(g).or_insert(why);
        }
        for (s, why) in other.syscalls {
            self.syscalls.entry(s).or_insert(why);
        }
        let in_groups: BTreeSet<String> =
            crate::policy::syscalls::expand(&self.groups.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .collect();
        self.syscalls.retain(|s, _| !in_groups.contains(s));
        self.network = match (self.network.take(), other.network) {
            (Some(a), Some(b)) if a.0 == "host" || b.0 != "host" => Some(a),
            (Some(_), Some(b)) | (None, Some(b)) => Some(b),
            (a, None) => a,
        };
        for (p, why) in other.tcp_connect {
            self.tcp_connect.entry(p).or_insert(why);
        }
        for (k, (v, why)) in other.limits {
            match self.limits.get(&k) {
                Some((mine, _)) if *mine >= v => {}
                _ => {
                    self.limits.insert(k, (v, why));
                }
            }
        }
        push_new(&mut self.secrets, other.secrets);
        push_new(&mut self.tried, other.tried);
        self
    }
}
