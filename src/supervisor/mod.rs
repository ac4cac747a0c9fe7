//! The supervisor (tooljail's own process): drops root, clones the jail's pid 1 into new
//! namespaces, writes its id maps, releases it, and waits — forwarding signals, enforcing the
//! wall-clock timeout, collecting rusage and the command's exact status or setup error.

pub mod identity;
pub mod idmap;
pub mod learning;
pub mod notify;
pub mod observe;
pub mod root_helper;
pub mod transient;
pub(crate) mod userns;
pub(crate) mod wait;
pub mod witness;

use crate::error::{Error, Result};
use crate::jail::{ChildFds, HostIds};
use crate::plan::Plan;
pub use crate::sys::process::Rusage;
use crate::sys::process::{self, Forked};
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use notify::{Denial, Denials};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// How the jailed command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The command exited with this code.
    Exited(i32),
    /// The command was killed by this signal.
    Signaled(i32),
    /// The wall-clock limit fired (the command got SIGTERM, and the jail SIGKILL after the
    /// grace period if it was still running).
    TimedOut,
    /// The jail could not be built, or the command could not be executed: it never ran.
    SetupFailed(Error),
}

/// What the supervisor observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub end: End,
    /// From clone to the jail's end.
    pub duration: Duration,
    /// Resource use of the whole jail (pid 1 reaps every process in it).
    pub rusage: Rusage,
    /// Scratch (bytes used, bytes total) when the command ended.
    pub scratch: Option<(u64, u64)>,
    /// The wall-clock limit fired and the grace ran out too: the jail got SIGKILL.
    pub grace_kill: bool,
    /// Tasks of the jail when the command ended (the command included), counted by pid 1.
    pub tasks_at_end: Option<u64>,
    /// Most tasks the jail held at once, sampled from outside every 10 ms while RLIMIT_NPROC
    /// enforces the process limit (no cgroup counter exists then).
    pub tasks_peak: Option<u64>,
    /// The jail cgroup's counters, when a cgroup enforced the limits.
    pub cgroup: Option<crate::cgroup::Events>,
    /// Things the report should say that did not change the outcome (e.g. cleanup failures).
    pub warnings: Vec<String>,
    /// Every syscall the filter denied, by name, with counts.
    pub denials: Denials,
    /// The denial that killed the jail, when the profile's action is `kill`.
    pub seccomp_kill: Option<Denial>,
    /// What the filter's limit watch points showed (refused forks and mappings, full
    /// descriptor tables).
    pub witnessed: witness::Witnessed,
    /// The signal (SIGINT, SIGTERM, SIGHUP) the caller sent tooljail while the jail ran, which
    /// tooljail passed on: the call was cancelled.
    pub cancelled_by: Option<i32>,
    /// Execs and executable mappings the kernel refused because the file's place has no exec
    /// right (a bind without exec, the scratch), distinct, at most [`observe::MAX_BLOCKED`].
    pub blocked: Vec<observe::Blocked>,
    /// A learning run's record of every call ([`learning`]); `None` for any other run.
    pub observed: Option<learning::Observed>,
}

/// What the supervisor brings out of the jail beside the [`Outcome`], for the stages after it.
#[derive(Default)]
pub struct Taken {
    /// An O_PATH fd of the scratch root, from pid 1 (only when the Policy exports, and only
    /// when pid 1 got as far as mounting the scratch).
    pub scratch: Option<OwnedFd>,
    /// The account of each capped stream (`[output]`): stdout, stderr.
    pub stdout: Option<crate::relay::Relayed>,
    pub stderr: Option<crate::relay::Relayed>,
    /// What the egress proxy saw (only when the Policy has `allow_domains`).
    pub egress: Option<crate::net::Account>,
    /// The jail's pid 1 when it ended everything else and is still exiting: reaped when
    /// dropped, which the call does last ([`wait::Exiting`]).
    pub pid1: Option<wait::Exiting>,
}

