//! The launch plan, built from the Policy before clone: everything the jail's processes need
//! already converted to the form the syscalls take (argv, envp and the execve candidates as C
//! strings, the clone flags), so that after clone nothing is parsed or looked up on the host.

pub mod landlock;
pub mod limits;
pub mod seccomp;

use crate::error::{Error, Result};
use crate::policy::{NetMode, Policy};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

/// What the supervisor and the jail execute, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub policy: Policy,
    /// The command's argv, verbatim (never passed to a shell).
    pub argv: Vec<CString>,
    /// The command's complete environment (`KEY=VALUE`, from `Policy.env` only).
    pub envp: Vec<CString>,
    /// The paths execve tries, in order: argv\[0\] itself when it holds a '/', else each
    /// directory of the Policy's PATH joined with argv\[0\] (as execvp(3) does, without the
    /// shell fallback).
    pub candidates: Vec<CString>,
    /// `Policy.cwd` as a C string.
    pub cwd: CString,
    /// CLONE_NEW* flags for the jail's pid 1.
    pub clone_flags: u64,
    /// Whether the jail has its own network namespace (then `lo` is brought up inside).
    pub private_net: bool,
    /// The Landlock ruleset (paths, ports, scopes) the command restricts itself with.
    pub landlock: landlock::LandlockPlan,
    /// The seccomp filter, compiled before clone (the command installs it last before execve).
    pub seccomp: seccomp::Program,
    /// How each limit is enforced (cgroup v2 when this run has a jail cgroup, else rlimits), and
    /// the rlimits the command sets.
    pub limits: limits::LimitPlan,
    /// What preflight found this kernel supports (the command's Landlock step decides from the
    /// same probe).
    pub preflight: crate::preflight::PreflightReport,
}

impl Plan {
    pub fn new(
        policy: Policy,
        command: &[OsString],
        preflight: crate::preflight::PreflightReport,
        cgroup_available: bool,
    ) -> Result<Plan> {
        let Some(program) = command.first() else {
            return Err(Error::usage("no command given")
                .with_hint("put the command after `--`, e.g. `tooljail run -- ls /`"));
        };
        // An empty name is no program: execvp would search PATH for "" and report "not found"
        // (127) about a name nobody can read in the message.
        if program.is_empty() {
            return Err(Error::usage("the command's name is empty").with_hint(
                "put the program to run first after `--`, e.g. `tooljail run -- ls /`",
            ));
        }
        // Arguments from the OS never hold NUL bytes, but a Policy value might.
        let c = |what: &str, bytes: &[u8]| {
            CString::new(bytes).map_err(|_| {
                Error::usage(format!("{what} contains a NUL byte"))
                    .with_hint("remove the NUL byte from the value")
            })
        };
        let argv = command
            .iter()
            .map(|a| c("the command line", a.as_bytes()))
            .collect::<Result<Vec<_>>>()?;
        let envp = policy
            .env
            .iter()
            .map(|(k, v)| {
                if k.is_empty() || k.contains('=') {
                    return Err(Error::usage(format!(
                        "environment variable name {k:?} is invalid"
                    ))
                    .with_hint("names must be non-empty and hold no '='"));
                }
                c(
                    &format!("environment variable {k}"),
                    format!("{k}={v}").as_bytes(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let candidates = exec_candidates(
            program.as_bytes(),
            policy.env.get("PATH").map(String::as_str),
        )
        .into_iter()
        .map(|p| c("the command path", &p))
        .collect::<Result<Vec<_>>>()?;
        let cwd = c("the working directory", policy.cwd.as_os_str().as_bytes())?;
        // tmpfs reads size=0 as "unlimited": refuse it rather than lift the cap.
        if policy.filesystem.scratch.size == 0 {
            return Err(
                Error::usage("the scratch size is 0, which tmpfs would take as unlimited")
                    .with_hint("give the scratch tmpfs a size, e.g. 256M"),
            );
        }
        let private_net = policy.network.mode != NetMode::Host;
        let mut clone_flags = (libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP) as u64;
        if private_net {
            clone_flags |= libc::CLONE_NEWNET as u64;
        }
        let limits = limits::plan(&policy.limits, cgroup_available);
        // The filter watches the limits only rlimits enforce (src/plan/seccomp/watch.rs).
        let watch = seccomp::Watch::for_limits(&policy.limits, &limits);
        let seccomp = seccomp::compile_watching(&policy, watch)?;
        let landlock = landlock::plan(&policy);
        Ok(Plan {
            preflight,
            landlock,
            seccomp,
            limits,
            policy,
            argv,
            envp,
            candidates,
            cwd,
            clone_flags,
            private_net,
        })
    }

    /// argv\[0\] as given, for messages.
    pub fn program(&self) -> String {
        self.argv[0].to_string_lossy().into_owned()
    }
}

/// The paths execve tries for `program`: itself when it holds a '/'; else `DIR/program` for each
/// non-empty directory of `path` (an empty PATH entry would mean the working directory, which
/// execvp(3) allows and we do not: a command is found only where the Policy says).
pub fn exec_candidates(program: &[u8], path: Option<&str>) -> Vec<Vec<u8>> {
    if program.is_empty() {
        return Vec::new();
    }
    if program.contains(&b'/') {
        return vec![program.to_vec()];
    }
    path.unwrap_or("")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut p = d.trim_end_matches('/').as_bytes().to_vec();
            p.push(b'/');
            p.extend_from_slice(program);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_means_no_search() {
        assert_eq!(exec_candidates(b"./x", Some("/bin")), vec![b"./x".to_vec()]);
        assert_eq!(
            exec_candidates(b"/bin/sh", Some("/usr/bin")),
            vec![b"/bin/sh".to_vec()]
        );
    }

    #[test]
    fn path_is_searched_in_order_without_empty_entries() {
        assert_eq!(
            exec_candidates(b"sh", Some("/usr/bin/::/bin")),
            vec![b"/usr/bin/sh".to_vec(), b"/bin/sh".to_vec()]
        );
        assert!(exec_candidates(b"sh", None).is_empty());
        assert!(exec_candidates(b"", Some("/bin")).is_empty());
    }
}
