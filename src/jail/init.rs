//! Pid 1 of the jail's pid namespace: builds the jail, forks the command, then stays a minimal
//! init that reaps every child, forwards signals to the command, and reports the command's exact
//! wait status to the supervisor. When pid 1 exits, the kernel kills everything left in the pid
//! namespace (daemons included).

use super::{report, step, ChildFds, HostIds};
use crate::channel::{self, Ended, Message, Scratch};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::sys::{net, process};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsFd, AsRawFd};

/// Signals pid 1 takes through its signalfd. SIGCHLD drives reaping; the rest are forwarded to
/// the command (the supervisor forwards SIGINT/SIGTERM/SIGHUP to us).
const WATCHED: &[Signal] = &[
    Signal::SIGCHLD,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The jail's pid 1, right after clone. `ids`: the host uid and gid the jail runs as (uid 0
/// and gid 0 of the jail's user namespace, once the supervisor has written the maps). Never
/// returns.
pub fn pid1(plan: &Plan, mut fds: ChildFds, ids: HostIds) -> ! {
    match run(plan, &mut fds, ids) {
        Ok(never) => match never {},
        Err(e) => {
            report(fds.chan_tx.as_fd(), &e);
            process::exit_now(e.exit_code())
        }
    }
}

fn run(plan: &Plan, fds: &mut ChildFds, ids: HostIds) -> Result<std::convert::Infallible> {
    // 0. Pid 1 holds no secret: its argv and environment memory (the caller's, copied by clone)
    //    are zeroed before anything else, so /proc/1/cmdline and /proc/1/environ show nothing.
    process::scrub_args_and_env().map_err(step("scrub pid 1's argv and environment"))?;
    // 1. Die with the supervisor; then wait for it to write our id maps. EOF without the go
    //    byte means it died before PR_SET_PDEATHSIG took effect: leave quietly.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| step("set PR_SET_PDEATHSIG")(e.into()))?;
    // 2. Keep no fd of the caller's.
    keep_own_fds(fds)?;
    //    The new root's bind sources, copied while the supervisor writes our id maps, which
    //    they do not need (rootfs::sources); a failure is reported once the maps are written,
    //    as every step after them is.
    let trees = std::mem::take(&mut fds.idmapped);
    let sources = super::rootfs::sources(&plan.policy, ids.uid, trees);
    //    Every signal's action back to the default, in that wait too, for the command pid 1
    //    forks: a signal the caller left ignored would stay ignored through its execve. Pid 1's
    //    own signals are blocked and read from a signalfd, so their actions do not matter here.
    process::default_dispositions();
    let mut go = [0u8; 1];
    match nix::unistd::read(fds.sync_rx.as_raw_fd(), &mut go) {
        Ok(1) => {}
        _ => process::exit_now(0),
    }
    //    The id maps are written: from now on not dumpable (no ptrace, no /proc/1/mem, environ
    //    or fd for the command, nor for other host processes of the jail's uid).
    nix::sys::prctl::set_dumpable(false).map_err(|e| step("set pid 1 non-dumpable")(e.into()))?;
    // 3. The rest of the new root: scratch, binds, /proc (where the IPC namespace's limits are
    //    set first), /dev; pivot_root. Then what goes into the scratch or out of it.
    super::rootfs::build(&plan.policy, plan.limits.ipc, sources?)?;
    scratch_handoffs(plan, fds)?;
    // 4. Hostname of the private UTS namespace.
    nix::unistd::sethostname(&plan.policy.hostname).map_err(|e| step("set hostname")(e.into()))?;
    // 5. A private network namespace starts with lo down; bring it up.
    if plan.private_net {
        net::interface_up("lo").map_err(step("bring lo up"))?;
    }
    if let Some(tx) = fds.egress_tx.take() {
        egress_sockets(tx.as_fd())?;
    }
    // 6. Signals arrive through a signalfd; blocked before the fork so none is lost.
    let sfd = watch_signals()?;
    // 7. Fork the command.
    let command = fork_command(plan, fds, ids)?;
    // 8. Lock pid 1 down too: no capability, no new privileges.
    super::caps::drop_all(false)?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| step("set no_new_privs in pid 1")(e.into()))?;
    // 9. Minimal init until the command ends.
    let status = supervise(command, &sfd)?;
    // 10, 11. The last word, and our exit.
    last_word(plan, fds, status, &sfd)
}

/// Close every fd but our pipe ends, the seccomp, scratch and egress hand-offs, the idmapped
/// trees and the relay pipes. A capped stream's pipe takes the place of the caller's
/// descriptor, so nothing in the jail holds that one.
fn keep_own_fds(fds: &mut ChildFds) -> Result<()> {
    let mut keep = vec![fds.sync_rx.as_raw_fd(), fds.chan_tx.as_raw_fd()];
    for fd in [
        &fds.seccomp_tx,
        &fds.scratch_tx,
        &fds.egress_tx,
        &fds.stdout_tx,
        &fds.stderr_tx,
    ] {
        keep.extend(fd.as_ref().map(|f| f.as_raw_fd()));
    }
    keep.extend(fds.idmapped.iter().flatten().map(|f| f.as_raw_fd()));
    process::close_fds_except(&keep).map_err(step("close inherited fds"))?;
    for (pipe, to) in [(fds.stdout_tx.take(), 1), (fds.stderr_tx.take(), 2)] {
        if let Some(pipe) = pipe {
            nix::unistd::dup2(pipe.as_raw_fd(), to)
                .map_err(|e| step("make the output relay's pipe the jail's stdio")(e.into()))?;
        }
    }
    Ok(())
}

