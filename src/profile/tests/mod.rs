//! Profile -> Policy through a fake host: every key, every error position (line and column),
//! extends and cycles, variables, overrides, and the shipped profiles' resolved form.
//! Shared helpers here; one file per concern.

mod extends;
mod keys;
mod overrides;
mod positions;
mod properties;

use crate::cli::{NetArg, PolicyArgs};
use crate::error::{Error, ErrorKind};
use crate::host::fake::FakeHost;
use crate::policy::resolve::{self, Options};
use crate::policy::*;
use std::path::PathBuf;
use std::time::Duration;

/// A small syscall table standing in for the seccomp helper's, so these tests pin the
/// *mechanism* (each entry expanded on its own, errors at that entry) and not the table.
pub(super) fn fake_expand(names: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "@system-service" => {
                out.extend(["read", "write", "openat", "execve", "ptrace"].map(String::from))
            }
            "@basic-io" => out.extend(["read", "write"].map(String::from)),
            "read" | "write" | "openat" | "execve" | "ptrace" | "mount" | "io_uring_setup" => {
                out.push(n.clone())
            }
            other => return Err(other.to_string()),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(super) fn args(profiles: &[&str]) -> PolicyArgs {
    PolicyArgs {
        profiles: profiles.iter().map(|s| s.to_string()).collect(),
        ..PolicyArgs::default()
    }
}

pub(super) fn resolve_on(
    host: &FakeHost,
    a: &PolicyArgs,
    opts: Options,
) -> Result<Policy, Vec<Error>> {
    crate::profile::resolve_args_with(host, a, opts, &fake_expand)
}

/// Debian fake host with profile file `/p/t.toml` = `text`.
pub(super) fn host_with(text: &str) -> FakeHost {
    let mut h = FakeHost::debian();
    h.dir("/p").file("/p/t.toml", text);
    h
}

pub(super) fn ok(text: &str) -> Policy {
    let h = host_with(text);
    resolve_on(&h, &args(&["/p/t.toml"]), Options::default()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// All errors, rendered as `main` would (without the `tooljail: ` prefix).
pub(super) fn errs_on(h: &FakeHost, a: &PolicyArgs) -> Vec<String> {
    match resolve_on(h, a, Options::default()) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e.iter().map(Error::to_string).collect(),
    }
}

/// The single error of profile `text`.
pub(super) fn err(text: &str) -> String {
    let e = errs_on(&host_with(text), &args(&["/p/t.toml"]));
    assert_eq!(e.len(), 1, "{e:#?}");
    e[0].clone()
}