/// Run `plan` in a new jail and wait for it to end. `cgroup_parent`: the delegated cgroup v2
/// directory in which to create the jail's own cgroup (memory.max, memory.swap.max, pids.max
/// from the Policy), when `plan.limits` chose cgroups (see [`crate::cgroup::for_run`]).
///
/// Errors before the jail exists (pipes, clone refused, id maps, the jail cgroup) are returned
/// as `Err`; errors inside the jail (a bind, execve) come back as [`End::SetupFailed`].
pub fn run(
    plan: &Plan,
    who: &identity::JailIdentity,
    cgroup_parent: Option<&std::path::Path>,
    egress: Option<crate::net::Egress>,
) -> Result<(Outcome, Taken)> {
    let _span = tracing::debug_span!("supervisor").entered();
    single_threaded("check the supervisor is single-threaded")?;
    // Root's last act: the writable binds of other owners, idmapped (see idmap.rs).
    let trees = idmap::prepare(&plan.policy.filesystem.binds, who)?;
    // Started as root: the one capability that writes the jail's id maps is kept, until then.
    let maps_cap = drop_root(who, true)?;
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    // The jail's cgroup, made (with its limits) before the jail exists, so no process of the
    // jail ever runs outside it. Removed below, after the jail has ended, whatever happened.
    let cgroup = cgroup_parent
        .map(|parent| jail_cgroup(parent, &plan.policy.limits))
        .transpose()?;
    let result = run_in(plan, uid, gid, cgroup.as_ref(), trees, maps_cap, egress);
    let mut outcome = match (result, &cgroup) {
        (Ok((mut o, mut t)), Some(cg)) => {
            // The cgroup's account and its removal need pid 1 gone.
            drop(t.pid1.take());
            o.cgroup = Some(cg.events());
            Ok((o, t))
        }
        (r, _) => r,
    };
    if let Some(cg) = cgroup {
        if let Err(e) = cg.remove() {
            let w = format!(
                "could not remove the jail cgroup {}: {e}; remove it with rmdir",
                cg.dir().display()
            );
            // Said once: through the report's warnings (which `run` prints), or here when
            // there is no outcome to carry it.
            match &mut outcome {
                Ok((o, _)) => o.warnings.push(w),
                Err(_) => tracing::warn!("{w}"),
            }
        }
    }
    outcome
}

/// Create this run's cgroup below `parent`, named after the supervisor's pid.
pub(crate) fn jail_cgroup(
    parent: &std::path::Path,
    limits: &crate::policy::Limits,
) -> Result<crate::cgroup::JailCgroup> {
    let name = format!("tooljail-{}", std::process::id());
    crate::cgroup::JailCgroup::create(parent, &name, limits.memory, limits.processes).map_err(|e| {
        Error::setup(
            format!("create the jail cgroup {}", parent.join(&name).display()),
            &e,
        )
        .with_hint("check the delegated cgroup (tooljail doctor), or set require_cgroup = false")
    })
}

/// The jail itself: pipes, clone, id maps, cgroup membership, release, wait. `maps_cap`: a root
/// caller's kept capability, which writes the maps of a non-dumpable pid 1 (None: the caller is
/// unprivileged and writes the maps of a dumpable clone).
fn run_in(
    plan: &Plan,
    uid: u32,
    gid: u32,
    cgroup: Option<&crate::cgroup::JailCgroup>,
    trees: idmap::Trees,
    maps_cap: Option<identity::MapsCap>,
    egress: Option<crate::net::Egress>,
) -> Result<(Outcome, Taken)> {
    let (ends, child) = ends(plan, egress.as_ref(), trees)?;
    // Signals to forward are blocked and read from a signalfd (no handlers, no static state).
    // The jail's pid 1 inherits the mask and keeps it for its own signalfd.
    let (sfd, old_mask) = forward_signals()?;

    let started = Instant::now();
    let clone_span = tracing::debug_span!("clone and id maps").entered();
    // An unprivileged caller writes the child's id maps itself (see [`clone_pid1`]).
    let dumpable_clone = maps_cap.is_none();
    let (pid, pidfd) = match clone_pid1(plan, dumpable_clone) {
        Ok(Forked::Child) => {
            // Pid 1's capabilities are its own namespace's; the supervisor's to drop are not.
            std::mem::forget(maps_cap);
            drop((ends, sfd));
            crate::jail::init::pid1(plan, child, HostIds { uid, gid })
        }
        Ok(Forked::Parent {
            pid,
            pidfd: Some(pidfd),
        }) => (pid, pidfd),
        Ok(Forked::Parent { pidfd: None, .. }) => {
            return Err(Error::setup("clone3 (no pidfd returned)", libc::EINVAL))
        }
        Err(e) => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            return Err(e);
        }
    };
    drop(child);

    // Map our uid/gid to 0 in the jail's user namespace (a root caller's capability goes with
    // it), then start the threads (they inherit no capability) and release the child.
    let root = |outside| identity::IdMap { inside: 0, outside };
    let mapped = match maps_cap {
        Some(cap) => cap.write_maps(pid, gid),
        None => identity::write_id_maps(&pid.to_string(), root(uid), root(gid)),
    };
    if let Err(e) = mapped {
        let _ = process::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        let _ = wait::reap(pid);
        return Err(e);
    }
    let relay_rx = [ends.stdout_rx, ends.stderr_rx];
    let threads = Threads::start(plan, relay_rx, ends.egress_rx, egress, pid, pidfd.as_fd())?;
    release(pid, pidfd.as_fd(), cgroup, ends.sync_tx)?;
    drop(clone_span);

    let waited = wait::wait(
        wait::Jail {
            pid,
            pidfd,
            chan_rx: ends.chan_rx,
            signals: sfd,
            seccomp_rx: ends.seccomp_rx,
        },
        started,
        plan,
    );
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    threads.finish(waited, ends.scratch_rx)
}

