//! The wait loop: poll over the jail's pidfd, our signalfd and the two pipes from the jail, with
//! the wall-clock deadline as the poll timeout. No signal handlers, no global state.

use super::notify::{Denial, Denials, Event, Notifier};
use super::observe::{Blocked, MAX_BLOCKED};
use super::witness::Witnessed;
use super::{End, Outcome};
use crate::channel::{self, Ended, Message};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::sys::process::{self, Rusage};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The supervisor's handles on a released jail.
pub struct Jail {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// Read end of the channel from pid 1 and the command ([`crate::channel`]).
    pub chan_rx: OwnedFd,
    pub signals: SignalFd,
    /// The socket the command sends its seccomp listener over.
    pub seccomp_rx: OwnedFd,
}

/// Reap the jail's pid 1, blocking until it is gone.
pub fn reap(pid: i32) -> Result<(i32, Rusage)> {
    loop {
        match process::wait4(pid, true) {
            Ok(Some(r)) => return Ok(r),
            Ok(None) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(Error::setup("wait for the jail", &e)),
        }
    }
}

/// Pid 1 after its last word ([`channel::Ended::alone`]): every other process of the jail is
/// dead and reaped, and pid 1 runs nothing but its own exit, in which the kernel takes the
/// jail's namespaces down. The supervisor goes on with the call meanwhile and reaps pid 1 when
/// this is dropped, before the call's transient uid is released and before tooljail exits.
#[derive(Debug)]
pub struct Exiting {
    pid: i32,
    /// Held until the reap (the unreaped zombie is what keeps the pid from reuse).
    _pidfd: OwnedFd,
}

impl Drop for Exiting {
    fn drop(&mut self) {
        if let Err(e) = reap(self.pid) {
            tracing::warn!("could not reap the jail's pid 1: {e}");
        }
    }
}

/// What the jail used, when pid 1's last message says it ended everything else
/// ([`channel::Ended::alone`]). Only a whole line counts: the message is written at once, but
/// may be read in two pieces.
fn last_word(buf: &[u8]) -> Option<channel::Used> {
    if buf.last() != Some(&b'\n') {
        return None;
    }
    channel::decode(buf).ok()?.iter().find_map(|m| match m {
        Message::Ended(e) => e.alone,
        Message::SetupFailed { .. } => None,
    })
}

/// Read what is available from `fd` into `buf`; false at EOF.
fn read_some(fd: &OwnedFd, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    match nix::unistd::read(fd.as_raw_fd(), &mut chunk) {
        Ok(0) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags));
    }
}

/// What the poll loop is waiting on, in the order of the poll set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Pid1,
    Signals,
    Channel,
    Handoff,
    Seccomp,
}

