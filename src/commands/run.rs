//! `tooljail run`: open the report and audit sinks, resolve the Policy, run it, then write the
//! report and the audit record (for failed and refused runs too) and map the outcome to the exit
//! status.

use crate::audit::AuditLog;
use crate::cli::{GlobalArgs, RunArgs};
use crate::error::{exit, Error, Result};
use crate::outcome::{self, Evidence};
use crate::plan::Plan;
use crate::report::{DeniedSyscall, OpenSink, Outcome, Report, Sink, StoppedBy};
use crate::supervisor::{self, identity, End};
use std::path::PathBuf;

pub fn run(args: &RunArgs, _global: &GlobalArgs) -> Result<i32> {
    // Before any sink is opened: installed setuid/setgid, tooljail would open the caller's
    // --report and --audit-log paths with the owner's rights.
    refuse_setid()?;
    let argv: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let started = std::time::Instant::now();
    let mut report = Report::begin(argv);
    let caller = nix::unistd::getuid();
    report.identity.caller_uid = caller.as_raw();
    report.identity.caller_user = nix::unistd::User::from_uid(caller)
        .ok()
        .flatten()
        .map(|u| u.name);
    report.identity.session = args.session.clone();
    report.identity.agent = args.agent.clone();
    report.identity.tool = args.tool.clone();

    // Launch step 1: the sinks are opened first, with the invoking user's rights, so that a bad
    // --report fails before anything runs and root's audit log stays root's. A bad --report is
    // still a refused call: it leaves an audit record like any other failure.
    let sink = match args.report.as_deref().map(open_sink).transpose() {
        Ok(sink) => sink,
        Err(e) => {
            report.fail(&e);
            report.duration_ms = started.elapsed().as_millis() as u64;
            append_record(fallback_audit_log(args, &report), &report);
            return Err(e);
        }
    };

    let mut audit = None;
    let result = prepare_and_run(args, &mut report, &mut audit);
    let code = match &result {
        Ok(code) => *code,
        Err(e) => {
            report.fail(e);
            // Failed before the jail existed: the time tooljail spent until the failure.
            if report.duration_ms == 0 {
                report.duration_ms = started.elapsed().as_millis() as u64;
            }
            e.exit_code()
        }
    };
    report.exit_status = code;

    // The audit record and the report are written whatever happened; failing to write them is
    // said loudly but does not change the command's status (it already ran).
    append_record(audit.or_else(|| fallback_audit_log(args, &report)), &report);
    if let Some(sink) = sink {
        if let Err(e) = sink.write(&report) {
            eprintln!("tooljail: --report: {e}; the report of this run is lost");
        }
    }
    result
}

/// Refuse to run with an effective uid or gid other than the real one (a setuid or setgid
/// binary): every path the caller names would be opened with the file owner's rights.
fn refuse_setid() -> Result<()> {
    let ids = nix::unistd::getresuid().and_then(|u| Ok((u, nix::unistd::getresgid()?)));
    let (uid, gid) = ids.map_err(|e| {
        Error::usage(format!(
            "cannot read this process's uids and gids: {}",
            e.desc()
        ))
        .with_hint("run tooljail on Linux with /proc mounted")
    })?;
    if uid.real != uid.effective || gid.real != gid.effective {
        let path = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "PATH".into());
        return Err(Error::usage(format!(
            "tooljail must not be setuid/setgid (real uid {} gid {}, effective uid {} gid {})",
            uid.real, gid.real, uid.effective, gid.effective
        ))
        .with_hint(format!("remove the bit: chmod u-s,g-s {path}")));
    }
    Ok(())
}

fn open_sink(spec: &str) -> Result<OpenSink> {
    let sink: Sink = spec.parse().map_err(|m| {
        Error::usage(format!("--report {m}")).with_hint("use FILE, `-` (stdout) or fd:N")
    })?;
    sink.open()
}

fn append_record(log: Option<AuditLog>, report: &Report) {
    if let Some(log) = log {
        if let Err(e) = log.append(report) {
            eprintln!(
                "tooljail: audit log {}: {e}; the record of this run is lost",
                log.path().display()
            );
        }
    }
}

