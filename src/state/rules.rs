//! The rules' decisions, pure: what the store observed for one call (the calls in each rate
//! window, the identical calls, the session's use) against the Policy's `[budget]`. The store
//! gathers the observations and records the call in the same transaction.

use crate::policy::{Budget, Label, RateRule};
use std::time::Duration;

/// One call as the rules see it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The run id (the report's `run_id`): the call's row in the store.
    pub id: String,
    /// Milliseconds since the Unix epoch when the call asks to start.
    pub now_ms: i64,
    /// The invoking uid, `--agent`, `--session`, `--tool` ("" when unset).
    pub labels: Labels,
    /// sha256 of argv, cwd, Policy hash and environment: what "identical" compares.
    pub ident: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub user: String,
    pub agent: String,
    pub session: String,
    pub tool: String,
}

impl Labels {
    pub fn get(&self, l: Label) -> &str {
        match l {
            Label::User => &self.user,
            Label::Agent => &self.agent,
            Label::Session => &self.session,
            Label::Tool => &self.tool,
        }
    }
}

/// A session's use so far: calls started, CPU and wall time of the calls that ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub calls: u64,
    pub cpu_ms: u64,
    pub wall_ms: u64,
}

/// What the store saw, in the order of [`rate_rules`].
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Per rate rule: when the `limit`-th newest call in its window started (None: fewer than
    /// `limit` calls in the window).
    pub rates: Vec<Option<i64>>,
    /// Calls of the session identical to this one within the loop guard's window.
    pub identical: u64,
    pub session: Usage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The call may start, clamped to what is left of the session's budgets.
    Admit {
        cpu_left: Option<Duration>,
        wall_left: Option<Duration>,
    },
    Refuse(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `limit` calls per `window` per `per` were already started; a slot frees in
    /// `retry_after_ms`.
    Rate { rule: RateRule, retry_after_ms: u64 },
    /// The loop guard: `count` identical calls within `window` already.
    Loop {
        count: u64,
        limit: u32,
        window: Duration,
    },
    /// A session budget is spent: `which` (`session_calls`, `session_cpu`, `session_wall`),
    /// `used` and `limit` in calls or milliseconds.
    Budget {
        which: &'static str,
        used: u64,
        limit: u64,
    },
}

/// The rate rules in force: `[[budget.rate]]`, then `calls_per_minute` as one more per session.
pub fn rate_rules(b: &Budget) -> Vec<RateRule> {
    let mut rules = b.rate.clone();
    if let Some(limit) = b.calls_per_minute {
        rules.push(RateRule {
            per: vec![Label::Session],
            limit,
            window: Duration::from_secs(60),
        });
    }
    rules
}

/// Decide: spent budgets first (no retry helps), then the loop guard, then the rate limits.
pub fn decide(b: &Budget, seen: &Observed, now_ms: i64) -> Decision {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let u = seen.session;
    let spent = [
        ("session_calls", u.calls, b.session_calls.map(u64::from)),
        ("session_cpu", u.cpu_ms, b.session_cpu.map(millis)),
        ("session_wall", u.wall_ms, b.session_wall.map(millis)),
    ];
    for (which, used, limit) in spent {
        if let Some(limit) = limit {
            if used >= limit {
                return Decision::Refuse(Refusal::Budget { which, used, limit });
            }
        }
    }
    if let Some(limit) = b.max_identical_calls {
        if seen.identical >= u64::from(limit) {
            return Decision::Refuse(Refusal::Loop {
                count: seen.identical,
                limit,
                window: b.identical_window,
            });
        }
    }
    for (rule, oldest) in rate_rules(b).into_iter().zip(&seen.rates) {
        if let Some(started) = oldest {
            let frees_at =
                started.saturating_add(i64::try_from(millis(rule.window)).unwrap_or(i64::MAX));
            let wait = u64::try_from(frees_at.saturating_sub(now_ms))
                .unwrap_or(0)
                .max(1);
            return Decision::Refuse(Refusal::Rate {
                rule,
                retry_after_ms: wait,
            });
        }
    }
    let left = |used: u64, limit: Option<Duration>| {
        limit.map(|l| Duration::from_millis(millis(l).saturating_sub(used)))
    };
    Decision::Admit {
        cpu_left: left(u.cpu_ms, b.session_cpu),
        wall_left: left(u.wall_ms, b.session_wall),
    }
}

impl Refusal {
    /// `stopped_by.kind` in the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Rate { .. } => "rate_limit",
            Refusal::Loop { .. } => "loop_guard",
            Refusal::Budget { .. } => "budget",
        }
    }

    /// `stopped_by.name`: the rule, as the profile names it.
    pub fn name(&self) -> String {
        match self {
            Refusal::Rate { rule, .. } => format!("rate:{}", per_text(&rule.per)),
            Refusal::Loop { .. } => "max_identical_calls".to_string(),
            Refusal::Budget { which, .. } => (*which).to_string(),
        }
    }

    /// What happened, in words (the stderr line and `stopped_by.evidence`).
    pub fn evidence(&self) -> String {
        let h = |d: Duration| humantime::format_duration(d).to_string();
        match self {
            Refusal::Rate {
                rule,
                retry_after_ms,
            } => format!(
                "{} calls per {} per {} already started; retry after {retry_after_ms} ms",
                rule.limit,
                h(rule.window),
                per_text(&rule.per)
            ),
            Refusal::Loop {
                count,
                limit,
                window,
            } => format!(
                "{count} identical calls (same argv, cwd, policy and environment) in this \
                 session within {}; max_identical_calls = {limit}",
                h(*window)
            ),
            Refusal::Budget { which, used, limit } => match *which {
                "session_calls" => format!("the session started {used} of {limit} calls"),
                _ => format!("the session used {used} ms of {limit} ms ({which})"),
            },
        }
    }

    /// What would lift it.
    pub fn remedy(&self) -> &'static str {
        match self {
            Refusal::Rate { .. } => "wait retry_after_ms, or raise [[budget.rate]] limit",
            Refusal::Loop { .. } => {
                "change the call (argv, cwd or environment), or raise [budget] max_identical_calls"
            }
            Refusal::Budget { .. } => {
                "start a new session, `tooljail state reset --session ID`, or raise the [budget] key"
            }
        }
    }

    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Refusal::Rate { retry_after_ms, .. } => Some(*retry_after_ms),
            Refusal::Loop { .. } | Refusal::Budget { .. } => None,
        }
    }

    pub fn used_and_limit(&self) -> Option<(u64, u64)> {
        match self {
            Refusal::Rate { .. } => None,
            Refusal::Loop { count, limit, .. } => Some((*count, u64::from(*limit))),
            Refusal::Budget { used, limit, .. } => Some((*used, *limit)),
        }
    }
}