/// Wait for the jail to end, forwarding SIGINT/SIGTERM/SIGHUP to it, enforcing
/// `limits.wall_time` (SIGTERM to the command via pid 1, then SIGKILL to pid 1 after
/// `limits.kill_after`; the kernel then kills the whole pid namespace), and answering the
/// seccomp filter's notifications (each one a denied syscall, recorded by name). Ends when pid 1
/// is gone, or when its last word says it is alone ([`Exiting`], returned to be reaped later).
pub fn wait(jail: Jail, started: Instant, plan: &Plan) -> Result<(Outcome, Option<Exiting>)> {
    let limits = &plan.policy.limits;
    set_nonblocking(&jail.chan_rx);
    // A wall time too large to represent is no deadline at all.
    let deadline = started.checked_add(limits.wall_time);
    let mut kill_at: Option<Instant> = None;
    let mut timed_out = false;
    let mut grace_kill = false;
    let mut chan_buf = Vec::new();
    let mut chan_open = true;
    // The hand-off socket is polled until the listener arrives or the command side hangs up;
    // then never again (a hung-up socket would make poll return at once forever).
    let mut handoff_open = true;
    let mut notifier: Option<Notifier> = None;
    // With RLIMIT_NPROC (no cgroup counter), the jail's tasks are counted from outside every
    // SAMPLE_EVERY, for the report's evidence: the peak seen.
    let sampling = plan.limits.processes == crate::plan::limits::Mechanism::Rlimit;
    let mut next_sample = Instant::now();
    let mut tasks_peak: Option<u64> = None;
    let mut denials = Denials::default();
    let mut seccomp_kill: Option<Denial> = None;
    let mut blocked: Vec<Blocked> = Vec::new();
    let mut cancelled_by: Option<i32> = None;
    let mut witnessed = Witnessed::default();
    let mut observed = None;
    // Pid 1's last word, once the channel has brought it ([`last_word`]).
    let mut alone = None;
    let pid1_gone = loop {
        let now = Instant::now();
        if !timed_out && deadline.is_some_and(|d| now >= d) {
            tracing::debug!("wall-clock limit reached: SIGTERM to the command");
            timed_out = true;
            let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), libc::SIGTERM);
            kill_at = Some(now.checked_add(limits.kill_after).unwrap_or(now));
        }
        if kill_at.is_some_and(|k| now >= k) {
            tracing::debug!("grace period over: SIGKILL to the jail");
            let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), libc::SIGKILL);
            kill_at = None;
            grace_kill = true;
        }
        if sampling && now >= next_sample {
            if let Some(n) = count_jail_tasks(jail.pid) {
                tasks_peak = Some(tasks_peak.unwrap_or(0).max(n));
            }
            next_sample = now + sample_interval(now.elapsed());
        }
        let next = if timed_out { kill_at } else { deadline };
        let next = match (next, sampling) {
            (Some(t), true) => Some(t.min(next_sample)),
            (None, true) => Some(next_sample),
            (t, false) => t,
        };
        let timeout = match next {
            // Round up so we never wake a hair early and spin.
            Some(t) => {
                PollTimeout::try_from(t.saturating_duration_since(now) + Duration::from_millis(1))
                    .unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut sources = vec![Source::Pid1, Source::Signals];
        let mut fds = vec![
            PollFd::new(jail.pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(jail.signals.as_fd(), PollFlags::POLLIN),
        ];
        if chan_open {
            sources.push(Source::Channel);
            fds.push(PollFd::new(jail.chan_rx.as_fd(), PollFlags::POLLIN));
        }
        if handoff_open {
            sources.push(Source::Handoff);
            fds.push(PollFd::new(jail.seccomp_rx.as_fd(), PollFlags::POLLIN));
        }
        if let Some(n) = &notifier {
            sources.push(Source::Seccomp);
            fds.push(PollFd::new(n.fd(), PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::setup("poll the jail", e as i32)),
        }
        let ready: Vec<(Source, PollFlags)> = sources
            .iter()
            .zip(&fds)
            .filter_map(|(s, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (*s, r)))
            .collect();
        drop(fds);
        let mut pid_done = false;
        for (source, revents) in ready {
            match source {
                Source::Pid1 => pid_done = true,
                Source::Signals => {
                    while let Ok(Some(info)) = jail.signals.read_signal() {
                        tracing::debug!(signal = info.ssi_signo, "forwarding to the jail");
                        let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
                        // The caller cancelled the call; the first such signal is recorded.
                        cancelled_by.get_or_insert(sig);
                        let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), sig);
                    }
                }
                Source::Channel => {
                    chan_open = read_some(&jail.chan_rx, &mut chan_buf);
                    alone = last_word(&chan_buf);
                }
                Source::Handoff => {
                    handoff_open = false;
                    // POLLHUP without data: the command failed before installing the filter;
                    // the channel says why.
                    if revents.contains(PollFlags::POLLIN) {
                        match Notifier::from_handoff(jail.seccomp_rx.as_fd(), &plan.seccomp) {
                            Ok(n) => notifier = Some(n),
                            Err(e) => tracing::debug!(error = %e, "no seccomp listener"),
                        }
                    }
                }
                Source::Seccomp => {
                    if revents.contains(PollFlags::POLLIN) {
                        let event = notifier
                            .as_mut()
                            .map(|n| n.handle(Some(&plan.policy)))
                            .transpose()?
                            .flatten();
                        if let Some(Event::Blocked(b)) = event {
                            if blocked.len() < MAX_BLOCKED && !blocked.contains(&b) {
                                blocked.push(b);
                            }
                        } else if let Some(Event::Denied(d)) = event {
                            denials.record(&d);
                            if d.kill && seccomp_kill.is_none() {
                                tracing::debug!(syscall = %d.name, "seccomp kill: SIGKILL to the jail");
                                let _ =
                                    process::pidfd_send_signal(jail.pidfd.as_fd(), libc::SIGKILL);
                                seccomp_kill = Some(d);
                            }
                        }
                    } else if let Some(n) = notifier.take() {
                        // POLLHUP: every process under the filter has exited.
                        witnessed = n.witnessed().clone();
                        observed = n.observed().cloned();
                    }
                }
            }
        }
        if pid_done || alone.is_some() {
            break pid_done;
        }
    };
    if let Some(n) = &notifier {
        witnessed = n.witnessed().clone();
        observed = n.observed().cloned();
    }
    let (pid1_status, rusage, exiting) = match alone {
        // Pid 1 killed and reaped the rest of the jail and said so: it is ending, and is reaped
        // before the call ends ([`Exiting`]).
        Some(used) if !pid1_gone => (
            0,
            Rusage {
                user_time: Duration::from_micros(used.user_us),
                system_time: Duration::from_micros(used.system_us),
                max_rss_kib: used.max_rss_kib,
            },
            Some(Exiting {
                pid: jail.pid,
                _pidfd: jail.pidfd,
            }),
        ),
        _ => {
            let (status, rusage) = reap(jail.pid)?;
            // Every process of the jail is gone now (the pid namespace died with pid 1), so
            // the channel is at EOF after what was written.
            while chan_open && read_some(&jail.chan_rx, &mut chan_buf) {}
            (status, rusage, None)
        }
    };
    let duration = started.elapsed();
    let (end, ended) = match channel::decode(&chan_buf) {
        Ok(messages) => decide(&messages, timed_out, pid1_status),
        Err(e) => (End::SetupFailed(e), None),
    };
    let tasks_at_end = ended.and_then(|e| e.tasks).filter(|n| *n > 0);
    let scratch = ended
        .and_then(|e| e.scratch)
        .filter(|s| s.total > 0)
        .map(|s| (s.used, s.total));
    let outcome = Outcome {
        scratch,
        grace_kill,
        tasks_at_end,
        // Sampled every 10 ms from outside, so a shorter burst (or a whole short run) is missed;
        // pid 1's count at the end is a floor of the peak.
        tasks_peak: tasks_peak.max(tasks_at_end),
        witnessed,
        cgroup: None,
        warnings: Vec::new(),
        end,
        duration,
        rusage,
        denials,
        seccomp_kill,
        cancelled_by,
        blocked,
        observed,
    };
    Ok((outcome, exiting))
}