/// Once the new root is built: the scratch handed to the supervisor when the Policy exports,
/// and the egress CA bundle written into it when a credential terminates TLS.
fn scratch_handoffs(plan: &Plan, fds: &mut ChildFds) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // The export stage reads the scratch after the jail is gone: hand the supervisor an O_PATH
    // fd of its root now (it keeps the tmpfs alive after the mount namespace dies; taken before
    // the command exists, so neither a timeout nor the command can prevent it).
    if let Some(tx) = fds.scratch_tx.take() {
        let root = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&plan.policy.filesystem.scratch.path)
            .map_err(step("open the scratch for export"))?;
        crate::sys::seccomp::send_fd(tx.as_fd(), root.as_fd(), 0)
            .map_err(step("hand the scratch to the supervisor"))?;
    }
    // With a `terminate_tls` credential, the CA bundle the command trusts, in the scratch (a
    // fresh tmpfs: the name cannot exist yet).
    if let Some((at, pem)) = fds.egress_bundle.take() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(&at)
            .and_then(|mut f| std::io::Write::write_all(&mut f, pem.as_bytes()))
            .map_err(step(format!("write the egress CA bundle {}", at.display())))?;
    }
    Ok(())
}

/// With allow_domains, the egress proxy's socket: made here, in the jail's namespace (so the
/// command reaches it on 127.0.0.1), listened on by the supervisor, which connects out from the
/// host's network (src/net/). The command never holds it.
fn egress_sockets(tx: std::os::fd::BorrowedFd<'_>) -> Result<()> {
    let at = std::net::SocketAddr::from(([127, 0, 0, 1], crate::policy::PROXY_PORT));
    let listener = std::net::TcpListener::bind(at).map_err(step("listen for the egress proxy"))?;
    // And its resolver's socket, where glibc asks when the profile binds no /etc/resolv.conf
    // (port 53: we hold CAP_NET_BIND_SERVICE over this namespace).
    let dns = std::net::UdpSocket::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 53)))
        .map_err(step("bind the egress resolver on 127.0.0.1:53"))?;
    for sock in [listener.as_fd(), dns.as_fd()] {
        crate::sys::seccomp::send_fd(tx, sock, 0)
            .map_err(step("hand the egress proxy's sockets to the supervisor"))?;
    }
    Ok(())
}

/// Block the [`WATCHED`] signals and take them from a signalfd.
fn watch_signals() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for &sig in WATCHED {
        mask.add(sig);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .map_err(|e| step("block signals in pid 1")(e.into()))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| step("signalfd in pid 1")(e.into()))
}

/// Fork the command. It keeps nothing above stdio: it is dumpable for a moment while it writes
/// its nested user namespace's maps (jail::exec), and takes its two channels to the supervisor
/// from us only after that, over a socket only it may use (handoff.rs). Returns its pid.
fn fork_command(plan: &Plan, fds: &mut ChildFds, ids: HostIds) -> Result<i32> {
    let listener = super::handoff::listen()?;
    let command = match process::fork().map_err(step("fork the command"))? {
        process::Forked::Child => {
            // This branch never returns, so the Rust owners of the closed fds are never
            // dropped.
            if let Err(e) = process::close_fds_except(&[]) {
                let e = step("close pid 1's fds in the command")(e);
                report(fds.chan_tx.as_fd(), &e);
                process::exit_now(e.exit_code());
            }
            super::exec::become_command(
                plan,
                None,
                Some(super::exec::Nest {
                    ids,
                    handoff: listener.name(),
                }),
            )
        }
        process::Forked::Parent { pid, .. } => pid,
    };
    // The command's nested user namespace: its maps opened and written by us (nest.rs).
    super::nest::map(command, ids)?;
    let mut give = vec![fds.chan_tx.as_fd()];
    give.extend(fds.seccomp_tx.as_ref().map(|f| f.as_fd()));
    listener.give(command, &give)?;
    // Only the command sends the seccomp listener; our copy would keep the supervisor from
    // seeing the socket hang up if the command fails before installing the filter.
    drop(fds.seccomp_tx.take());
    Ok(command)
}

