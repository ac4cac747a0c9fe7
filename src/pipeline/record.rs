//! Stage `record`, run for every call that got past `begin`: the report's final status, the
//! audit record and the report sink. Failing to write them is said loudly but does not change
//! the call's status (the command may already have run).

use super::Call;
use crate::audit::AuditLog;
use crate::cli::RunArgs;
use crate::error::Result;
use crate::report::Report;

/// Close the report with `result` (the exit code, or the error that ended the pipeline), write
/// the audit record and the report, and hand `result` back for `main`.
pub fn record(call: Call<'_>, result: Result<i32>) -> Result<i32> {
    let Call {
        args,
        mut report,
        started,
        sink,
        audit,
        mut root_helper,
        uid_lease,
        state,
        pid1,
    } = call;
    let code = match &result {
        Ok(code) => *code,
        Err(e) => {
            report.fail(e);
            // Failed before the jail existed: the time tooljail spent until the failure.
            if report.duration_ms == 0 {
                report.duration_ms = millis(started.elapsed());
            }
            e.exit_code()
        }
    };
    report.exit_status = code;
    tracing::debug_span!("state record").in_scope(|| super::state::close(state, &report));
    append_record(audit.or_else(|| fallback_audit_log(args, &report)), &report);
    if let Some(sink) = sink {
        let renamer = root_helper
            .as_mut()
            .map(|h| h as &mut dyn crate::sink::Renamer);
        if let Err(e) = sink.write(&report, renamer) {
            crate::shown::say(&format!("--report: {e}; the report of this run is lost"));
        }
    }
    // The root helper's last job was that rename: it exits while pid 1 is reaped.
    if let Some(helper) = root_helper.as_mut() {
        helper.dismiss();
    }
    // The jail's pid 1 reaped (it was exiting while the record was written): then its
    // transient uid may go to the next call.
    drop(pid1);
    drop(uid_lease);
    // Kept, not freed, like the plan (see `stages`): freeing it would write into heap pages
    // the clone of pid 1 left write-protected. It is plain data; the process ends here.
    std::mem::forget(report);
    result
}

/// A duration in whole milliseconds, saturating (a report field).
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn append_record(log: Option<AuditLog>, report: &Report) {
    if let Some(log) = log {
        if let Err(e) = log.append(report) {
            crate::shown::say(&format!(
                "audit log {}: {e}; the record of this run is lost",
                log.path().display()
            ));
        }
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
