//! `tooljail state`: each session's use, and `state reset --session ID`.

use crate::cli::{StateAction, StateArgs};
use crate::error::{Error, ErrorKind, Result};
use crate::state::{self, Url};

pub fn state(args: &StateArgs) -> Result<i32> {
    let budget = if args.profiles.is_empty() {
        None
    } else {
        let policy = crate::profile::policy_from_args(&crate::cli::PolicyArgs {
            profiles: args.profiles.clone(),
            ..Default::default()
        })?;
        Some(policy.budget)
    };
    let profile_store = budget.as_ref().and_then(|b| b.state.as_deref());
    let url = Url::choose(args.state.as_deref(), profile_store)?;
    let mut store = state::open(&url, false)?;
    match args.action {
        Some(StateAction::Reset) => {
            let Some(session) = args.session.as_deref() else {
                return Err(
                    Error::usage("state reset: which session?").with_hint("pass --session ID")
                );
            };
            let uid = nix::unistd::getuid();
            let caller = (!uid.is_root()).then(|| uid.as_raw().to_string());
            match store
                .reset(session, caller.as_deref())
                .map_err(|e| state::error(&url, e))?
            {
                Ok(n) => {
                    println!("session {session:?}: {n} calls forgotten");
                    Ok(0)
                }
                Err(others) => Err(Error::new(
                    ErrorKind::Usage,
                    "--session",
                    format!(
                        "session {session:?} has calls of other users (uid {}): only root or \
                         the user who made them may reset it",
                        others.join(", ")
                    ),
                )
                .with_hint("ask root to reset it")),
            }
        }
        None => {
            let usage = store
                .usage(args.session.as_deref())
                .map_err(|e| state::error(&url, e))?;
            let ms = |d: Option<std::time::Duration>| {
                d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            };
            let limits = budget.as_ref().map(|b| {
                serde_json::json!({
                    "calls": b.session_calls,
                    "cpu_ms": ms(b.session_cpu),
                    "wall_ms": ms(b.session_wall),
                })
            });
            if args.json {
                let v: Vec<_> = usage
                    .iter()
                    .map(|(s, u)| {
                        serde_json::json!({
                            "session": s,
                            "calls": u.calls,
                            "cpu_ms": u.cpu_ms,
                            "wall_ms": u.wall_ms,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({ "store": url.shown(), "sessions": v, "limits": limits })
                );
            } else {
                if let Some(b) = &budget {
                    let show =
                        |v: Option<u64>| v.map_or("unlimited".to_string(), |v| v.to_string());
                    println!(
                        "limits per session: calls {}, cpu_ms {}, wall_ms {}",
                        show(b.session_calls.map(u64::from)),
                        show(ms(b.session_cpu)),
                        show(ms(b.session_wall))
                    );
                }
                println!(
                    "{:<32} {:>8} {:>10} {:>10}",
                    "SESSION", "CALLS", "CPU_MS", "WALL_MS"
                );
                for (s, u) in &usage {
                    // A label is whatever the caller (an agent, perhaps) passed: one row each,
                    // escaped, so none can forge another or reach the terminal as an escape.
                    let s = if s.is_empty() {
                        "(none)".into()
                    } else {
                        crate::shown::one_line(s)
                    };
                    println!("{s:<32} {:>8} {:>10} {:>10}", u.calls, u.cpu_ms, u.wall_ms);
                }
            }
            Ok(0)
        }
    }
}
