//! `tooljail why`: a report (or the caller's last audit record) read back as plain words: each
//! typed denial ([`crate::report::PolicyDenial`]) and what stopped the command, with the exact
//! flag or profile line that would allow it, or why nothing can. Pure: a [`Report`] in, an
//! [`Answer`] out; reading the file and printing are the command's (`commands/why.rs`).

use crate::report::{DenialKind, Lift, Outcome, PolicyDenial, Report, StoppedBy};
use serde::Serialize;

/// What `why` says about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub run_id: String,
    pub argv: Vec<String>,
    pub outcome: Outcome,
    pub exit_status: i32,
    /// One entry per refusal and per limit or rule that stopped the command, in report order.
    pub reasons: Vec<Reason>,
    /// tooljail's own failure, when it ran nothing (a setup error): its stderr line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// One thing tooljail refused or stopped, and how to allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `exec`, `map_exec`, `connect`, `syscall`, `write`; `limit`, `rule`, `command_rule`,
    /// `rate_limit`, `loop_guard`, `budget` for what stopped the command.
    pub kind: String,
    /// What the command tried, in plain words.
    pub what: String,
    /// The rule that refused it.
    pub why: String,
    /// The flag that allows it, when one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The profile line that allows it, when one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Where the refusing rule was written (`file:line:col`, or a flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The report's own advice, word for word.
    pub hint: String,
    pub liftable: bool,
}

pub fn explain(report: &Report) -> Answer {
    let mut reasons: Vec<Reason> = report.denials.iter().map(denial).collect();
    if let Some(s) = &report.stopped_by {
        // A seccomp kill is already a syscall denial above when the report has one.
        let said = s.name.strip_prefix("seccomp:").is_some_and(|name| {
            report
                .denials
                .iter()
                .any(|d| d.syscall.as_deref() == Some(name))
        });
        if !said {
            reasons.push(stopped(s, report));
        }
    }
    Answer {
        run_id: report.run_id.clone(),
        argv: report.argv.clone(),
        outcome: report.outcome,
        exit_status: report.exit_status,
        reasons,
        failed: report
            .error
            .as_ref()
            .filter(|_| report.outcome == Outcome::SetupError)
            .map(|e| {
                let at = if e.location.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", e.location)
                };
                format!("{at}{}; {}", e.message, e.hint)
            }),
    }
}

