//! `tooljail -c STRING`: `/bin/sh -c STRING` in the jail, for agents that take a command prefix
//! (Claude Code's `CLAUDE_CODE_SHELL_PREFIX="tooljail -c"` runs every Bash call as
//! `tooljail -c 'the whole command string'`). Such a prefix carries no other flag, so the
//! settings come from environment variables; a flag given on the command line wins over its
//! variable. Then the call is an ordinary `tooljail run` through the pipeline.
//!
//! tooljail itself writes nothing to stdout here: the caller reads the command's stdout as if
//! the shell had run it, so a report to stdout (`-`, `fd:1`) is refused.

use crate::cli::{NetArg, RunArgs};
use crate::error::{Error, Result};
use clap::ValueEnum;
use std::ffi::OsString;
use std::path::PathBuf;

/// Where `-c` reads its variables: the process environment, or a fixed table in tests.
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct RealEnv;

impl Env for RealEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

/// Run `STRING` under the shell in the jail.
pub fn shell(string: String, args: RunArgs, env: &dyn Env) -> Result<i32> {
    let args = arguments(string, args, env)?;
    crate::pipeline::refuse_setid()?;
    crate::pipeline::run(&args)
}

/// The `run` arguments of `-c STRING`: the flags as given, each unset one from its variable,
/// and the command `SHELL -c STRING`.
fn arguments(string: String, mut args: RunArgs, env: &dyn Env) -> Result<RunArgs> {
    let p = &mut args.policy;
    if p.profiles.is_empty() {
        if let Some(v) = env.var("TOOLJAIL_PROFILE") {
            p.profiles = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
    }
    for (key, list) in [
        ("TOOLJAIL_RO", &mut p.ro),
        ("TOOLJAIL_RW", &mut p.rw),
        ("TOOLJAIL_EXEC", &mut p.exec),
    ] {
        if list.is_empty() {
            if let Some(v) = env.var(key) {
                *list = std::env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect::<Vec<PathBuf>>();
            }
        }
    }
    if p.net.is_none() {
        if let Some(v) = env.var("TOOLJAIL_NET") {
            p.net = Some(NetArg::from_str(&v, false).map_err(|_| {
                Error::usage(format!("TOOLJAIL_NET={v:?} is not a network mode"))
                    .with_hint("use none, loopback or host")
            })?);
        }
    }
    if p.allow_domain.is_empty() {
        if let Some(v) = env.var("TOOLJAIL_ALLOW_DOMAINS") {
            p.allow_domain = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
    }
    if p.timeout.is_none() {
        p.timeout = env.var("TOOLJAIL_TIMEOUT");
    }
    if args.report.is_none() {
        args.report = env.var("TOOLJAIL_REPORT");
    }
    if matches!(args.report.as_deref(), Some("-" | "fd:1")) {
        return Err(Error::usage(
            "tooljail -c writes nothing to stdout: its caller reads the command's output there",
        )
        .with_hint("set TOOLJAIL_REPORT (or --report) to a FILE or fd:N with N >= 3"));
    }
    if args.audit_log.is_none() {
        args.audit_log = env.var("TOOLJAIL_AUDIT_LOG").map(PathBuf::from);
    }
    let shell = env
        .var("TOOLJAIL_SHELL")
        .unwrap_or_else(|| "/bin/sh".into());
    args.command = vec![shell.into(), OsString::from("-c"), string.into()];
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fixed(HashMap<&'static str, &'static str>);
    impl Env for Fixed {
        fn var(&self, key: &str) -> Option<String> {
            self.0.get(key).map(|v| v.to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> Fixed {
        Fixed(pairs.iter().copied().collect())
    }

    #[test]
    fn variables_fill_what_the_flags_leave_unset() {
        let e = env(&[
            ("TOOLJAIL_PROFILE", "shell, ./my.toml"),
            ("TOOLJAIL_RO", "/a:/b"),
            ("TOOLJAIL_RW", "/w"),
            ("TOOLJAIL_NET", "loopback"),
            ("TOOLJAIL_ALLOW_DOMAINS", "pypi.org, *.pythonhosted.org"),
            ("TOOLJAIL_TIMEOUT", "30s"),
            ("TOOLJAIL_REPORT", "fd:3"),
            ("TOOLJAIL_SHELL", "/bin/bash"),
        ]);
        let a = arguments("echo 'hi' | cat".into(), RunArgs::default(), &e).unwrap();
        assert_eq!(a.policy.profiles, ["shell", "./my.toml"]);
        assert_eq!(a.policy.ro, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(a.policy.rw, [PathBuf::from("/w")]);
        assert_eq!(a.policy.net, Some(NetArg::Loopback));
        assert_eq!(a.policy.allow_domain, ["pypi.org", "*.pythonhosted.org"]);
        assert_eq!(a.policy.timeout.as_deref(), Some("30s"));
        assert_eq!(a.report.as_deref(), Some("fd:3"));
        assert_eq!(a.command, ["/bin/bash", "-c", "echo 'hi' | cat"]);

        let mut flags = RunArgs::default();
        flags.policy.profiles = vec!["git".into()];
        flags.policy.rw = vec![PathBuf::from("/x")];
        let a = arguments("true".into(), flags, &e).unwrap();
        assert_eq!(a.policy.profiles, ["git"]);
        assert_eq!(a.policy.rw, [PathBuf::from("/x")]);
        assert_eq!(a.policy.ro.len(), 2);
    }

    #[test]
    fn the_default_is_sh_and_the_default_profile() {
        let a = arguments("exit 3".into(), RunArgs::default(), &env(&[])).unwrap();
        assert!(a.policy.profiles.is_empty());
        assert_eq!(a.command, ["/bin/sh", "-c", "exit 3"]);
    }

    #[test]
    fn a_report_on_stdout_or_a_bad_net_is_refused() {
        for r in ["-", "fd:1"] {
            let e = env(&[("TOOLJAIL_REPORT", r)]);
            let err = arguments("true".into(), RunArgs::default(), &e).unwrap_err();
            assert!(err.to_string().contains("nothing to stdout"), "{err}");
        }
        let e = env(&[("TOOLJAIL_NET", "internet")]);
        let err = arguments("true".into(), RunArgs::default(), &e).unwrap_err();
        assert!(err.to_string().contains("TOOLJAIL_NET"), "{err}");
    }
}
