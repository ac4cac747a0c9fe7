//! `isolation = "landlock"`: the launch without namespaces, for hosts (containers, mostly) whose
//! seccomp profile forbids them. Chosen by the pipeline's launch stage from the Policy's
//! isolation mode, and only when a profile or `--isolation landlock` asks for it by name
//! (DESIGN.md invariant 11): nothing falls back to it.
//!
//! It reuses everything the full jail computes and does that needs no namespace: the same plan
//! (the seccomp program and the Landlock rules, computed before the fork; the rules are those of
//! [`crate::plan::landlock::rules`] for this mode), the same last steps in the command
//! ([`crate::jail::command_without_namespaces`]: setsid, rlimits, close fds, environment, chdir,
//! capabilities, no_new_privs, Landlock, seccomp, execve), the same channel, wait loop, seccomp
//! notifier and report. What it lacks is listed by [`crate::policy::Wall::without`], and said in
//! the report's `isolation` section, in `explain` and in docs/containers.md.
//!
//! ```text
//!   supervisor (the jail user) ── fork ──> command (last steps, execve)
//!        │ child subreaper: descendants left when the command ends are killed
//!        └ scratch: a fresh 0700 directory under the temporary directory, removed afterwards
//! ```

pub mod scratch;

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::supervisor::identity::JailIdentity;
use crate::supervisor::wait;
use crate::supervisor::{End, Outcome};
use crate::sys::process::{self, Forked};
use nix::fcntl::OFlag;
use nix::sys::signal::{SigmaskHow, Signal};
use std::os::fd::AsFd;
use std::time::Instant;

/// Run `plan` without namespaces and wait for it to end. `cgroup_parent` as for
/// [`crate::supervisor::run`].
pub fn run(
    plan: &Plan,
    who: &JailIdentity,
    cgroup_parent: Option<&std::path::Path>,
    spare: Option<i32>,
) -> Result<Outcome> {
    let _span = tracing::debug_span!("supervisor (isolation landlock)").entered();
    let was_root = nix::unistd::geteuid().is_root();
    crate::supervisor::become_supervisor(who)?;
    if was_root {
        writable_as_jail(plan, who)?;
    }
    let scratch = scratch::create(&plan.policy.filesystem.scratch.path)?;
    let cgroup = cgroup_parent
        .map(|parent| crate::supervisor::jail_cgroup(parent, &plan.policy.limits))
        .transpose();
    let mut outcome = cgroup.and_then(|cg| {
        let result = run_in(plan, cg.as_ref(), spare);
        match (result, cg) {
            (Ok(mut o), Some(cg)) => {
                o.cgroup = Some(cg.events());
                if let Err(e) = cg.remove() {
                    o.warnings.push(format!(
                        "could not remove the jail cgroup {}: {e}; remove it with rmdir",
                        cg.dir().display()
                    ));
                }
                Ok(o)
            }
            (r, Some(cg)) => {
                let _ = cg.remove();
                r
            }
            (r, None) => r,
        }
    });
    // After every process of the command is gone: nothing can write into it any more.
    if let Err(e) = scratch::remove(&scratch) {
        let w = format!(
            "could not remove the scratch directory {}: {e}; remove it by hand",
            scratch.display()
        );
        match &mut outcome {
            Ok(o) => o.warnings.push(w),
            Err(_) => tracing::warn!("{w}"),
        }
    }
    outcome
}

/// Started as root, the full jail makes a read-write bind of another owner writable through an
/// idmapped mount; without a mount namespace there is none, so a bind the jail's uid cannot
/// write (checked as that uid, after the drop) fails the call instead of failing every write.
fn writable_as_jail(plan: &Plan, who: &JailIdentity) -> Result<()> {
    use crate::policy::Access;
    use nix::unistd::AccessFlags;
    for bind in &plan.policy.filesystem.binds {
        if bind.access != Access::ReadWrite {
            continue;
        }
        if let Err(e) = nix::unistd::access(&bind.source, AccessFlags::W_OK) {
            return Err(Error::setup(
                format!("bind {} read-write", bind.source.display()),
                e as i32,
            )
            .with_hint(format!(
                "the jail runs as uid {} and cannot write it, and isolation landlock (no mount \
                 namespace) cannot bind it as its owner; run with --user NAME of a user who can \
                 write it, or use the full jail ({})",
                who.uid, bind.origin
            )));
        }
    }
    Ok(())
}

