//! `tooljail run`: resolve the Policy, run it, map the outcome to the exit status.

use crate::cli::{GlobalArgs, RunArgs};
use crate::error::{exit, Error, Result};
use crate::plan::Plan;
use crate::supervisor::{self, End};

pub fn run(args: &RunArgs, _global: &GlobalArgs) -> Result<i32> {
    let mut policy = crate::profile::policy_from_args(&args.policy)?;
    // TEMPORARY: the hand-written default Policy ignores --timeout; apply it here until the
    // profile loader does (setting the same field twice is harmless).
    if let Some(t) = &args.policy.timeout {
        policy.limits.wall_time = humantime::parse_duration(t).map_err(|e| {
            Error::usage(format!("--timeout {t}: {e}")).with_hint("use e.g. `30s`, `5m`, `1h`")
        })?;
    }
    let plan = Plan::new(policy, &args.command)?;
    let outcome = supervisor::run(&plan)?;
    tracing::debug!(?outcome, "jail ended");
    match outcome.end {
        End::Exited(code) => Ok(code),
        End::Signaled(sig) => Ok(exit::SIGNAL_BASE + sig),
        End::TimedOut => Ok(exit::TIMEOUT),
        End::SetupFailed(e) => Err(e),
    }
}
