//! Stages `plan` and `launch`: everything computed before clone, then the jail itself (the
//! supervisor clones, waits and collects). Report: `isolation` (plan); `duration_ms`,
//! `resources`, `denied_syscalls` and the supervisor's warnings (launch).

use super::preflight::Checked;
use super::record::millis;
use super::Call;
use crate::error::Result;
use crate::plan::Plan;
use crate::policy::{IsolationMode, Wall};
use crate::report::{DeniedSyscall, OutputReport, StreamReport};
use crate::supervisor::identity::JailIdentity;
use crate::supervisor::{self, Outcome};
use std::path::PathBuf;

/// The launch plan and what the supervisor needs beside it.
pub struct Planned {
    pub plan: Plan,
    pub who: JailIdentity,
    pub cgroup: Option<PathBuf>,
}

pub fn plan(call: &mut Call<'_>, checked: Checked) -> Result<Planned> {
    let Checked {
        resolved,
        preflight,
        cgroup,
    } = checked;
    let mut policy = resolved.policy;
    if policy.isolation.mode == IsolationMode::Landlock {
        // No tmpfs of its own without a mount namespace: the scratch is a host directory,
        // named now so the Landlock rule and the environment know it before the fork.
        crate::isolation::scratch::relocate(
            &mut policy,
            &crate::isolation::scratch::host_path(&std::env::temp_dir()),
        );
    }
    if policy.isolation.mode == IsolationMode::Landlock {
        refuse_without_namespaces(&policy)?;
    }
    let plan = tracing::debug_span!("plan")
        .in_scope(|| Plan::new(policy, &call.args.command, preflight, cgroup.is_ok()))?;
    call.report.isolation = isolation(&plan, &cgroup);
    Ok(Planned {
        plan,
        who: resolved.who,
        cgroup: cgroup.ok(),
    })
}

/// What the supervisor observed, and what it brought out of the jail (the scratch for the
/// export stage, the relays' accounts).
pub struct Ran {
    pub outcome: Outcome,
    pub taken: supervisor::Taken,
}

pub fn launch(
    call: &mut Call<'_>,
    planned: &Planned,
    egress: Option<crate::net::Egress>,
) -> Result<Ran> {
    // The one place the isolation mode picks the launch: the full jail, or the command forked
    // without namespaces (src/isolation/). Both take the same plan and return the same Outcome.
    let (plan, who, cgroup) = (&planned.plan, &planned.who, planned.cgroup.as_deref());
    // A terminal on stdio is given back as it was (src/tty.rs), also when the run fails.
    let terminal = crate::tty::save();
    // Started as root with a report file: a child that stays root renames it into place at the
    // end (supervisor::root_helper). Kept in the call for `record`.
    if call
        .sink
        .as_ref()
        .is_some_and(crate::report::OpenSink::renames)
    {
        call.root_helper = supervisor::root_helper::spawn()?;
    }
    let (mut outcome, mut taken) = match plan.policy.isolation.mode {
        IsolationMode::Full => supervisor::run(plan, who, cgroup, egress)?,
        IsolationMode::Landlock => {
            let spare = call.root_helper.as_ref().and_then(|h| h.pid());
            (
                crate::isolation::run(plan, who, cgroup, spare)?,
                supervisor::Taken::default(),
            )
        }
    };
    call.pid1 = taken.pid1.take();
    outcome.warnings.extend(terminal.restore());
    tracing::debug!(?outcome, "jail ended");
    if let Some(line) = outcome.denials.summary_line() {
        eprintln!("{line}");
    }
    let report = &mut call.report;
    let stream = |cap: Option<crate::policy::OutputCap>, r: Option<crate::relay::Relayed>| {
        cap.map(|cap| StreamReport {
            max: cap.max,
            mode: cap.mode.name().to_string(),
            written: r.unwrap_or_default().written,
            dropped: r.unwrap_or_default().dropped,
        })
    };
    let output = &plan.policy.output;
    if output.stdout.is_some() || output.stderr.is_some() {
        report.output = Some(OutputReport {
            stdout: stream(output.stdout, taken.stdout),
            stderr: stream(output.stderr, taken.stderr),
        });
    }
    report.duration_ms = millis(outcome.duration);
    report.resources.user_cpu_ms = millis(outcome.rusage.user_time);
    report.resources.system_cpu_ms = millis(outcome.rusage.system_time);
    report.resources.max_rss_kib = outcome.rusage.max_rss_kib;
    report.resources.memory_peak_bytes = outcome.cgroup.and_then(|c| c.memory_peak);
    report.resources.tasks_at_end = outcome.tasks_at_end;
    report.resources.tasks_peak = outcome.tasks_peak;
    for w in &outcome.warnings {
        crate::shown::warn(w);
        report.warnings.push(w.clone());
    }
    report.denied_syscalls = outcome
        .denials
        .entries()
        .iter()
        .map(|d| {
            let (remedy, liftable) = crate::outcome::denial::syscall_remedy(
                &d.name,
                d.rule == crate::supervisor::notify::DenialRule::Hardening,
            );
            DeniedSyscall {
                name: d.name.clone(),
                arch: d.arch.clone(),
                count: d.count,
                examples: d.examples.clone(),
                remedy,
                liftable: Some(liftable),
            }
        })
        .chain((outcome.denials.others() > 0).then(|| DeniedSyscall {
            name: crate::supervisor::notify::OTHERS.to_string(),
            arch: String::new(),
            count: outcome.denials.others(),
            examples: Vec::new(),
            remedy: String::new(),
            liftable: None,
        }))
        .collect();
    // Each refusal of tooljail's own policy, typed with its fix; the path ones also on stderr
    // (the syscall ones are on the summary line above).
    let blocked: Vec<_> = outcome
        .blocked
        .iter()
        .map(|b| crate::outcome::denial::blocked_denial(&plan.policy, b))
        .collect();
    // A refused write is said on stderr only when the command failed: tools that try a write
    // and carry on without it (Python's bytecode cache beside a read-only module) are common.
    let failed = !matches!(outcome.end, crate::supervisor::End::Exited(0));
    for d in &blocked {
        if d.kind != crate::report::DenialKind::Write || failed {
            crate::shown::say(&d.line());
        }
    }
    let hardening = outcome
        .denials
        .entries()
        .iter()
        .map(|d| d.rule == crate::supervisor::notify::DenialRule::Hardening);
    let syscalls = report
        .denied_syscalls
        .iter()
        .zip(hardening)
        .map(|(d, hard)| crate::outcome::denial::syscall_denial(d, hard));
    report.denials = blocked.into_iter().chain(syscalls).collect();
    report.observed = outcome.observed.take();
    Ok(Ran { outcome, taken })
}