/// How often the supervisor counts the jail's tasks when RLIMIT_NPROC enforces the limit.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// The next sample's delay after a walk that took `walk`: [`SAMPLE_EVERY`], or longer for a
/// jail so large that walking it every 10 ms would cost more than [`SAMPLE_SHARE`] of a CPU.
fn sample_interval(walk: Duration) -> Duration {
    SAMPLE_EVERY.max(walk.saturating_mul(SAMPLE_SHARE))
}

/// The sampler takes at most 1/SAMPLE_SHARE of a CPU.
const SAMPLE_SHARE: u32 = 50;

/// Tasks (processes and threads) of the jail: `pid1` and every descendant, found from the host
/// through /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), each process counted once with
/// all its threads. A process that exits or is re-parented during the walk may be missed or, in
/// rare churn, counted beside its replacement; docs/limits.md says so. `None` when the kernel
/// lacks the `children` file.
fn count_jail_tasks(pid1: i32) -> Option<u64> {
    let first = format!("/proc/{pid1}/task/{pid1}/children");
    if std::fs::metadata(&first).is_err() {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![pid1];
    let mut tasks = 0;
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in threads.flatten() {
            tasks += 1;
            if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                stack.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }
    Some(tasks)
}

/// How the jail ended, from the messages it sent (in order), whether the timeout fired, and
/// pid 1's own wait status (meaningful only when pid 1 died without reporting). Also pid 1's
/// report, when it sent one.
fn decide(messages: &[Message], timed_out: bool, pid1_status: i32) -> (End, Option<Ended>) {
    let ended = messages.iter().find_map(|m| match m {
        Message::Ended(e) => Some(*e),
        Message::SetupFailed { .. } => None,
    });
    // The first setup error is the cause; a later one (if any) is a consequence.
    if let Some(error) = messages.iter().find_map(|m| match m {
        Message::SetupFailed { error } => Some(error.clone()),
        Message::Ended(_) => None,
    }) {
        return (End::SetupFailed(error), ended);
    }
    if timed_out {
        return (End::TimedOut, ended);
    }
    // Pid 1 died without reporting: it was killed from outside (e.g. the OOM killer).
    let raw = ended.map_or(pid1_status, |e| e.wait_status);
    let end = if libc::WIFEXITED(raw) {
        End::Exited(libc::WEXITSTATUS(raw))
    } else if libc::WIFSIGNALED(raw) {
        End::Signaled(libc::WTERMSIG(raw))
    } else {
        End::SetupFailed(Error::setup(
            "decode the command's wait status",
            libc::EPROTO,
        ))
    };
    (end, ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampler_slows_down_only_for_walks_that_would_cost_more_than_its_share() {
        assert_eq!(sample_interval(Duration::from_micros(50)), SAMPLE_EVERY);
        assert_eq!(sample_interval(Duration::from_micros(200)), SAMPLE_EVERY);
        assert_eq!(
            sample_interval(Duration::from_millis(2)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn only_a_whole_last_word_that_says_alone_ends_the_wait_early() {
        let used = channel::Used {
            user_us: 10,
            system_us: 20,
            max_rss_kib: 30,
        };
        let ended = |alone| {
            channel::encode(&Message::Ended(Ended {
                wait_status: 0,
                scratch: None,
                tasks: Some(1),
                alone,
            }))
        };
        let failed = channel::encode(&Message::SetupFailed {
            error: Error::setup("bind /x read-only", libc::ENOENT),
        });
        assert_eq!(last_word(&ended(Some(used))), Some(used));
        // Pid 1 could not end the rest: the wait goes on until pid 1 is gone.
        assert_eq!(last_word(&ended(None)), None);
        assert_eq!(last_word(&failed), None);
        assert_eq!(last_word(b""), None);
        // Half a line is not a word yet.
        let whole = ended(Some(used));
        assert_eq!(last_word(&whole[..whole.len() - 1]), None);
        assert_eq!(last_word(&whole[..whole.len() / 2]), None);
        // After a setup error, still the end of the wait (decide() keeps the error as the cause).
        let both = [failed, whole].concat();
        assert_eq!(last_word(&both), Some(used));
    }

    #[test]
    fn the_channel_decides_unless_an_error_or_timeout_came_first() {
        let ended = |wait_status| {
            Message::Ended(Ended {
                wait_status,
                scratch: None,
                tasks: None,
                alone: None,
            })
        };
        let end = |m: &[Message], timed_out, pid1| decide(m, timed_out, pid1).0;
        assert_eq!(end(&[ended(7 << 8)], false, 0), End::Exited(7));
        assert_eq!(end(&[ended(15)], false, 0), End::Signaled(15));
        assert_eq!(end(&[], true, 9), End::TimedOut);
        assert_eq!(end(&[], false, 9), End::Signaled(9));
        let e = Error::setup("bind /x read-only", libc::ENOENT);
        let first = Message::SetupFailed { error: e.clone() };
        let second = Message::SetupFailed {
            error: Error::setup("later", libc::EIO),
        };
        assert_eq!(
            end(&[first, second, ended(0)], true, 0),
            End::SetupFailed(e)
        );
    }
}
