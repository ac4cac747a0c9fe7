//! What both stores share: the schema, and every decision as SQL run inside the one
//! transaction the backend opened (SQLite `BEGIN IMMEDIATE`, PostgreSQL a transaction holding
//! the calls table's lock). The SQL is written once, in the subset both speak (`?N` parameters
//! become `$N` for PostgreSQL).

use super::rules::{self, Decision, Observed, Request, Usage};
use crate::policy::Budget;

/// The schema version this tooljail writes and reads (docs/state.md). A store with a newer
/// version is refused, not misread.
pub const SCHEMA_VERSION: i64 = 1;

/// The tables, created by tooljail itself. `tooljail_calls`: one row per admitted call, written
/// when it is admitted (so a call whose tooljail is killed still counts as started), its use
/// filled in when it ends. `tooljail_audit`: the audit record of every call (run or refused).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS tooljail_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tooljail_calls (
        id TEXT PRIMARY KEY,
        started_ms BIGINT NOT NULL,
        ended_ms BIGINT,
        caller TEXT NOT NULL,
        agent TEXT NOT NULL,
        session TEXT NOT NULL,
        tool TEXT NOT NULL,
        ident TEXT NOT NULL,
        cpu_ms BIGINT NOT NULL DEFAULT 0,
        wall_ms BIGINT NOT NULL DEFAULT 0,
        outcome TEXT
    )",
    "CREATE INDEX IF NOT EXISTS tooljail_calls_session ON tooljail_calls (session, started_ms)",
    "CREATE INDEX IF NOT EXISTS tooljail_calls_started ON tooljail_calls (started_ms)",
    "CREATE TABLE IF NOT EXISTS tooljail_audit (
        run_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        caller TEXT NOT NULL,
        session TEXT NOT NULL,
        record TEXT NOT NULL
    )",
];

/// A store failure: what happened, and whether trying again may help (a lock timeout).
#[derive(Debug)]
pub struct StoreError {
    pub message: String,
    pub retryable: bool,
}

impl StoreError {
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// A parameter.
pub enum Val<'a> {
    I(i64),
    S(&'a str),
}

/// One open transaction, as the shared code uses it.
pub trait Sql {
    fn exec(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64, StoreError>;
    /// The first row's columns as integers (NULL as 0), or None when there is no row.
    fn ints(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Option<Vec<i64>>, StoreError>;
    /// The first column of every row, as text.
    fn texts(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<String>, StoreError>;
}

/// A call's real use, recorded when it ends.
#[derive(Debug, Clone)]
pub struct Used {
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub outcome: String,
}

/// A backend: each method is one transaction.
pub trait Store {
    /// Check the call against `budget` and, when admitted, record it as started.
    fn admit(&mut self, budget: &Budget, req: &Request) -> Result<Decision, StoreError>;
    /// Record the use of call `id`.
    fn finish(&mut self, id: &str, used: &Used) -> Result<(), StoreError>;
    /// Append an audit record.
    fn audit(&mut self, report: &crate::report::Report) -> Result<(), StoreError>;
    /// Every audit record, oldest first.
    fn audit_records(&mut self) -> Result<Vec<String>, StoreError>;
    /// Each session's use (one session, or all).
    fn usage(&mut self, session: Option<&str>) -> Result<Vec<(String, Usage)>, StoreError>;
    /// Forget a session's calls, when `caller` ("" for root) made all of them; returns how
    /// many calls were forgotten, or the callers who made the others.
    fn reset(
        &mut self,
        session: &str,
        caller: Option<&str>,
    ) -> Result<Result<u64, Vec<String>>, StoreError>;
}

/// Whether the store already has this version's schema: one read, so that a store in use costs
/// no write transaction to open. On any doubt (no table yet, another version) the backend runs
/// [`migrate`], which decides under its lock.
pub fn is_current(tx: &mut dyn Sql) -> bool {
    tx.texts(
        "SELECT value FROM tooljail_meta WHERE key = 'schema_version'",
        &[],
    )
    .is_ok_and(|v| v.first().and_then(|v| v.parse::<i64>().ok()) == Some(SCHEMA_VERSION))
}

/// Create or check the schema (inside the backend's transaction).
pub fn migrate(tx: &mut dyn Sql) -> Result<(), StoreError> {
    for stmt in SCHEMA {
        tx.exec(stmt, &[])?;
    }
    let v = tx.texts(
        "SELECT value FROM tooljail_meta WHERE key = 'schema_version'",
        &[],
    )?;
    match v.first() {
        None => {
            tx.exec(
                "INSERT INTO tooljail_meta (key, value) VALUES ('schema_version', ?1)",
                &[Val::S(&SCHEMA_VERSION.to_string())],
            )?;
            Ok(())
        }
        Some(v) if v.parse::<i64>().ok() == Some(SCHEMA_VERSION) => Ok(()),
        Some(v) => Err(StoreError::new(format!(
            "the store's schema version is {v}, this tooljail reads version {SCHEMA_VERSION}"
        ))),
    }
}

/// The rules' observations and, when admitted, the call's row: the body of [`Store::admit`].
pub fn admit(tx: &mut dyn Sql, budget: &Budget, req: &Request) -> Result<Decision, StoreError> {
    let l = &req.labels;
    let mut seen = Observed::default();
    for rule in rules::rate_rules(budget) {
        let window = i64::try_from(rule.window.as_millis()).unwrap_or(i64::MAX);
        let mut sql = String::from("SELECT started_ms FROM tooljail_calls WHERE started_ms > ?1");
        let mut params = vec![Val::I(req.now_ms.saturating_sub(window))];
        for label in &rule.per {
            params.push(Val::S(l.get(*label)));
            sql.push_str(&format!(" AND {} = ?{}", column(*label), params.len()));
        }
        params.push(Val::I(i64::from(rule.limit) - 1));
        sql.push_str(&format!(
            " ORDER BY started_ms DESC LIMIT 1 OFFSET ?{}",
            params.len()
        ));
        seen.rates
            .push(tx.ints(&sql, &params)?.and_then(|r| r.first().copied()));
    }
    if budget.max_identical_calls.is_some() {
        let window = i64::try_from(budget.identical_window.as_millis()).unwrap_or(i64::MAX);
        seen.identical = count(
            tx.ints(
                "SELECT COUNT(*) FROM tooljail_calls WHERE session = ?1 AND ident = ?2 \
                 AND started_ms > ?3",
                &[
                    Val::S(&l.session),
                    Val::S(&req.ident),
                    Val::I(req.now_ms.saturating_sub(window)),
                ],
            )?,
            0,
        );
    }
    if budget.session_calls.is_some()
        || budget.session_cpu.is_some()
        || budget.session_wall.is_some()
    {
        seen.session = session_usage(tx, &l.session)?;
    }
    let decision = rules::decide(budget, &seen, req.now_ms);
    test_delay();
    if let Decision::Admit { .. } = decision {
        tx.exec(
            "INSERT INTO tooljail_calls (id, started_ms, caller, agent, session, tool, ident) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                Val::S(&req.id),
                Val::I(req.now_ms),
                Val::S(&l.user),
                Val::S(&l.agent),
                Val::S(&l.session),
                Val::S(&l.tool),
                Val::S(&req.ident),
            ],
        )?;
    }
    Ok(decision)
}

/// The test-only knob that widens the window between a decision's reads and its write, so the
/// concurrency tests would catch a transaction that does not hold its lock across both. Read
/// only in debug builds: a release binary does not contain it.
#[cfg(debug_assertions)]
pub const DELAY_ENV: &str = "TOOLJAIL_TEST_STATE_DELAY_MS";

fn test_delay() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(DELAY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(1000)));
    }
}