/// `user+tool`; `all` for a rule with no labels.
pub fn per_text(per: &[Label]) -> String {
    if per.is_empty() {
        return "all".to_string();
    }
    per.iter().map(|l| l.name()).collect::<Vec<_>>().join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget {
            rate: vec![RateRule {
                per: vec![Label::Session],
                limit: 2,
                window: Duration::from_secs(60),
            }],
            max_identical_calls: Some(3),
            session_calls: Some(10),
            session_cpu: Some(Duration::from_secs(2)),
            ..Budget::default()
        }
    }

    #[test]
    fn decisions_in_order_of_what_a_retry_can_help() {
        let b = budget();
        let seen = |rate: Option<i64>, identical, calls, cpu_ms| Observed {
            rates: vec![rate],
            identical,
            session: Usage {
                calls,
                cpu_ms,
                wall_ms: 0,
            },
        };
        assert_eq!(
            decide(&b, &seen(None, 0, 0, 500), 1000),
            Decision::Admit {
                cpu_left: Some(Duration::from_millis(1500)),
                wall_left: None
            }
        );
        // The rate: the 2nd newest call started at 500; the window frees it at 60_500.
        match decide(&b, &seen(Some(500), 0, 2, 0), 1000) {
            Decision::Refuse(r @ Refusal::Rate { .. }) => {
                assert_eq!(r.retry_after_ms(), Some(59_500));
                assert_eq!(r.kind(), "rate_limit");
            }
            d => panic!("{d:?}"),
        }
        match decide(&b, &seen(Some(500), 3, 2, 0), 1000) {
            Decision::Refuse(r) => assert_eq!(r.kind(), "loop_guard"),
            d => panic!("{d:?}"),
        }
        match decide(&b, &seen(Some(500), 3, 2, 2000), 1000) {
            Decision::Refuse(r) => {
                assert_eq!(r.name(), "session_cpu");
                assert_eq!(r.used_and_limit(), Some((2000, 2000)));
            }
            d => panic!("{d:?}"),
        }
        match decide(&b, &seen(None, 0, 10, 0), 1000) {
            Decision::Refuse(r) => assert_eq!(r.name(), "session_calls"),
            d => panic!("{d:?}"),
        }
        // Under every limit: one less identical call, one less CPU millisecond.
        assert!(matches!(
            decide(&b, &seen(None, 2, 9, 1999), 1000),
            Decision::Admit { .. }
        ));
    }

    #[test]
    fn calls_per_minute_is_a_rate_per_session() {
        let b = Budget {
            calls_per_minute: Some(5),
            ..Budget::default()
        };
        assert_eq!(
            rate_rules(&b),
            [RateRule {
                per: vec![Label::Session],
                limit: 5,
                window: Duration::from_secs(60)
            }]
        );
    }
}
