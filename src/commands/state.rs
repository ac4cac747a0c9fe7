//! `tooljail state`: each session's use, and `state reset --session ID`.

use crate::cli::{StateAction, StateArgs};
use crate::error::{Error, ErrorKind, Result};
use crate::state::{self, Url};

pub fn state(args: &StateArgs) -> Result<i32> {
    let url = Url::choose(args.state.as_deref(), None)?;
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
                    serde_json::json!({ "store": url.shown(), "sessions": v })
                );
            } else {
                println!(
                    "{:<32} {:>8} {:>10} {:>10}",
                    "SESSION", "CALLS", "CPU_MS", "WALL_MS"
                );
                for (s, u) in &usage {
                    let s = if s.is_empty() { "(none)" } else { s };
                    println!("{s:<32} {:>8} {:>10} {:>10}", u.calls, u.cpu_ms, u.wall_ms);
                }
            }
            Ok(0)
        }
    }
}