/// `spare`: a child of the supervisor that is not the command's (a root caller's helper,
/// `supervisor::root_helper`), left alone when the command's leftovers are killed.
fn run_in(
    plan: &Plan,
    cgroup: Option<&crate::cgroup::JailCgroup>,
    spare: Option<i32>,
) -> Result<Outcome> {
    let (chan_rx, chan_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::setup("create the channel pipe", e as i32))?;
    // The command waits on this for its go byte, written once it is in the jail cgroup: without
    // CLONE_INTO_CGROUP (clone3 is what these hosts refuse) nothing else keeps it from starting
    // processes outside the cgroup.
    let (sync_rx, sync_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::setup("create the sync pipe", e as i32))?;
    let (seccomp_rx, seccomp_tx) = crate::supervisor::handoff_socket()?;
    let (sfd, old_mask) = crate::supervisor::forward_signals()?;
    // No pid namespace kills what the command leaves behind: as a child subreaper the
    // supervisor inherits every orphaned descendant, and kills them all once the command ends.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::setup("become a child subreaper", e as i32))?;
    let supervisor = nix::unistd::getpid().as_raw();
    let started = Instant::now();
    // fork, not clone3: the filters this mode exists for answer clone3 with ENOSYS.
    let pid = match process::fork().map_err(|e| Error::setup("fork the command", &e))? {
        Forked::Child => {
            drop((chan_rx, sfd, seccomp_rx, sync_tx));
            crate::jail::command_without_namespaces(
                plan,
                supervisor,
                sync_rx.as_fd(),
                chan_tx.as_fd(),
                seccomp_tx.as_fd(),
            )
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop((chan_tx, seccomp_tx, sync_rx));
    let pidfd = match process::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            let _ = wait::reap(pid);
            return Err(Error::setup("pidfd_open the command", &e));
        }
    };
    crate::supervisor::release(pid, pidfd.as_fd(), cgroup, sync_tx)?;
    let outcome = wait::wait(
        wait::Jail {
            pid,
            pidfd,
            chan_rx,
            signals: sfd,
            seccomp_rx,
        },
        started,
        plan,
    );
    let left = kill_descendants(spare);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    // Only a jail's pid 1 ends early ([`wait::Exiting`]): here the child is the command, and
    // it is reaped when the wait ends.
    let (mut outcome, exiting) = outcome?;
    drop(exiting);
    if left > 0 {
        outcome.warnings.push(format!(
            "isolation landlock: killed {left} process(es) the command left running"
        ));
    }
    if let End::SetupFailed(e) = &mut outcome.end {
        if e.hint.is_empty() {
            e.hint = "this ran with --isolation landlock (no namespaces)".into();
        }
    }
    Ok(outcome)
}

/// SIGKILL every remaining child of the supervisor but `spare` (as a subreaper, every orphaned
/// descendant of the command is one) and reap it, until none is left. Returns how many were
/// killed.
fn kill_descendants(spare: Option<i32>) -> usize {
    let me = nix::unistd::getpid().as_raw();
    let path = format!("/proc/{me}/task/{me}/children");
    let mut killed = 0;
    // Each round kills what is there; what those forked meanwhile is re-parented to us and
    // found in the next round. The bound only stops a kernel that never empties the list.
    for _ in 0..10_000 {
        let children: Vec<i32> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .filter(|c| Some(*c) != spare)
            .collect();
        if children.is_empty() {
            // Zombies that were already dead are not listed; reap them too (`spare` only if it
            // died: alive, it is not waitable, and its owner's wait then finds nothing).
            while let Ok(Some(_)) = process::reap_any() {}
            return killed;
        }
        for pid in children {
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                killed += 1;
            }
            let _ = process::wait4(pid, true);
        }
    }
    killed
}
