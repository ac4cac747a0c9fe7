//! The command process: forked by the jail's pid 1, it takes the last steps before execve in
//! the order DESIGN.md fixes, then becomes the command. Any failure goes to the supervisor as a
//! structured error and the command never runs.

use super::{report, step, HostIds};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::Plan;
use crate::sys::process;
use nix::errno::Errno;
use std::convert::Infallible;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The command's nested user namespace (the full jail): the host ids it maps, and pid 1's
/// hand-off socket from which the command takes its channels once the maps are written.
pub(crate) struct Nest<'a> {
    pub ids: HostIds,
    pub handoff: &'a [u8],
}

/// Become the command, or report why not and exit (125 setup, 126 not executable, 127 not
/// found). `channels`: the status channel and the seccomp hand-off socket, held from the start
/// without namespaces (`isolation = "landlock"`, `nest` None, nothing is ever dumpable); in
/// the full jail `None`, and taken from pid 1 after the nested user namespace (`nest`) is
/// made, so the moment the command is dumpable it holds neither ([`super::handoff`]).
pub(crate) fn become_command(
    plan: &Plan,
    channels: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
    nest: Option<Nest<'_>>,
) -> ! {
    let mut taken = Vec::new();
    let e = match last_steps(plan, channels, nest, &mut taken) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    match channels
        .map(|(chan, _)| chan)
        .or(taken.first().map(AsFd::as_fd))
    {
        Some(chan) => report(chan, &e),
        // Pid 1 refused the connection: it failed, and reported why itself.
        None if e.errno == Some(libc::ECONNREFUSED) => {}
        // Failed before it had a channel: said here; pid 1 reports the exit status.
        None => crate::shown::say(&e.to_string()),
    }
    process::exit_now(e.exit_code())
}

fn last_steps(
    plan: &Plan,
    channels: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
    nest: Option<Nest<'_>>,
    taken: &mut Vec<OwnedFd>,
) -> Result<Infallible> {
    let _span = tracing::debug_span!("command").entered();
    let first = || -> Result<()> {
        // No signal blocked: pid 1's mask (or the supervisor's) would otherwise survive execve.
        // Signal actions, which survive it too, were set back to the defaults before this
        // process was given the go (pid 1's `run`, `command_without_namespaces`).
        process::unblock_signals().map_err(step("reset signal dispositions"))?;
        // setsid: a new session with no controlling terminal, so TIOCSTI into the caller's
        // terminal is impossible and the command's process group can be signalled as a whole.
        nix::unistd::setsid().map_err(|e| step("setsid")(e.into()))?;
        // rlimits (CPU, file size, open files, no core dumps; memory and processes when no
        // cgroup enforces them), inherited by everything the command starts. See
        // src/plan/limits.rs.
        apply_rlimits(&plan.limits).map_err(|(what, errno)| Error::setup(what, errno))
    };
    // A user namespace of the command's own, nested in the jail's. The jail's mount, network,
    // IPC, UTS and cgroup namespaces belong to the outer one, where pid 1 is uid 0; in the inner
    // one the command is the caller's uid and gid again and owns nothing, so no capability it
    // might hold reaches the jail's mounts, network or IPC limits. After the rlimits: the new
    // namespace records RLIMIT_NPROC as its ceiling, so the process limit still counts pid 1.
    // Then, non-dumpable again, the channels from pid 1; also when a step failed, to say why.
    let landlock_mode = nest.is_none();
    match nest {
        Some(n) => {
            // Until its second stop, pid 1 waits for the command to stop or end (nest::map),
            // not to connect: a step failing before then ends the command here, said on
            // stderr, and pid 1 reports its exit status (taking the channels first would wait
            // for a pid 1 that waits for a stop: both hung until the wall-clock limit, found
            // under a caller's hard RLIMIT_NPROC of 5, which the command's rlimits cannot raise).
            first().and_then(|()| super::nest::enter())?;
            *taken = super::handoff::take(n.handoff, 2)?;
            super::nest::verify(n.ids)?;
        }
        None => first()?,
    }
    let seccomp_tx = channels.map(|(_, s)| s).or(taken.get(1).map(AsFd::as_fd));
    // Every fd above 2 is closed at execve (CLOSE_RANGE_CLOEXEC keeps the channel usable
    // until then); the caller's fds were already closed by pid 1.
    process::close_range(3, libc::CLOSE_RANGE_CLOEXEC).map_err(step("close fds above 2"))?;
    // The environment is rebuilt from Policy.env alone (plan.envp, passed to execve below).
    // chdir to Policy.cwd, inside the new root.
    nix::unistd::chdir(plan.cwd.as_c_str()).map_err(|e| {
        step(format!("chdir {}", plan.policy.cwd.display()))(e.into()).with_hint(
            "the working directory must exist inside the jail: bind it or use the scratch dir",
        )
    })?;
    // All five capability sets emptied, and checked empty (without namespaces, the bounding set
    // only when this process may clear it: see caps::drop_all).
    super::caps::drop_all(landlock_mode)?;
    // No way back to privilege: setuid bits and file capabilities stop working.
    nix::sys::prctl::set_no_new_privs().map_err(|e| step("set no_new_privs")(e.into()))?;
    if !nix::sys::prctl::get_no_new_privs().map_err(|e| step("check no_new_privs")(e.into()))? {
        return Err(Error::setup("check no_new_privs", libc::EPERM)
            .with_hint("the kernel did not keep PR_SET_NO_NEW_PRIVS"));
    }
    // Landlock: the second wall, independent of the mounts (src/jail/landlock.rs). The status
    // is checked inside: anything short of what preflight promised is an error.
    super::landlock::restrict(&plan.landlock, &plan.preflight.landlock)?;
    // The seccomp filter, last: it may forbid what the steps before it need. It sends its
    // listener fd to the supervisor, which answers (and reports) every denied call.
    let handoff = seccomp_tx.ok_or_else(|| {
        Error::setup("install the seccomp filter", libc::EBADF)
            .with_hint("the seccomp hand-off socket is missing; this is a tooljail bug")
    })?;
    super::seccomp::install(&plan.seccomp, handoff)?;
    // execve: argv verbatim, envp from the Policy only.
    Err(exec(plan))
}