/// Once the command has ended with wait status `status`: end the rest of the jail, report to
/// the supervisor, and exit.
fn last_word(plan: &Plan, fds: &ChildFds, status: i32, sfd: &SignalFd) -> ! {
    // 10. Report the exact wait status, how full scratch was (evidence for scratch_full) and
    //     how many tasks the jail held as the command ended (evidence for processes), counted
    //     before step 11 ends them.
    let counted = count_tasks();
    let tasks = match counted {
        0 => None,
        n => Some(n + 1), // + the command, just reaped
    };
    let scratch = nix::sys::statvfs::statvfs(&plan.policy.filesystem.scratch.path)
        .ok()
        .map(|v| {
            let frsize = v.fragment_size();
            let total = v.blocks() * frsize;
            Scratch {
                used: total - v.blocks_free() * frsize,
                total,
            }
        });
    // 11. Everything else of the jail killed and reaped here, so the last word can say that
    //     nothing of it runs any more: the supervisor need not wait for the kernel to take the
    //     namespaces down (it reaps us before the call ends).
    let alone = end_the_rest(sfd, counted == 1);
    //     Our stdio last: a capped stream's relay sees its end now, not at our exit.
    for fd in 0..=2 {
        let _ = nix::unistd::close(fd);
    }
    channel::send(
        fds.chan_tx.as_fd(),
        &Message::Ended(Ended {
            wait_status: status,
            scratch,
            tasks,
            alone,
        }),
    );
    process::exit_now(0)
}

/// Kill every other process of this pid namespace and reap them all, then return what the jail
/// used (ours plus our children's, what wait4 on us would say). `kill(-1)` from a pid
/// namespace's init reaches every process of the namespace but itself; orphans are re-parented
/// to us, so once waitpid says there is no child left, nothing of the jail but pid 1 exists.
/// Killing again after each reap covers a process forked while the kill went round. `None`
/// when a step fails unexpectedly, or when something is still not gone after [`END_WAIT`] (a
/// process in an uninterruptible wait, or one a security module keeps our signal from): the
/// supervisor then waits for our exit, in which the kernel kills and reaps the rest.
///
/// `counted_alone`: the count of this namespace's tasks just made saw pid 1 alone (the usual
/// end: the command left nothing behind). Then no process is left that could fork, and the
/// kill is skipped when a wait also finds no child: `kill(-1)` walks every process of the host
/// (2 µs with 80 processes on it, 75 µs with 3000: the orchestrator's busy host pays most).
fn end_the_rest(sfd: &SignalFd, counted_alone: bool) -> Option<channel::Used> {
    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    // kill(-1) anywhere but in a jail's own pid namespace would reach every process of the
    // user: only its pid 1 may do this.
    if nix::unistd::getpid().as_raw() != 1 {
        return None;
    }
    let deadline = std::time::Instant::now() + END_WAIT;
    let all = nix::unistd::Pid::from_raw(-1);
    let reap = || waitpid(all, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG));
    // Alone by the count, and no child left to reap: nothing to kill (a child the wait finds
    // after all, a zombie the count missed, is reaped and the loop below goes on as usual).
    let nothing_left = counted_alone && matches!(reap(), Err(Errno::ECHILD));
    if !nothing_left {
        loop {
            match nix::sys::signal::kill(all, Signal::SIGKILL) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(_) => return None,
            }
            match reap() {
                // Children left, none ended yet: wait for SIGCHLD (our signalfd has it), or
                // give up.
                Ok(WaitStatus::StillAlive) => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
                    let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
                    if matches!(nix::poll::poll(&mut fds, timeout), Ok(n) if n > 0) {
                        // SIGCHLD, or a signal for the command, which is gone.
                        let _ = sfd.read_signal();
                    }
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => break,
                Err(_) => return None,
            }
        }
    }
    let us = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let children = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let micros = |tv: nix::sys::time::TimeVal| {
        u64::try_from(tv.tv_sec()).unwrap_or(0) * 1_000_000
            + u64::try_from(tv.tv_usec()).unwrap_or(0)
    };
    Some(channel::Used {
        user_us: micros(us.user_time()) + micros(children.user_time()),
        system_us: micros(us.system_time()) + micros(children.system_time()),
        max_rss_kib: u64::try_from(us.max_rss().max(children.max_rss())).unwrap_or(0),
    })
}

/// How long pid 1 waits for the rest of the jail to die after SIGKILL before it leaves that to
/// the kernel ([`end_the_rest`]).
const END_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Tasks (processes and threads) alive in this pid namespace, pid 1 included, from the jail's
/// own /proc. The jail's user namespace and pid namespace hold the same tasks, so this is what
/// RLIMIT_NPROC counts. Tasks that vanish while counting are skipped.
fn count_tasks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read_dir(e.path().join("task")).ok())
        .map(|tasks| tasks.count() as u64)
        .sum()
}

/// Reap every child; forward other signals to the command's process group (it called setsid,
/// so its pgid is its pid; before that, to the command alone). Returns the command's raw wait
/// status.
fn supervise(command: i32, sfd: &SignalFd) -> Result<i32> {
    loop {
        while let Some((pid, status)) = process::reap_any().map_err(step("reap children"))? {
            if pid == command {
                return Ok(status);
            }
        }
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::setup("read signals in pid 1", e as i32)),
        };
        let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
        if sig == libc::SIGCHLD {
            continue;
        }
        let Ok(sig) = Signal::try_from(sig) else {
            continue;
        };
        let pgid = nix::unistd::Pid::from_raw(-command);
        if nix::sys::signal::kill(pgid, sig).is_err() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(command), sig);
        }
    }
}
