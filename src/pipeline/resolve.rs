//! Stage `resolve`: who the jail runs as, the Policy, and the audit log the Policy asks for.
//! Report: `identity.jail_*`, `profiles`, `policy_sha256`.

use super::Call;
use crate::audit::AuditLog;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::report::Report;
use crate::supervisor::identity::{self, JailIdentity};

/// The Policy and the identity the jail runs as.
pub struct Resolved {
    pub policy: Policy,
    pub who: JailIdentity,
}

pub fn resolve(call: &mut Call<'_>) -> Result<Resolved> {
    let args = call.args;
    let (who, lease) = identity::resolve(args.user.as_deref())?;
    call.uid_lease = lease;
    call.report.identity.jail_uid = Some(who.uid);
    call.report.identity.jail_user = who.user.clone();

    let mut policy = tracing::debug_span!("resolve policy")
        .in_scope(|| crate::profile::policy_from_args(&args.policy))?;
    // A server profile's state directory is made on first use (0700, the caller's), then bound.
    if let Some(server) = policy.server.as_ref().filter(|s| s.missing) {
        crate::sink::ensure_dir(&server.state, 0o700).map_err(|e| {
            e.into_error(
                "[server] state",
                &server.state,
                "choose a state directory only you can write",
            )
        })?;
        policy = crate::profile::policy_from_args(&args.policy)?;
    }
    call.report.profiles = policy.profiles.iter().map(|p| p.name.clone()).collect();
    // A file on the search path that takes the place of a shipped profile is said every time,
    // so a planted or forgotten one cannot change what a familiar name means in silence.
    for p in &policy.profiles {
        if p.shadows_builtin {
            let w = format!(
                "profile \"{}\" is {}, not the shipped one (`-p builtin:{}` names that)",
                p.name, p.origin, p.name
            );
            crate::shown::warn(&w);
            call.report.warnings.push(w);
        }
    }
    call.report.policy_sha256 = Some(policy.hash());

    // A record the command could replace after the fact is no record: refuse a --report file
    // inside a writable bind before anything runs (the audit log is checked as it is opened).
    if let Some(crate::report::Sink::File(path)) =
        args.report.as_deref().and_then(|s| s.parse().ok())
    {
        refuse_writable_by_jail(&policy, &path, "--report")?;
    }
    // The audit log is opened now (before the jail user is taken) so a bad path fails closed.
    call.audit = open_audit(args, &policy, &mut call.report)?;
    Ok(Resolved { policy, who })
}

/// Open the audit log the Policy asks for (`--audit-log` wins over the profile's path, which
/// wins over the default location). A log named explicitly fails closed: a run that must be
/// audited there and cannot be does not run. The implicit default location (which depends on
/// HOME) only warns when unusable.
fn open_audit(args: &RunArgs, policy: &Policy, report: &mut Report) -> Result<Option<AuditLog>> {
    if !policy.audit.enabled && args.audit_log.is_none() {
        return Ok(None);
    }
    if let Some(path) = args.audit_log.clone().or_else(|| policy.audit.log.clone()) {
        refuse_writable_by_jail(policy, &path, "the audit log")?;
        return AuditLog::open(&path, false).map(Some);
    }
    let opened = crate::audit::caller_default_path()
        .ok_or_else(|| "HOME and XDG_STATE_HOME are unset".to_string())
        .and_then(|path| {
            refuse_writable_by_jail(policy, &path, "the default audit log")
                .map_err(|e| e.to_string())?;
            AuditLog::open(&path, true).map_err(|e| e.to_string())
        });
    match opened {
        Ok(log) => Ok(Some(log)),
        Err(why) => {
            let w = format!(
                "no audit record for this run: the default audit log is unusable ({why}); \
                 pass --audit-log PATH or set [audit] log"
            );
            crate::shown::warn(&w);
            report.warnings.push(w);
            Ok(None)
        }
    }
}

/// Refuse a host file tooljail writes (`what`: the report, the audit log) that lies inside a
/// bind the jail can write: the command could rename a forged record over it, or append forged
/// lines, after tooljail wrote the real one. The path is resolved as the kernel will (its
/// directory canonical, then its name), so a symlinked way into the bind is caught too.
pub(super) fn refuse_writable_by_jail(
    policy: &Policy,
    path: &std::path::Path,
    what: &str,
) -> Result<()> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let resolved = match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(abs.clone()),
        _ => abs.clone(),
    };
    match policy.writable_bind_holding(&resolved) {
        None => Ok(()),
        Some(b) => Err(Error::usage(format!(
            "{what} {} is inside {}, which the jail can write ({}): the command could replace \
             the record after tooljail writes it",
            path.display(),
            b.source.display(),
            b.origin
        ))
        .with_hint("write it to a directory the jail cannot write")),
    }
}