/// Exec each candidate in turn with the Policy's environment; returns only on failure, with
/// the error env(1) would give: 127 when nothing was found, 126 when something was found but
/// could not be executed. Like execvp(3), a search goes on past ENOENT/ENOTDIR/EACCES and stops
/// at any other error; unlike it, ENOEXEC is never retried through a shell.
///
/// Each exec is `execveat(AT_FDCWD, path, argv, envp, 0)` when the profile allows execveat,
/// which the kernel runs exactly as `execve(path, argv, envp)`: the filter shows the supervisor
/// every execve but lets this one form pass unseen, so the command's own exec costs no round
/// trip (src/plan/seccomp.rs).
fn exec(plan: &Plan) -> Error {
    let program = plan.program();
    let mut denied = None;
    let mut last = Errno::ENOENT;
    let unseen = plan.seccomp.allows_execveat();
    for path in &plan.candidates {
        let done = if unseen {
            let flags = nix::fcntl::AtFlags::empty();
            nix::unistd::execveat(None, path, &plan.argv, &plan.envp, flags)
        } else {
            nix::unistd::execve(path, &plan.argv, &plan.envp)
        };
        let err = match done {
            Ok(never) => match never {},
            Err(e) => e,
        };
        match err {
            Errno::ENOENT | Errno::ENOTDIR => last = err,
            Errno::EACCES => denied = Some(path.to_string_lossy().into_owned()),
            other => return not_executable(&path.to_string_lossy(), other),
        }
    }
    if let Some(path) = denied {
        return not_executable(&path, Errno::EACCES);
    }
    let where_ = if program.contains('/') {
        program.clone()
    } else {
        format!(
            "{program} (searched PATH={})",
            plan.policy
                .env
                .get("PATH")
                .map_or("<unset>", String::as_str)
        )
    };
    let mut e = Error::new(
        ErrorKind::NotFound,
        where_,
        "command not found inside the jail",
    )
    .with_hint("bind the directory that holds it (--ro DIR) or fix PATH in the profile");
    e.errno = Some(last as i32);
    e
}

fn not_executable(path: &str, errno: Errno) -> Error {
    let mut e = Error::new(
        ErrorKind::NotExecutable,
        path,
        format!("cannot execute: {}", errno.desc()),
    )
    .with_hint(match errno {
        Errno::EACCES => "it is not executable, or sits on a path the profile binds without exec",
        Errno::ENOEXEC => "it is not a binary this kernel runs; scripts need a #! line",
        _ => "check the file inside the jail with `tooljail run -- ls -l PATH`",
    });
    e.errno = Some(errno as i32);
    e
}

/// Set the planned rlimits in the calling process (the command process, before execve).
/// Lowering limits needs no privilege; a failure is a setup error (fail closed).
fn apply_rlimits(plan: &crate::plan::limits::LimitPlan) -> Result<(), (String, i32)> {
    for r in &plan.rlimits {
        nix::sys::resource::setrlimit(r.resource.to_nix(), r.soft, r.hard)
            .map_err(|e| (format!("setrlimit {}", r.resource.name()), e as i32))?;
    }
    Ok(())
}
