//! Profiles as written: the TOML model ([`schema`]), positions and parse errors ([`source`]),
//! the search path and built-ins ([`search`]), `extends` ([`merge`]) and `${VARIABLES}`
//! ([`vars`]). [`crate::policy::resolve`] turns the merged result into a [`Policy`].

pub mod merge;
pub mod schema;
pub mod search;
pub mod source;
pub mod vars;

#[cfg(test)]
mod tests;

use crate::cli::{IsolationArg, NetArg, PolicyArgs};
use crate::error::{Error, Result};
use crate::host::{Host, RealHost};
use crate::policy::resolve::{self, Options, Overrides};
use crate::policy::{IsolationMode, NetMode, Policy};

/// The Policy `run` and `explain` enforce: the profiles named by `-p` (or `default`) merged,
/// with the command-line overrides on top, resolved against the real host. When there are
/// several errors, the first is returned and says how many more `tooljail check` would show.
pub fn policy_from_args(args: &PolicyArgs) -> Result<Policy> {
    resolve_args(&RealHost, args, Options::default()).map_err(first_error)
}

/// [`policy_from_args`] against any host, returning every error.
pub fn resolve_args(
    host: &dyn Host,
    args: &PolicyArgs,
    opts: Options,
) -> Result<Policy, Vec<Error>> {
    resolve_args_with(host, args, opts, &crate::policy::syscalls::expand)
}

/// [`resolve_args`] with an injected syscall expander (unit tests use a fake table).
pub fn resolve_args_with(
    host: &dyn Host,
    args: &PolicyArgs,
    opts: Options,
    expander: resolve::Expander,
) -> Result<Policy, Vec<Error>> {
    // Every error of every kind in one run: what loading found (unknown keys, wrong types) and,
    // when the profiles could be read at all, what resolving the rest of them finds.
    let (merged, errors) = merge::load_all(host, &args.profiles);
    let Some(merged) = merged else {
        return Err(tidy(errors));
    };
    resolve::resolve_after(host, &merged, &overrides(args), opts, expander, errors).map_err(tidy)
}

/// Errors in reading order: by file, line and column; errors without a position (command-line
/// flags) last, in the order found. Each on one line.
fn tidy(errors: Vec<Error>) -> Vec<Error> {
    let mut errors: Vec<Error> = errors.into_iter().map(Error::one_line).collect();
    errors.sort_by(|a, b| a.location.reading_order().cmp(&b.location.reading_order()));
    errors
}

/// Validate one profile (name or path) as `tooljail check` does: everything but the refusal to
/// expose a `${CWD}` that is `/` or HOME, which depends on where the command runs.
pub fn check(host: &dyn Host, profile: &str) -> Result<Policy, Vec<Error>> {
    let args = PolicyArgs {
        profiles: vec![profile.to_string()],
        ..PolicyArgs::default()
    };
    resolve_args(host, &args, Options { check_only: true })
}

/// The command-line overrides in the resolver's terms.
pub fn overrides(args: &PolicyArgs) -> Overrides {
    Overrides {
        ro: args.ro.clone(),
        rw: args.rw.clone(),
        exec: args.exec.clone(),
        net: args.net.map(|n| match n {
            NetArg::None => NetMode::None,
            NetArg::Loopback => NetMode::Loopback,
            NetArg::Host => NetMode::Host,
        }),
        allow_domains: args.allow_domain.clone(),
        isolation: args.isolation.map(|i| match i {
            IsolationArg::Full => IsolationMode::Full,
            IsolationArg::Landlock => IsolationMode::Landlock,
        }),
        timeout: args.timeout.clone(),
        memory: args.memory.clone(),
        env: args.env.clone(),
        keep_env: args.keep_env.clone(),
        cwd: args.cwd.clone(),
        limits: args.limit.clone(),
        export_to: args.export_to.clone(),
        export: args.export.clone(),
        stdout_max: args.stdout_max.clone(),
        stderr_max: args.stderr_max.clone(),
        gpu: args.gpu,
        learning: args.learning,
    }
}

fn first_error(mut errors: Vec<Error>) -> Error {
    let more = errors.len().saturating_sub(1);
    let mut e = errors.swap_remove(0);
    if more > 0 {
        e.message = format!(
            "{} (and {more} more: `tooljail explain` with the same options lists them all)",
            e.message
        );
    }
    e
}
