//! The wait loop: poll over the jail's pidfd, our signalfd and the two pipes from the jail, with
//! the wall-clock deadline as the poll timeout. No signal handlers, no global state.

use super::learning::Observed;
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
    set_nonblocking(&jail.chan_rx);
    let mut clock = Clock::new(started, plan);
    let mut seen = Seen::default();
    let pid1_gone = loop {
        let now = Instant::now();
        clock.tick(now, &jail);
        let mut pid_done = false;
        for (source, revents) in seen.poll(&jail, clock.timeout(now))? {
            match source {
                Source::Pid1 => pid_done = true,
                Source::Signals => seen.forward_signals(&jail),
                Source::Channel => seen.read_channel(&jail),
                Source::Handoff => seen.take_listener(&jail, revents, plan),
                Source::Seccomp => seen.answer(&jail, revents, plan)?,
            }
        }
        if pid_done || seen.alone.is_some() {
            break pid_done;
        }
    };
    seen.finish(jail, pid1_gone, started, &clock)
}

/// The wait's timers: the wall-clock deadline, the grace period after it, and the task sampler.
struct Clock {
    /// `None`: a wall time too large to represent is no deadline at all.
    deadline: Option<Instant>,
    /// The grace period after the deadline's SIGTERM.
    kill_after: Duration,
    kill_at: Option<Instant>,
    timed_out: bool,
    grace_kill: bool,
    /// With RLIMIT_NPROC (no cgroup counter), the jail's tasks are counted from outside every
    /// SAMPLE_EVERY, for the report's evidence: the peak seen.
    sampling: bool,
    next_sample: Instant,
    tasks_peak: Option<u64>,
}

impl Clock {
    fn new(started: Instant, plan: &Plan) -> Clock {
        Clock {
            deadline: started.checked_add(plan.policy.limits.wall_time),
            kill_after: plan.policy.limits.kill_after,
            kill_at: None,
            timed_out: false,
            grace_kill: false,
            sampling: plan.limits.processes == crate::plan::limits::Mechanism::Rlimit,
            next_sample: Instant::now(),
            tasks_peak: None,
        }
    }

    /// Act on whatever is due at `now`: the deadline's SIGTERM, the grace period's SIGKILL, a
    /// count of the jail's tasks.
    fn tick(&mut self, now: Instant, jail: &Jail) {
        if !self.timed_out && self.deadline.is_some_and(|d| now >= d) {
            tracing::debug!("wall-clock limit reached: SIGTERM to the command");
            self.timed_out = true;
            let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), libc::SIGTERM);
            self.kill_at = Some(now.checked_add(self.kill_after).unwrap_or(now));
        }
        if self.kill_at.is_some_and(|k| now >= k) {
            tracing::debug!("grace period over: SIGKILL to the jail");
            let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), libc::SIGKILL);
            self.kill_at = None;
            self.grace_kill = true;
        }
        if self.sampling && now >= self.next_sample {
            if let Some(n) = count_jail_tasks(jail.pid) {
                self.tasks_peak = Some(self.tasks_peak.unwrap_or(0).max(n));
            }
            self.next_sample = now + sample_interval(now.elapsed());
        }
    }

    /// How long the poll may sleep: until the next timer, if any.
    fn timeout(&self, now: Instant) -> PollTimeout {
        let next = if self.timed_out {
            self.kill_at
        } else {
            self.deadline
        };
        let next = match (next, self.sampling) {
            (Some(t), true) => Some(t.min(self.next_sample)),
            (None, true) => Some(self.next_sample),
            (t, false) => t,
        };
        match next {
            // Round up so we never wake a hair early and spin.
            Some(t) => {
                PollTimeout::try_from(t.saturating_duration_since(now) + Duration::from_millis(1))
                    .unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        }
    }
}

/// What the wait has heard from the jail so far.
struct Seen {
    chan_buf: Vec<u8>,
    chan_open: bool,
    /// The hand-off socket is polled until the listener arrives or the command side hangs up;
    /// then never again (a hung-up socket would make poll return at once forever).
    handoff_open: bool,
    notifier: Option<Notifier>,
    denials: Denials,
    seccomp_kill: Option<Denial>,
    blocked: Vec<Blocked>,
    cancelled_by: Option<i32>,
    witnessed: Witnessed,
    observed: Option<Observed>,
    /// Pid 1's last word, once the channel has brought it ([`last_word`]).
    alone: Option<channel::Used>,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            chan_buf: Vec::new(),
            chan_open: true,
            handoff_open: true,
            notifier: None,
            denials: Denials::default(),
            seccomp_kill: None,
            blocked: Vec::new(),
            cancelled_by: None,
            witnessed: Witnessed::default(),
            observed: None,
            alone: None,
        }
    }
}

