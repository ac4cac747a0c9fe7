//! Stage `state`, only when the Policy has a call rule (`[budget]`): before launch, one
//! transaction decides and records the call as started (or refuses it: nothing runs, outcome
//! `refused`); the starting call's wall and CPU limits are clamped to what is left of the
//! session's budgets. The `record` stage then records the call's real use, whatever the
//! outcome, and its audit record in the store ([`close`]).
//! Report: `stopped_by` (rate_limit, loop_guard, budget), `retryable`, `warnings` (a clamp).

use super::preflight::Checked;
use super::Call;
use crate::error::{Error, ErrorKind, Result};
use crate::report::{Report, StoppedBy};
use crate::state::rules::{Decision, Labels, Request};
use crate::state::{self, Store, Url};

/// The store a call used: kept open for SQLite (tooljail may have become the jail's user by
/// the time the call ends, and the file is its caller's); reopened for PostgreSQL (its client's
/// threads must be gone before clone).
pub struct Held {
    url: Url,
    store: Option<Box<dyn Store>>,
    /// The call's row, when it was admitted.
    admitted: Option<String>,
    /// The CPU limit the budget clamped the call to, as RLIMIT_CPU enforces it (whole seconds,
    /// at least one).
    cpu_clamp: Option<std::time::Duration>,
}

pub fn admit(call: &mut Call<'_>, checked: &mut Checked) -> Result<()> {
    let policy = &mut checked.resolved.policy;
    if !policy.budget.has_rules() {
        return Ok(());
    }
    let url = Url::choose(call.args.state.as_deref(), policy.budget.state.as_deref())?;
    if let Url::Sqlite(path) = &url {
        super::resolve::refuse_writable_by_jail(policy, path, "the state store")?;
    }
    let mut store = state::open(&url, true)?;
    let report = &call.report;
    let req = Request {
        id: report.run_id.clone(),
        now_ms: state::now_ms(),
        labels: labels(report),
        ident: ident(report),
    };
    let decision = store
        .admit(&policy.budget, &req)
        .map_err(|e| state::error(&url, e));
    let keep = |store: Box<dyn Store>| match url {
        Url::Sqlite(_) => Some(store),
        Url::Postgres(_) => None,
    };
    let decision = match decision {
        Ok(d) => d,
        Err(e) => {
            call.state = Some(Held {
                store: keep(store),
                url: url.clone(),
                admitted: None,
                cpu_clamp: None,
            });
            return Err(e);
        }
    };
    let store = keep(store);
    if store.is_none() {
        // The PostgreSQL client is gone; its runtime's threads with it.
        state::settle_threads();
    }
    match decision {
        Decision::Refuse(r) => {
            let (used, limit) = r.used_and_limit().unzip();
            call.report.stopped_by = Some(StoppedBy {
                kind: r.kind().to_string(),
                name: r.name(),
                evidence: r.evidence(),
                remedy: r.remedy().to_string(),
                liftable: Some(r.retry_after_ms().is_some()),
                retry_after_ms: r.retry_after_ms(),
                used,
                limit,
            });
            call.state = Some(Held {
                url,
                store,
                admitted: None,
                cpu_clamp: None,
            });
            let mut e = Error::new(
                ErrorKind::Refused,
                format!("[budget] {}", r.name()),
                format!("{}: {}", r.kind(), r.evidence()),
            )
            .with_hint(r.remedy());
            e.retryable = r.retry_after_ms().is_some();
            Err(e)
        }
        Decision::Admit {
            cpu_left,
            wall_left,
        } => {
            let limits = &mut policy.limits;
            if let Some(left) = wall_left.filter(|l| *l < limits.wall_time) {
                limits.wall_time = left;
                call.report.warnings.push(format!(
                    "wall_time clamped to {} ms: what is left of [budget] session_wall",
                    left.as_millis()
                ));
            }
            if let Some(left) = cpu_left.filter(|l| limits.cpu_time.is_none_or(|c| *l < c)) {
                limits.cpu_time = Some(left);
                call.report.warnings.push(format!(
                    "cpu_time clamped to {} ms: what is left of [budget] session_cpu",
                    left.as_millis()
                ));
            }
            let cpu_clamp = cpu_left
                .filter(|l| limits.cpu_time == Some(*l))
                .map(|l| std::time::Duration::from_secs(l.as_secs().max(1)));
            call.state = Some(Held {
                url,
                store,
                admitted: Some(req.id),
                cpu_clamp,
            });
            Ok(())
        }
    }
}

/// Record the call's real use (when it was admitted) and its audit record in the store. A
/// failure is said on stderr; the call's status stands (the command may have run).
pub fn close(held: Option<Held>, report: &Report) {
    let Some(Held {
        url,
        store,
        admitted,
        cpu_clamp,
    }) = held
    else {
        return;
    };
    let mut store = match store {
        Some(s) => s,
        None => match state::open(&url, false) {
            Ok(s) => s,
            Err(e) => {
                crate::shown::say(&format!("{e}; the use of this call is not recorded"));
                return;
            }
        },
    };
    if let Some(id) = admitted {
        let r = &report.resources;
        let mut cpu_ms = r.user_cpu_ms.saturating_add(r.system_cpu_ms);
        // Stopped by the CPU limit the budget set: the kernel's clock (which RLIMIT_CPU reads)
        // says the whole allowance was used, even when rusage, sampled by ticks, counts less.
        if let (Some(clamp), Some(s)) = (cpu_clamp, &report.stopped_by) {
            if s.name == "cpu_time" {
                cpu_ms = cpu_ms.max(u64::try_from(clamp.as_millis()).unwrap_or(u64::MAX));
            }
        }
        let used = state::Used {
            cpu_ms,
            wall_ms: report.duration_ms,
            outcome: serde_json::to_value(report.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        if let Err(e) = store.finish(&id, &used) {
            crate::shown::say(&format!(
                "{}; the use of this call is not recorded",
                state::error(&url, e)
            ));
        }
    }
    if let Err(e) = store.audit(report) {
        crate::shown::say(&format!(
            "{}; the audit record of this call is not in the store",
            state::error(&url, e)
        ));
    }
}

fn labels(report: &Report) -> Labels {
    let id = &report.identity;
    Labels {
        user: id.caller_uid.to_string(),
        agent: id.agent.clone().unwrap_or_default(),
        session: id.session.clone().unwrap_or_default(),
        tool: id.tool.clone().unwrap_or_default(),
    }
}

/// What "identical" compares: argv, the host cwd, and the Policy's hash (which covers the
/// command's whole environment, resolved).
fn ident(report: &Report) -> String {
    use sha2::{Digest, Sha256};
    let v = serde_json::json!([report.argv, report.cwd, report.policy_sha256]);
    let digest = Sha256::digest(serde_json::to_vec(&v).expect("serializes"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