/// The supervisor's ends of the pipes and sockets to the jail; pid 1's are [`ChildFds`].
struct Ends {
    sync_tx: OwnedFd,
    chan_rx: OwnedFd,
    seccomp_rx: OwnedFd,
    scratch_rx: Option<OwnedFd>,
    egress_rx: Option<OwnedFd>,
    stdout_rx: Option<OwnedFd>,
    stderr_rx: Option<OwnedFd>,
}

/// Every pipe and socket between the supervisor and the jail, made before the clone: the
/// supervisor's ends, and pid 1's.
fn ends(
    plan: &Plan,
    egress: Option<&crate::net::Egress>,
    trees: idmap::Trees,
) -> Result<(Ends, ChildFds)> {
    let pipe = |what: &str| {
        nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| Error::setup(format!("create the {what} pipe"), e as i32))
    };
    let (sync_rx, sync_tx) = pipe("sync")?;
    let (chan_rx, chan_tx) = pipe("channel")?;
    // The command sends its seccomp listener fd over this socket (SCM_RIGHTS).
    let (seccomp_rx, seccomp_tx) = handoff_socket()?;
    // Pid 1 sends the scratch root over this one, when the Policy exports.
    let (scratch_rx, scratch_tx) = match plan.policy.export.to {
        Some(_) => handoff_socket().map(|(rx, tx)| (Some(rx), Some(tx)))?,
        None => (None, None),
    };
    // Pid 1 sends the egress proxy's listening socket over this one, when the Policy has
    // allow_domains (src/net/).
    let (egress_rx, egress_tx) = match egress {
        Some(_) => handoff_socket().map(|(rx, tx)| (Some(rx), Some(tx)))?,
        None => (None, None),
    };
    // A capped stream is a pipe to the relay; an uncapped one stays the caller's descriptor.
    let relay_pipe = |cap: &Option<crate::policy::OutputCap>, what: &str| match cap {
        Some(_) => pipe(what).map(|(rx, tx)| (Some(rx), Some(tx))),
        None => Ok((None, None)),
    };
    let (stdout_rx, stdout_tx) = relay_pipe(&plan.policy.output.stdout, "stdout relay")?;
    let (stderr_rx, stderr_tx) = relay_pipe(&plan.policy.output.stderr, "stderr relay")?;
    Ok((
        Ends {
            sync_tx,
            chan_rx,
            seccomp_rx,
            scratch_rx,
            egress_rx,
            stdout_rx,
            stderr_rx,
        },
        ChildFds {
            sync_rx,
            chan_tx,
            seccomp_tx: Some(seccomp_tx),
            scratch_tx,
            egress_tx,
            egress_bundle: egress
                .and_then(crate::net::Egress::bundle)
                .map(|(at, pem)| (at.to_path_buf(), pem.to_string())),
            stdout_tx,
            stderr_tx,
            idmapped: trees,
        },
    ))
}