/// What isolation this run applies, for the report. `cgroup`: the jail cgroup's parent, or why
/// there is none (then memory and processes fall back to rlimits).
fn isolation(
    plan: &Plan,
    cgroup: &std::result::Result<PathBuf, crate::cgroup::Unavailable>,
) -> serde_json::Value {
    let p = &plan.policy;
    let mode = p.isolation.mode;
    let mut namespaces = match mode {
        IsolationMode::Full => vec!["user", "mount", "pid", "ipc", "uts", "cgroup"],
        IsolationMode::Landlock => Vec::new(),
    };
    if plan.private_net && mode == IsolationMode::Full {
        namespaces.push("net");
    }
    let lacks: Vec<serde_json::Value> = Wall::lacking(mode)
        .into_iter()
        .map(|w| serde_json::json!({ "wall": w.name(), "instead": w.without() }))
        .collect();
    let mut applied = serde_json::json!({
        "mode": mode.name(),
        "lacks": lacks,
        "namespaces": namespaces,
        "network": p.network.mode,
        "binds": p.filesystem.binds.len(),
        "scratch_bytes": p.filesystem.scratch.size,
        "seccomp": {
            "allowed_syscalls": p.syscalls.allow.len(),
            "action": p.syscalls.action,
            "unsafe_allow": p.syscalls.unsafe_allow,
        },
        "landlock": {
            "requested": p.landlock,
            "preflight": plan.preflight.landlock,
            "path_rules": plan.landlock.paths.len(),
            "tcp_connect": p.network.tcp_connect,
            "tcp_bind": p.network.tcp_bind,
        },
        "limits": plan.limits,
        "cgroup": match cgroup {
            Ok(parent) => serde_json::json!({ "parent": parent }),
            Err(why) => serde_json::json!({ "unavailable": why.0 }),
        },
        "capabilities": "none",
        "no_new_privs": true,
    });
    // The private network's one way out (src/net/): inet sockets reach only lo, and the
    // proxy on it.
    if p.network.egress.is_some() {
        applied["egress_proxy"] = serde_json::json!(format!(
            "127.0.0.1:{}, allow_domains only",
            crate::policy::PROXY_PORT
        ));
    }
    applied
}

/// `[export]` reads the scratch through pid 1 and `[output]` relays the jail's stdio: both are
/// built on the full jail. Without namespaces they would not be enforced, so the call does not
/// run.
fn refuse_without_namespaces(policy: &crate::policy::Policy) -> Result<()> {
    let asked = [
        ("[export] (or --export-to)", policy.export.to.is_some()),
        (
            "[network] allow_domains (or --allow-domain)",
            policy.network.egress.is_some(),
        ),
        (
            "[output] (or --stdout-max/--stderr-max)",
            policy.output.stdout.is_some() || policy.output.stderr.is_some(),
        ),
    ];
    match asked.iter().find(|(_, on)| *on) {
        Some((what, _)) => Err(crate::error::Error::usage(format!(
            "{what} needs the full jail; isolation = \"landlock\" does not provide it"
        ))
        .with_hint("run with --isolation full, or drop it")),
        None => Ok(()),
    }
}
