//! Stage `classify`: how the call ended, in the report's terms. [`classify`] is a pure function
//! of what the supervisor observed and what the limits' evidence attributes; [`apply`] gathers
//! that evidence and writes the result into the report (`outcome`, `exit_code`, `signal`,
//! `stopped_by`), returning tooljail's exit status.

use super::launch::{Planned, Ran};
use super::Call;
use crate::error::{exit, Error, Result};
use crate::outcome::{self, Evidence};
use crate::report::{Outcome, StoppedBy};
use crate::supervisor::notify::Denial;
use crate::supervisor::End;

/// The report's verdict on a call whose jail ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    /// tooljail's own exit status.
    pub exit_status: i32,
    /// The command's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed the command, by name.
    pub signal: Option<String>,
    pub stopped_by: Option<StoppedBy>,
}

/// Classify how the jail ended. `limit`: the limit the evidence attributes the end to, if any
/// ([`crate::outcome::attribute`]); `seccomp_kill`: the denial that killed the jail when the
/// profile's action is kill; `cancelled_by`: the signal the caller sent tooljail while the
/// command ran. A jail whose setup failed is the error it sent.
///
/// - a timeout is `timeout` (124), with the wall-clock limit as what stopped it;
/// - a signal is a `violation` when seccomp killed the command (a denied syscall under the
///   kill action, or SIGSYS from a foreign architecture), a `limit` when a limit explains it,
///   else `signaled`; the status is 128 + N;
/// - an exit is a `limit` when the command failed while a limit was exhausted (scratch full),
///   else `exited` (a command that succeeded was not stopped by anything); the status is its
///   exit code;
/// - a call the caller cancelled (before any of the above but a seccomp kill, which is the
///   command's own doing) is `cancelled`, with the command's status and signal as they are.
pub fn classify(
    end: &End,
    limit: Option<StoppedBy>,
    seccomp_kill: Option<&Denial>,
    cancelled_by: Option<i32>,
) -> std::result::Result<Classified, Error> {
    let c = classify_ending(end, limit, seccomp_kill)?;
    Ok(match cancelled_by {
        Some(_) if c.outcome != Outcome::Violation && c.outcome != Outcome::Timeout => Classified {
            outcome: Outcome::Cancelled,
            stopped_by: None,
            ..c
        },
        _ => c,
    })
}

fn classify_ending(
    end: &End,
    limit: Option<StoppedBy>,
    seccomp_kill: Option<&Denial>,
) -> std::result::Result<Classified, Error> {
    let verdict = |outcome, exit_status, stopped_by| Classified {
        outcome,
        exit_status,
        exit_code: None,
        signal: None,
        stopped_by,
    };
    match end {
        End::SetupFailed(e) => Err(e.clone()),
        End::TimedOut => Ok(verdict(Outcome::Timeout, exit::TIMEOUT, limit)),
        End::Signaled(sig) => {
            let rule =
                |name: String, evidence: String| Some(outcome::stopped_by("rule", &name, evidence));
            let (outcome, stopped_by) = if let Some(d) = seccomp_kill {
                (
                    Outcome::Violation,
                    rule(
                        format!("seccomp:{}", d.name),
                        format!(
                            "{}({}) is denied and the profile's action is kill",
                            d.name, d.arch
                        ),
                    ),
                )
            } else if *sig == libc::SIGSYS {
                (
                    Outcome::Violation,
                    rule(
                        "seccomp:arch".into(),
                        "SIGSYS: a syscall of another architecture (i386 int 0x80, x32) was killed"
                            .into(),
                    ),
                )
            } else if limit.is_some() {
                (Outcome::Limit, limit)
            } else {
                (Outcome::Signaled, None)
            };
            Ok(Classified {
                signal: Some(signal_name(*sig)),
                ..verdict(outcome, exit::SIGNAL_BASE + sig, stopped_by)
            })
        }
        End::Exited(code) => {
            let (outcome, stopped_by) = match limit {
                Some(l) if *code != 0 => (Outcome::Limit, Some(l)),
                _ => (Outcome::Exited, None),
            };
            Ok(Classified {
                exit_code: Some(*code),
                ..verdict(outcome, *code, stopped_by)
            })
        }
    }
}