/// Everything between the sinks and the report: identity, Policy, audit sink, plan, jail.
/// `audit` receives the audit log as soon as it is open, so a later failure is recorded too.
fn prepare_and_run(
    args: &RunArgs,
    report: &mut Report,
    audit: &mut Option<AuditLog>,
) -> Result<i32> {
    let who = identity::resolve(args.user.as_deref())?;
    report.identity.jail_uid = Some(who.uid);
    report.identity.jail_user = who.user.clone();

    let policy = tracing::debug_span!("resolve policy")
        .in_scope(|| crate::profile::policy_from_args(&args.policy))?;
    report.profiles = policy.profiles.iter().map(|p| p.name.clone()).collect();
    report.policy_sha256 = Some(policy.hash());
    refuse_unenforced(&policy)?;

    // The audit log is opened now (before the jail user is taken) so a bad path fails closed.
    *audit = open_audit(args, &policy, report)?;

    // Preflight: the kernel features the Policy needs, before anything is built.
    let preflight =
        tracing::debug_span!("preflight").in_scope(|| crate::preflight::preflight(&policy))?;
    // Weaker isolation than asked (best-effort mode) is said before the command runs.
    if let Some(w) = preflight.landlock.warning() {
        eprintln!("tooljail: warning: {w}");
        report.warnings.push(w);
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
    let plan = tracing::debug_span!("plan")
        .in_scope(|| Plan::new(policy, &args.command, preflight, cgroup.is_ok()))?;
    report.isolation = isolation(&plan, &cgroup);
    let outcome = supervisor::run(&plan, &who, cgroup.as_deref().ok())?;
    tracing::debug!(?outcome, "jail ended");
    if let Some(line) = outcome.denials.summary_line() {
        eprintln!("{line}");
    }

    report.duration_ms = outcome.duration.as_millis() as u64;
    report.resources.user_cpu_ms = outcome.rusage.user_time.as_millis() as u64;
    report.resources.system_cpu_ms = outcome.rusage.system_time.as_millis() as u64;
    report.resources.max_rss_kib = outcome.rusage.max_rss_kib;
    report.resources.memory_peak_bytes = outcome.cgroup.and_then(|c| c.memory_peak);
    report.resources.tasks_at_end = outcome.tasks_at_end;
    report.resources.tasks_peak = outcome.tasks_peak;
    for w in &outcome.warnings {
        eprintln!("tooljail: warning: {w}");
        report.warnings.push(w.clone());
    }
    report.denied_syscalls = outcome
        .denials
        .entries()
        .iter()
        .map(|d| DeniedSyscall {
            name: d.name.clone(),
            arch: d.arch.clone(),
            count: d.count,
            examples: d.examples.clone(),
        })
        .chain((outcome.denials.others() > 0).then(|| DeniedSyscall {
            name: crate::supervisor::notify::OTHERS.to_string(),
            arch: String::new(),
            count: outcome.denials.others(),
            examples: Vec::new(),
        }))
        .collect();

    let signal = match &outcome.end {
        End::Signaled(s) => Some(*s),
        _ => None,
    };
    let cpu_used = outcome.rusage.user_time + outcome.rusage.system_time;
    let evidence = Evidence {
        timed_out: outcome.end == End::TimedOut,
        grace_kill: outcome.grace_kill,
        signal,
        cpu_exhausted: plan
            .policy
            .limits
            .cpu_time
            .is_some_and(|limit| cpu_used >= limit),
        cgroup_oom_kill: outcome.cgroup.is_some_and(|c| c.oom_kill > 0),
        cgroup_pids_max: outcome.cgroup.is_some_and(|c| c.pids_max > 0),
        scratch_used: outcome.scratch,
        max_rss: outcome.rusage.max_rss_kib.saturating_mul(1024),
        tasks_at_end: outcome.tasks_at_end,
        tasks_peak: outcome.tasks_peak,
    };
    report.stopped_by = outcome::attribute(&plan.policy.limits, &plan.limits, &evidence);

    let code = match outcome.end {
        End::SetupFailed(e) => return Err(e),
        End::TimedOut => {
            report.outcome = Outcome::Timeout;
            exit::TIMEOUT
        }
        End::Signaled(sig) => {
            report.signal = Some(signal_name(sig));
            report.outcome = if let Some(d) = &outcome.seccomp_kill {
                report.stopped_by = Some(StoppedBy {
                    kind: "rule".into(),
                    name: format!("seccomp:{}", d.name),
                    evidence: format!(
                        "{}({}) is denied and the profile's action is kill",
                        d.name, d.arch
                    ),
                });
                Outcome::Violation
            } else if sig == libc::SIGSYS {
                report.stopped_by = Some(StoppedBy {
                    kind: "rule".into(),
                    name: "seccomp:arch".into(),
                    evidence:
                        "SIGSYS: a syscall of another architecture (i386 int 0x80, x32) was killed"
                            .into(),
                });
                Outcome::Violation
            } else if report.stopped_by.is_some() {
                Outcome::Limit
            } else {
                Outcome::Signaled
            };
            exit::SIGNAL_BASE + sig
        }
        End::Exited(code) => {
            report.exit_code = Some(code);
            // A command that failed while a limit was exhausted (scratch full) was stopped by
            // it; one that succeeded anyway was not.
            report.outcome = if code != 0 && report.stopped_by.is_some() {
                Outcome::Limit
            } else {
                report.stopped_by = None;
                Outcome::Exited
            };
            code
        }
    };
    Ok(code)
}

/// `[budget]` (rate limits, loop guard) and `[export]` (copying files out of scratch) are part
/// of the profile format, but this version enforces neither. A profile that sets them would be
/// obeyed less than it says, so it does not run; `check` and `explain` still accept and show it.
fn refuse_unenforced(policy: &crate::policy::Policy) -> Result<()> {
    let b = &policy.budget;
    let x = &policy.export;
    let set = [
        ("[budget] calls_per_minute", b.calls_per_minute.is_some()),
        (
            "[budget] max_identical_calls",
            b.max_identical_calls.is_some(),
        ),
        ("[export] to", x.to.is_some()),
        ("[export] patterns", !x.patterns.is_empty()),
    ];
    match set.iter().find(|(_, on)| *on) {
        Some((key, _)) => Err(Error::profile(
            format!("profile \"{}\"", policy.name()),
            format!("{key} is not enforced by this version of tooljail"),
        )
        .with_hint("remove it from the profile (the run would not be limited as written)")),
        None => Ok(()),
    }
}

/// When the run failed before its audit log was opened (before the Policy was known),
/// `--audit-log` or the caller's default log, so refused and failed runs leave a record too. A
/// log that cannot be opened then is skipped: the run's own error is already on stderr.
fn fallback_audit_log(args: &RunArgs, report: &Report) -> Option<AuditLog> {
    if report.policy_sha256.is_some() {
        // The Policy was resolved and chose not to audit, or opening failed (already an error).
        return None;
    }
    match &args.audit_log {
        Some(path) => AuditLog::open(path, false).ok(),
        None => AuditLog::open(&crate::audit::caller_default_path()?, true).ok(),
    }
}

/// Open the audit log the Policy asks for (`--audit-log` wins over the profile's path, which
/// wins over the default location). A log named explicitly fails closed: a run that must be
/// audited there and cannot be does not run. The implicit default location (which depends on
/// HOME) only warns when unusable.
fn open_audit(
    args: &RunArgs,
    policy: &crate::policy::Policy,
    report: &mut Report,
) -> Result<Option<AuditLog>> {
    if !policy.audit.enabled && args.audit_log.is_none() {
        return Ok(None);
    }
    if let Some(path) = args.audit_log.clone().or_else(|| policy.audit.log.clone()) {
        return AuditLog::open(&path, false).map(Some);
    }
    let opened = crate::audit::caller_default_path()
        .ok_or_else(|| "HOME and XDG_STATE_HOME are unset".to_string())
        .and_then(|path| AuditLog::open(&path, true).map_err(|e| e.to_string()));
    match opened {
        Ok(log) => Ok(Some(log)),
        Err(why) => {
            let w = format!(
                "no audit record for this run: the default audit log is unusable ({why}); \
                 pass --audit-log PATH or set [audit] log"
            );
            eprintln!("tooljail: warning: {w}");
            report.warnings.push(w);
            Ok(None)
        }
    }
}

/// What isolation this run applies, for the report. `cgroup`: the jail cgroup's parent, or why
/// there is none (then memory and processes fall back to rlimits).
fn isolation(
    plan: &Plan,
    cgroup: &std::result::Result<PathBuf, crate::cgroup::Unavailable>,
) -> serde_json::Value {
    let p = &plan.policy;
    let mut namespaces = vec!["user", "mount", "pid", "ipc", "uts", "cgroup"];
    if plan.private_net {
        namespaces.push("net");
    }
    serde_json::json!({
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
    })
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}
