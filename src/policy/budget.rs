//! The Policy's call rules: rate limits, the loop guard and session budgets (src/state/).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Call rules: rate limits, the loop guard and session budgets, checked against the state store
/// before a call starts (src/state/). All empty: the call opens no store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Calls per minute per session (shorthand for one `[[budget.rate]]` per session over 1m),
    /// `None` = unlimited.
    pub calls_per_minute: Option<u32>,
    /// `[[budget.rate]]`: sliding-window rate limits.
    #[serde(default)]
    pub rate: Vec<RateRule>,
    /// Identical calls (same argv, cwd, Policy and environment) per session within
    /// `identical_window` before the loop guard refuses.
    pub max_identical_calls: Option<u32>,
    /// The loop guard's window.
    #[serde(with = "super::humantime_serde_compat")]
    pub identical_window: Duration,
    /// Calls a session may start in all.
    pub session_calls: Option<u32>,
    /// CPU time (user + system) a session may use in all.
    #[serde(with = "super::humantime_serde_compat::option")]
    pub session_cpu: Option<Duration>,
    /// Wall time a session's calls may take in all.
    #[serde(with = "super::humantime_serde_compat::option")]
    pub session_wall: Option<Duration>,
    /// The store's URL from the profile (`sqlite:PATH` or `postgres://...`); `--state` wins.
    pub state: Option<String>,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            calls_per_minute: None,
            rate: Vec::new(),
            max_identical_calls: None,
            identical_window: Budget::IDENTICAL_WINDOW,
            session_calls: None,
            session_cpu: None,
            session_wall: None,
            state: None,
        }
    }
}

impl Budget {
    /// The default loop-guard window.
    pub const IDENTICAL_WINDOW: Duration = Duration::from_secs(600);

    /// Whether any call rule is set (then, and only then, a call opens the state store).
    pub fn has_rules(&self) -> bool {
        self.calls_per_minute.is_some()
            || !self.rate.is_empty()
            || self.max_identical_calls.is_some()
            || self.session_calls.is_some()
            || self.session_cpu.is_some()
            || self.session_wall.is_some()
    }
}

/// A label a rate limit counts by: the attribution labels of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// The invoking user (uid).
    User,
    /// `--agent`.
    Agent,
    /// `--session`.
    Session,
    /// `--tool`.
    Tool,
}

impl Label {
    pub const ALL: [Label; 4] = [Label::User, Label::Agent, Label::Session, Label::Tool];

    pub fn name(self) -> &'static str {
        match self {
            Label::User => "user",
            Label::Agent => "agent",
            Label::Session => "session",
            Label::Tool => "tool",
        }
    }
}

/// `limit` calls per sliding `window`, counted separately for each value of the `per` labels
/// (no labels: all calls that share the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    pub per: Vec<Label>,
    pub limit: u32,
    #[serde(with = "super::humantime_serde_compat")]
    pub window: Duration,
}