/// Gather the evidence, classify, and write the verdict into the report.
pub fn apply(call: &mut Call<'_>, planned: &Planned, ran: Ran) -> Result<i32> {
    let o = &ran.outcome;
    let policy = &planned.plan.policy;
    let cpu_used = o.rusage.user_time + o.rusage.system_time;
    let evidence = Evidence {
        timed_out: o.end == End::TimedOut,
        grace_kill: o.grace_kill,
        signal: match o.end {
            End::Signaled(s) => Some(s),
            _ => None,
        },
        cpu_exhausted: policy
            .limits
            .cpu_time
            .is_some_and(|limit| cpu_used >= limit),
        cgroup_oom_kill: o.cgroup.is_some_and(|c| c.oom_kill > 0),
        cgroup_pids_max: o.cgroup.is_some_and(|c| c.pids_max > 0),
        scratch_used: o.scratch,
        max_rss: o.rusage.max_rss_kib.saturating_mul(1024),
        tasks_at_end: o.tasks_at_end,
        tasks_peak: o.tasks_peak,
        witnessed: o.witnessed.clone(),
    };
    let limit = outcome::attribute(&policy.limits, &planned.plan.limits, &evidence);
    let c = classify(&o.end, limit, o.seccomp_kill.as_ref(), o.cancelled_by)?;
    // One line on stderr, like the denied-syscalls line: what stopped the command and what
    // lifts it, so a person (or an agent reading stderr) does not retry blindly.
    if let Some(s) = &c.stopped_by {
        crate::shown::say(&format!(
            "stopped by {} {}: {}; {}",
            s.kind,
            s.name,
            s.evidence,
            if s.liftable == Some(true) {
                format!("to lift it: {}", s.remedy)
            } else {
                s.remedy.clone()
            }
        ));
    }
    // Limits reached without certainty, said only when the command failed (as stopped_by).
    let failed = matches!(c.outcome, Outcome::Limit | Outcome::Signaled)
        || (c.outcome == Outcome::Exited && c.exit_code != Some(0));
    let may_have_been = if failed {
        outcome::may_have_been(&evidence)
    } else {
        Vec::new()
    };
    for m in &may_have_been {
        crate::shown::say(&format!(
            "may have been stopped by {} {}: {}; not certain: {}; to lift it: {}",
            m.kind, m.name, m.evidence, m.uncertain, m.remedy
        ));
    }
    let report = &mut call.report;
    report.may_have_been = Some(may_have_been);
    report.outcome = c.outcome;
    report.exit_code = c.exit_code;
    report.signal = c.signal;
    report.stopped_by = c.stopped_by;
    Ok(c.exit_status)
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::notify::DenialRule;

    fn limit(name: &str) -> Option<StoppedBy> {
        Some(outcome::stopped_by("limit", name, "e".into()))
    }

    #[test]
    fn every_ending_classifies_as_the_report_says() {
        let kill = Denial {
            name: "vhangup".into(),
            arch: "x86_64".into(),
            nr: 153,
            pid: 2,
            rule: DenialRule::Profile,
            errno: None,
            kill: true,
        };
        let rule = |name: &str| Some(name.to_string());
        // (end, attributed limit, seccomp kill) -> (outcome, status, exit code, signal, stopped_by name)
        #[allow(clippy::type_complexity)]
        let table: &[(
            End,
            Option<StoppedBy>,
            Option<&Denial>,
            (Outcome, i32, Option<i32>, Option<&str>, Option<String>),
        )] = &[
            (
                End::Exited(0),
                None,
                None,
                (Outcome::Exited, 0, Some(0), None, None),
            ),
            (
                End::Exited(3),
                None,
                None,
                (Outcome::Exited, 3, Some(3), None, None),
            ),
            // Succeeded although scratch was full: not stopped by anything.
            (
                End::Exited(0),
                limit("scratch_full"),
                None,
                (Outcome::Exited, 0, Some(0), None, None),
            ),
            (
                End::Exited(1),
                limit("scratch_full"),
                None,
                (Outcome::Limit, 1, Some(1), None, rule("scratch_full")),
            ),
            (
                End::TimedOut,
                limit("wall_time"),
                None,
                (Outcome::Timeout, 124, None, None, rule("wall_time")),
            ),
            (
                End::Signaled(9),
                None,
                None,
                (Outcome::Signaled, 137, None, Some("SIGKILL"), None),
            ),
            (
                End::Signaled(24),
                limit("cpu_time"),
                None,
                (Outcome::Limit, 152, None, Some("SIGXCPU"), rule("cpu_time")),
            ),
            (
                End::Signaled(9),
                limit("processes"),
                Some(&kill),
                (
                    Outcome::Violation,
                    137,
                    None,
                    Some("SIGKILL"),
                    rule("seccomp:vhangup"),
                ),
            ),
            (
                End::Signaled(31),
                None,
                None,
                (
                    Outcome::Violation,
                    159,
                    None,
                    Some("SIGSYS"),
                    rule("seccomp:arch"),
                ),
            ),
        ];
        for (end, lim, kill, want) in table {
            let c = classify(end, lim.clone(), *kill, None).unwrap();
            let got = (
                c.outcome,
                c.exit_status,
                c.exit_code,
                c.signal.as_deref(),
                c.stopped_by.map(|s| s.name),
            );
            assert_eq!(&got, want, "{end:?} {lim:?}");
        }
        let e = Error::setup("bind /x", libc::ENOENT);
        assert_eq!(
            classify(&End::SetupFailed(e.clone()), limit("memory"), None, None),
            Err(e.clone())
        );
        // Cancelled by the caller: whatever the command did with the signal, unless the jail
        // had already timed out or killed it for a violation.
        let cancel = |end: &End, kill| classify(end, None, kill, Some(libc::SIGTERM)).unwrap();
        let c = cancel(&End::Signaled(libc::SIGTERM), None);
        assert_eq!(
            (c.outcome, c.exit_status, c.signal.as_deref()),
            (Outcome::Cancelled, 143, Some("SIGTERM"))
        );
        assert_eq!(cancel(&End::Exited(0), None).outcome, Outcome::Cancelled);
        assert_eq!(cancel(&End::TimedOut, None).outcome, Outcome::Timeout);
        assert_eq!(
            cancel(&End::Signaled(9), Some(&kill)).outcome,
            Outcome::Violation
        );
        assert!(classify(&End::SetupFailed(e), None, None, Some(libc::SIGTERM)).is_err());
    }
}