/// Clone the jail's pid 1 into the plan's namespaces. `dumpable_clone` (an unprivileged caller,
/// which writes the child's id maps itself) makes the supervisor dumpable for the clone only.
fn clone_pid1(plan: &Plan, dumpable_clone: bool) -> Result<Forked> {
    // Who writes the child's id maps decides whether anything is ever dumpable:
    // - a root caller's supervisor opens the /proc files of a non-dumpable child with the one
    //   capability it kept (identity::MapsCap), so neither the supervisor nor pid 1 is ever
    //   dumpable: no other host process of the jail's uid can read or rob them;
    // - an unprivileged caller writes them itself: the child inherits our dumpable flag and
    //   must be dumpable until then (a non-dumpable task's /proc/PID files belong to root).
    //   We are made non-dumpable again right after clone. Every process of this uid is the
    //   caller's own, which could read the caller's memory anyway.
    if dumpable_clone {
        nix::sys::prctl::set_dumpable(true)
            .map_err(|e| Error::setup("set dumpable for clone", e as i32))?;
    }
    let forked = process::clone3(plan.clone_flags);
    if dumpable_clone && !matches!(forked, Ok(Forked::Child)) {
        nix::sys::prctl::set_dumpable(false)
            .map_err(|e| Error::setup("set the supervisor non-dumpable", e as i32))?;
    }
    forked.map_err(|e| userns::clone_refused(crate::sys::errno_of(&e)))
}

/// The supervisor's threads beside the wait: the relays of capped streams and the egress proxy.
struct Threads {
    /// stdout's and stderr's.
    relays: [Option<crate::relay::Relay>; 2],
    proxy: Option<crate::net::Proxy>,
    /// Capped streams whose relay could not start.
    unrelayed: Vec<&'static str>,
}

impl Threads {
    /// Started after clone: the supervisor must be single-threaded until then. A proxy that
    /// cannot start ends the jail.
    fn start(
        plan: &Plan,
        [stdout_rx, stderr_rx]: [Option<OwnedFd>; 2],
        egress_rx: Option<OwnedFd>,
        egress: Option<crate::net::Egress>,
        pid: i32,
        pidfd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<Threads> {
        let relays = [
            (stdout_rx, plan.policy.output.stdout, 1, "stdout"),
            (stderr_rx, plan.policy.output.stderr, 2, "stderr"),
        ]
        .map(|(rx, cap, fd, name)| start_relay(rx, cap, fd, name));
        let proxy = match (egress_rx, egress) {
            (Some(rx), Some(e)) => Some(crate::net::Proxy::start(rx, e).map_err(|e| {
                let _ = process::pidfd_send_signal(pidfd, libc::SIGKILL);
                let _ = wait::reap(pid);
                Error::setup("start the egress proxy thread", &e)
            })?),
            _ => None,
        };
        let unrelayed = [
            (plan.policy.output.stdout, &relays[0], "stdout"),
            (plan.policy.output.stderr, &relays[1], "stderr"),
        ]
        .iter()
        .filter(|(cap, relay, _)| cap.is_some() && relay.is_none())
        .map(|(_, _, name)| *name)
        .collect();
        Ok(Threads {
            relays,
            proxy,
            unrelayed,
        })
    }

    /// After the wait, every process of the jail is gone (pid 1 is reaped, and the kernel killed
    /// the rest of its pid namespace first; or pid 1 killed and reaped the rest, closed its
    /// stdio and is exiting): the relays see EOF, and pid 1's hand-off is in the socket.
    fn finish(
        self,
        waited: Result<(Outcome, Option<wait::Exiting>)>,
        scratch_rx: Option<OwnedFd>,
    ) -> Result<(Outcome, Taken)> {
        let [stdout, stderr] = self.relays.map(|r| r.map(crate::relay::Relay::finish));
        let egress = self.proxy.map(crate::net::Proxy::finish);
        let scratch =
            scratch_rx.and_then(|rx| crate::sys::seccomp::recv_fd(rx.as_fd()).ok().flatten());
        let (mut outcome, pid1) = waited?;
        if let End::SetupFailed(e) = &mut outcome.end {
            userns::explain_eperm(e);
        }
        for name in self.unrelayed {
            outcome.warnings.push(format!(
                "the {name} relay could not start: the command's {name} was lost, not passed uncapped"
            ));
        }
        Ok((
            outcome,
            Taken {
                scratch,
                stdout,
                stderr,
                egress,
                pid1,
            },
        ))
    }
}

/// Start the relay of a capped stream: from the pipe's read end to a copy of our own
/// descriptor `fd` (1 or 2). A relay that cannot start leaves the stream unread; the jail's
/// writes then fail with EPIPE once the read end is closed, rather than reach the caller
/// uncapped.
fn start_relay(
    rx: Option<OwnedFd>,
    cap: Option<crate::policy::OutputCap>,
    fd: i32,
    name: &'static str,
) -> Option<crate::relay::Relay> {
    let (rx, cap) = (rx?, cap?);
    let to = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
        .ok()
        .map(crate::sys::fd::claim)?;
    crate::relay::Relay::start(rx, to, cap, name).ok()
}

/// The socket the command sends its seccomp listener fd over (SCM_RIGHTS): (supervisor's end,
/// command's end).
pub(crate) fn handoff_socket() -> Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::setup("create the seccomp hand-off socket", e as i32))
}