fn denial(d: &PolicyDenial) -> Reason {
    let what = match d.kind {
        DenialKind::Exec => format!("ran {}", or_unknown(&d.path)),
        DenialKind::MapExec => format!(
            "loaded {} as executable code (a shared library or native module)",
            or_unknown(&d.path)
        ),
        DenialKind::Connect => format!("connected to {}", or_unknown(&d.address)),
        DenialKind::Syscall => format!("called the syscall {}", or_unknown(&d.syscall)),
        DenialKind::Write => format!("wrote to {}", or_unknown(&d.path)),
    };
    let lift = d.lift.clone().unwrap_or_default();
    Reason {
        kind: serde_json::to_value(d.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        what,
        why: d.rule.clone(),
        flag: lift.flag,
        profile: lift.profile,
        origin: lift.origin,
        hint: d.hint.clone(),
        liftable: d.liftable,
    }
}

fn stopped(s: &StoppedBy, report: &Report) -> Reason {
    let what = match s.kind.as_str() {
        "limit" => format!("reached the {} limit", s.name),
        "command_rule" => format!("asked to run `{}`", report.argv.join(" ")),
        "rate_limit" | "loop_guard" | "budget" => {
            format!("made a call [budget] {} refused", s.name)
        }
        _ => format!("was stopped by rule {}", s.name),
    };
    let Lift {
        flag,
        profile,
        origin,
    } = stop_lift(s, report);
    Reason {
        kind: s.kind.clone(),
        what,
        why: s.evidence.clone(),
        flag,
        profile,
        origin,
        hint: s.remedy.clone(),
        liftable: s.liftable.unwrap_or(!s.remedy.is_empty()),
    }
}

/// The flag and profile line for what stopped the command, from its typed name.
fn stop_lift(s: &StoppedBy, report: &Report) -> Lift {
    let limit_key = |key: &str, flag: &str| Lift {
        flag: Some(flag.to_string()),
        profile: Some(format!("[limits] {key} = ...")),
        origin: None,
    };
    match (s.kind.as_str(), s.name.as_str()) {
        ("limit", "wall_time") => limit_key("wall_time", "--timeout DURATION"),
        ("limit", "scratch_full") => Lift {
            flag: Some("--limit scratch=SIZE".into()),
            profile: Some("[filesystem.scratch] size = ...".into()),
            origin: None,
        },
        ("limit", "memory") => limit_key("memory", "--memory SIZE"),
        ("limit", name) => limit_key(name, &format!("--limit {name}=...")),
        ("command_rule", "allow") => Lift {
            flag: None,
            profile: Some(format!(
                "[command] allow = [\"{}\"]",
                report.argv.join(" ").replace('"', "\\\"")
            )),
            origin: report.error.as_ref().map(|e| e.location.clone()),
        },
        ("command_rule", rule) => Lift {
            flag: None,
            profile: Some(format!("[command] deny = [\"!{rule}\"] (remove the rule)")),
            origin: report.error.as_ref().map(|e| e.location.clone()),
        },
        _ => Lift::default(),
    }
}

fn or_unknown(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(unknown)")
}

/// The answer as text: one paragraph per reason, every field it quotes on one line
/// ([`crate::shown::one_line`]: paths and names come from the jail).
pub fn render(a: &Answer) -> String {
    use crate::shown::one_line;
    use std::fmt::Write as _;
    let mut out = String::new();
    let outcome = serde_json::to_value(a.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "run {}: `{}`: {outcome}, exit status {}",
        one_line(&a.run_id),
        one_line(&a.argv.join(" ")),
        a.exit_status
    );
    if let Some(f) = &a.failed {
        let _ = writeln!(out, "tooljail ran nothing: {}", one_line(f));
    }
    if a.reasons.is_empty() && a.failed.is_none() {
        out.push_str("tooljail denied nothing in this run and no limit stopped it.\n");
        return out;
    }
    for (i, r) in a.reasons.iter().enumerate() {
        let _ = writeln!(out, "\n{}. The command {}.", i + 1, one_line(&r.what));
        let why = one_line(r.why.trim_end_matches('.'));
        let _ = writeln!(out, "   Refused because: {why}.");
        if let Some(o) = &r.origin {
            let _ = writeln!(out, "   The rule comes from: {}", one_line(o));
        }
        let hint = one_line(&r.hint);
        let flag = r.flag.as_deref().map(one_line);
        let profile = r.profile.as_deref().map(one_line);
        match (flag, profile) {
            (None, None) if !r.liftable => {
                let _ = writeln!(out, "   Nothing allows it: {hint}");
            }
            (None, None) => {
                let _ = writeln!(out, "   To allow it: {hint}");
            }
            (Some(f), Some(p)) => {
                let _ = writeln!(out, "   To allow it, add the flag:  {f}");
                let _ = writeln!(out, "   or, in a profile:           {p}");
            }
            (Some(f), None) => {
                let _ = writeln!(out, "   To allow it, add the flag:  {f}");
            }
            (None, Some(p)) => {
                let _ = writeln!(out, "   To allow it, in a profile:  {p}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut r = Report::begin(vec!["sh".into(), "-c".into(), "x".into()]);
        r.run_id = "r1".into();
        r.denials = vec![PolicyDenial {
            kind: DenialKind::Exec,
            path: Some("/w/hello".into()),
            address: None,
            syscall: None,
            rule: "/w is bound without exec (--rw)".into(),
            hint: "to allow it: --exec /host/w".into(),
            liftable: true,
            lift: Some(Lift {
                flag: Some("--exec /host/w".into()),
                profile: Some("[filesystem] executable = [\"/w\"]".into()),
                origin: Some("--rw".into()),
            }),
        }];
        r
    }

    #[test]
    fn a_denial_reads_as_words_with_its_flag_and_profile_line() {
        let a = explain(&report());
        assert_eq!(a.reasons.len(), 1);
        let text = render(&a);
        assert!(text.contains("1. The command ran /w/hello."), "{text}");
        assert!(text.contains("--exec /host/w"), "{text}");
        assert!(
            text.contains("[filesystem] executable = [\"/w\"]"),
            "{text}"
        );
        assert!(text.contains("The rule comes from: --rw"), "{text}");
    }

    #[test]
    fn nothing_denied_says_so() {
        let mut r = report();
        r.denials.clear();
        assert!(render(&explain(&r)).contains("denied nothing"));
    }

    #[test]
    fn a_limit_names_its_flag() {
        let mut r = report();
        r.denials.clear();
        r.stopped_by = Some(StoppedBy {
            kind: "limit".into(),
            name: "wall_time".into(),
            evidence: "killed after 1s".into(),
            remedy: "--timeout DURATION, or [limits] wall_time".into(),
            liftable: Some(true),
            retry_after_ms: None,
            used: None,
            limit: None,
        });
        let a = explain(&r);
        assert_eq!(a.reasons[0].flag.as_deref(), Some("--timeout DURATION"));
    }
}