pub fn finish(tx: &mut dyn Sql, id: &str, used: &Used, now_ms: i64) -> Result<(), StoreError> {
    let i = |n: u64| Val::I(i64::try_from(n).unwrap_or(i64::MAX));
    tx.exec(
        "UPDATE tooljail_calls SET ended_ms = ?1, cpu_ms = ?2, wall_ms = ?3, outcome = ?4 \
         WHERE id = ?5",
        &[
            Val::I(now_ms),
            i(used.cpu_ms),
            i(used.wall_ms),
            Val::S(&used.outcome),
            Val::S(id),
        ],
    )?;
    Ok(())
}

pub fn audit(tx: &mut dyn Sql, report: &crate::report::Report) -> Result<(), StoreError> {
    let record = serde_json::to_string(report).expect("Report serializes");
    let caller = report.identity.caller_uid.to_string();
    tx.exec(
        "INSERT INTO tooljail_audit (run_id, started_at, caller, session, record) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        &[
            Val::S(&report.run_id),
            Val::S(&report.started_at),
            Val::S(&caller),
            Val::S(report.identity.session.as_deref().unwrap_or("")),
            Val::S(&record),
        ],
    )?;
    Ok(())
}

pub fn audit_records(tx: &mut dyn Sql) -> Result<Vec<String>, StoreError> {
    tx.texts(
        "SELECT record FROM tooljail_audit ORDER BY started_at, run_id",
        &[],
    )
}

pub fn session_usage(tx: &mut dyn Sql, session: &str) -> Result<Usage, StoreError> {
    let row = tx.ints(
        "SELECT COUNT(*), CAST(COALESCE(SUM(cpu_ms), 0) AS BIGINT), \
         CAST(COALESCE(SUM(wall_ms), 0) AS BIGINT) FROM tooljail_calls WHERE session = ?1",
        &[Val::S(session)],
    )?;
    let row = row.unwrap_or_default();
    let at = |i: usize| u64::try_from(row.get(i).copied().unwrap_or(0)).unwrap_or(0);
    Ok(Usage {
        calls: at(0),
        cpu_ms: at(1),
        wall_ms: at(2),
    })
}

pub fn usage(tx: &mut dyn Sql, session: Option<&str>) -> Result<Vec<(String, Usage)>, StoreError> {
    let sessions = match session {
        Some(s) => vec![s.to_string()],
        None => tx.texts(
            "SELECT DISTINCT session FROM tooljail_calls ORDER BY session",
            &[],
        )?,
    };
    sessions
        .into_iter()
        .map(|s| Ok((s.clone(), session_usage(tx, &s)?)))
        .collect()
}

pub fn reset(
    tx: &mut dyn Sql,
    session: &str,
    caller: Option<&str>,
) -> Result<Result<u64, Vec<String>>, StoreError> {
    if let Some(caller) = caller {
        let others = tx.texts(
            "SELECT DISTINCT caller FROM tooljail_calls WHERE session = ?1 AND caller <> ?2",
            &[Val::S(session), Val::S(caller)],
        )?;
        if !others.is_empty() {
            return Ok(Err(others));
        }
    }
    Ok(Ok(tx.exec(
        "DELETE FROM tooljail_calls WHERE session = ?1",
        &[Val::S(session)],
    )?))
}

/// The column of a label.
fn column(l: crate::policy::Label) -> &'static str {
    match l {
        crate::policy::Label::User => "caller",
        crate::policy::Label::Agent => "agent",
        crate::policy::Label::Session => "session",
        crate::policy::Label::Tool => "tool",
    }
}

fn count(row: Option<Vec<i64>>, i: usize) -> u64 {
    row.and_then(|r| r.get(i).copied())
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}