/// Block SIGINT, SIGTERM and SIGHUP and read them from a signalfd instead (no handlers, no
/// static state), to forward them to the jail. Returns the signalfd and the mask to restore.
/// What the supervisor forks inherits the mask (the jail's pid 1 keeps it for its own
/// signalfd).
pub(crate) fn forward_signals() -> Result<(SignalFd, SigSet)> {
    let mut forwarded = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        forwarded.add(sig);
    }
    let mut old_mask = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), Some(&mut old_mask))
        .map_err(|e| Error::setup("block forwarded signals", e as i32))?;
    let sfd = SignalFd::with_flags(&forwarded, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::setup("create a signalfd", e as i32))?;
    Ok((sfd, old_mask))
}

/// Move the child `pid` into the jail cgroup (when there is one) while it still waits for the
/// go byte, then send the go byte: everything it starts inherits the cgroup, so no process of
/// the jail escapes the limits. A child that cannot be moved is killed and reaped, and nothing
/// runs. If the go byte cannot be written the child sees EOF and leaves; the wait loop reports
/// it.
pub(crate) fn release(
    pid: i32,
    pidfd: std::os::fd::BorrowedFd<'_>,
    cgroup: Option<&crate::cgroup::JailCgroup>,
    sync_tx: OwnedFd,
) -> Result<()> {
    if let Some(cg) = cgroup {
        if let Err(e) = cg.add(pid) {
            let _ = process::pidfd_send_signal(pidfd, libc::SIGKILL);
            let _ = wait::reap(pid);
            return Err(
                Error::setup(format!("move the jail into {}", cg.dir().display()), &e)
                    .with_hint("the cgroup is not delegated to this user; see `tooljail doctor`"),
            );
        }
    }
    let _ = nix::unistd::write(&sync_tx, &[1]);
    Ok(())
}

/// The supervisor's first steps, in both isolation modes: check it is single-threaded (clone3
/// or fork in a multi-threaded process copies only this thread, with other threads' locks held
/// forever in the child), then, started as root, drop root ([`drop_root`]) before anything of
/// the jail exists, keeping no capability.
pub(crate) fn become_supervisor(who: &identity::JailIdentity) -> Result<()> {
    single_threaded("check the supervisor is single-threaded")?;
    drop_root(who, false).map(drop)
}

/// Started as root: zero the environment strings (the root caller's, which /proc/PID/environ
/// shows to whoever may read it; nothing after this point reads the environment: the Policy and
/// the plan hold what the jail needs), then become the jail's user (--user, or a transient uid).
/// A no-op for a caller that is not root. `for_maps`: see [`identity::become_jail_user`].
fn drop_root(who: &identity::JailIdentity, for_maps: bool) -> Result<Option<identity::MapsCap>> {
    if !nix::unistd::getuid().is_root() && !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    process::scrub_env().map_err(|e| Error::setup("scrub the supervisor's environment", &e))?;
    identity::become_jail_user(who, for_maps)
}

/// Fail (naming `step`) unless this process runs one thread: clone3 or fork in a
/// multi-threaded process copies only this thread, with other threads' locks held forever in
/// the child.
pub(crate) fn single_threaded(step: &str) -> Result<()> {
    let threads = process::thread_count().map_err(|e| Error::setup("count threads", &e))?;
    if threads != 1 {
        return Err(Error::setup(step, libc::EBUSY).with_hint(format!(
            "{threads} threads are running; this is a tooljail bug"
        )));
    }
    Ok(())
}