impl Seen {
    /// Poll pid 1's pidfd, the signalfd, and whichever of the channel, the hand-off socket and
    /// the seccomp listener are still open; the sources that are ready, in the poll set's order.
    fn poll(&self, jail: &Jail, timeout: PollTimeout) -> Result<Vec<(Source, PollFlags)>> {
        let mut sources = vec![Source::Pid1, Source::Signals];
        let mut fds = vec![
            PollFd::new(jail.pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(jail.signals.as_fd(), PollFlags::POLLIN),
        ];
        if self.chan_open {
            sources.push(Source::Channel);
            fds.push(PollFd::new(jail.chan_rx.as_fd(), PollFlags::POLLIN));
        }
        if self.handoff_open {
            sources.push(Source::Handoff);
            fds.push(PollFd::new(jail.seccomp_rx.as_fd(), PollFlags::POLLIN));
        }
        if let Some(n) = &self.notifier {
            sources.push(Source::Seccomp);
            fds.push(PollFd::new(n.fd(), PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::setup("poll the jail", e as i32)),
        }
        Ok(sources
            .iter()
            .zip(&fds)
            .filter_map(|(s, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (*s, r)))
            .collect())
    }

    /// The caller cancelled the call: each signal goes on to the jail, and the first is recorded.
    fn forward_signals(&mut self, jail: &Jail) {
        while let Ok(Some(info)) = jail.signals.read_signal() {
            tracing::debug!(signal = info.ssi_signo, "forwarding to the jail");
            let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
            self.cancelled_by.get_or_insert(sig);
            let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), sig);
        }
    }

    fn read_channel(&mut self, jail: &Jail) {
        self.chan_open = read_some(&jail.chan_rx, &mut self.chan_buf);
        self.alone = last_word(&self.chan_buf);
    }

    /// The command's seccomp listener, once. POLLHUP without data: the command failed before
    /// installing the filter; the channel says why.
    fn take_listener(&mut self, jail: &Jail, revents: PollFlags, plan: &Plan) {
        self.handoff_open = false;
        if revents.contains(PollFlags::POLLIN) {
            match Notifier::from_handoff(jail.seccomp_rx.as_fd(), &plan.seccomp) {
                Ok(n) => self.notifier = Some(n),
                Err(e) => tracing::debug!(error = %e, "no seccomp listener"),
            }
        }
    }

    /// Answer one seccomp notification; a denial whose rule kills ends the jail. POLLHUP: every
    /// process under the filter has exited, and what the listener saw is kept.
    fn answer(&mut self, jail: &Jail, revents: PollFlags, plan: &Plan) -> Result<()> {
        if !revents.contains(PollFlags::POLLIN) {
            if let Some(n) = self.notifier.take() {
                self.witnessed = n.witnessed().clone();
                self.observed = n.observed().cloned();
            }
            return Ok(());
        }
        let event = self
            .notifier
            .as_mut()
            .map(|n| n.handle(Some(&plan.policy)))
            .transpose()?
            .flatten();
        if let Some(Event::Blocked(b)) = event {
            if self.blocked.len() < MAX_BLOCKED && !self.blocked.contains(&b) {
                self.blocked.push(b);
            }
        } else if let Some(Event::Denied(d)) = event {
            self.denials.record(&d);
            if d.kill && self.seccomp_kill.is_none() {
                tracing::debug!(syscall = %d.name, "seccomp kill: SIGKILL to the jail");
                let _ = process::pidfd_send_signal(jail.pidfd.as_fd(), libc::SIGKILL);
                self.seccomp_kill = Some(d);
            }
        }
        Ok(())
    }

    /// The outcome, once pid 1 is gone (`pid1_gone`) or has said it is alone: pid 1 is reaped
    /// now, or handed back to be reaped later ([`Exiting`]).
    fn finish(
        mut self,
        jail: Jail,
        pid1_gone: bool,
        started: Instant,
        clock: &Clock,
    ) -> Result<(Outcome, Option<Exiting>)> {
        if let Some(n) = &self.notifier {
            self.witnessed = n.witnessed().clone();
            self.observed = n.observed().cloned();
        }
        let (pid1_status, rusage, exiting) = match self.alone {
            // Pid 1 killed and reaped the rest of the jail and said so: it is ending, and is
            // reaped before the call ends ([`Exiting`]).
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
                while self.chan_open && read_some(&jail.chan_rx, &mut self.chan_buf) {}
                (status, rusage, None)
            }
        };
        let duration = started.elapsed();
        let (end, ended) = match channel::decode(&self.chan_buf) {
            Ok(messages) => decide(&messages, clock.timed_out, pid1_status),
            Err(e) => (End::SetupFailed(e), None),
        };
        let tasks_at_end = ended.and_then(|e| e.tasks).filter(|n| *n > 0);
        let scratch = ended
            .and_then(|e| e.scratch)
            .filter(|s| s.total > 0)
            .map(|s| (s.used, s.total));
        let outcome = Outcome {
            scratch,
            grace_kill: clock.grace_kill,
            tasks_at_end,
            // Sampled every 10 ms from outside, so a shorter burst (or a whole short run) is
            // missed; pid 1's count at the end is a floor of the peak.
            tasks_peak: clock.tasks_peak.max(tasks_at_end),
            witnessed: self.witnessed,
            cgroup: None,
            warnings: Vec::new(),
            end,
            duration,
            rusage,
            denials: self.denials,
            seccomp_kill: self.seccomp_kill,
            cancelled_by: self.cancelled_by,
            blocked: self.blocked,
            observed: self.observed,
        };
        Ok((outcome, exiting))
    }
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
