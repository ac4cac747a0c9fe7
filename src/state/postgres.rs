//! The fleet's store: PostgreSQL, with the same semantics as SQLite. Every decision is one
//! transaction that first takes the calls table's `EXCLUSIVE` lock (readers go on; a second
//! decision, on this host or another, waits), so concurrent calls across hosts never
//! over-admit. The schema is created and migrated under a transaction-scoped advisory lock.
//!
//! The `postgres` client runs a current-thread tokio runtime inside; a host name is looked up on
//! a blocking-pool thread. The client is dropped (its runtime and threads with it) before the
//! supervisor starts, and the pipeline checks the process is single-threaded again (see
//! [`super::settle_threads`]).

use super::rules::{Decision, Request, Usage};
use super::store::{self, Sql, Store, StoreError, Used, Val};
use crate::policy::Budget;
use postgres::types::ToSql;
use postgres::{Client, NoTls};

/// The advisory lock key of schema migrations ("tjs1").
const MIGRATE_LOCK: i64 = 0x746a_7331;

pub struct Postgres {
    client: Client,
}

impl Postgres {
    pub fn open(url: &str) -> Result<Postgres, StoreError> {
        let mut client = Client::connect(url, NoTls).map_err(|e| StoreError {
            message: format!("cannot connect: {e}"),
            retryable: false,
        })?;
        // A decision waits this long for another's lock, then fails (retryable).
        client
            .batch_execute("SET lock_timeout = '10s'; SET statement_timeout = '30s'")
            .map_err(err)?;
        let mut s = Postgres { client };
        if s.tx(false, |tx| Ok(store::is_current(tx)))? {
            return Ok(s);
        }
        s.tx(false, |tx| {
            tx.ints("SELECT pg_advisory_xact_lock(?1)", &[Val::I(MIGRATE_LOCK)])?;
            store::migrate(tx)
        })?;
        Ok(s)
    }

    fn tx<T>(
        &mut self,
        lock: bool,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.client.transaction().map_err(err)?;
        if lock {
            tx.batch_execute("LOCK TABLE tooljail_calls IN EXCLUSIVE MODE")
                .map_err(err)?;
        }
        let out = f(&mut Tx(&mut tx))?;
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

struct Tx<'a, 'b>(&'a mut postgres::Transaction<'b>);

/// `?N` parameters as PostgreSQL's `$N`.
fn dialect(sql: &str) -> String {
    sql.replace('?', "$")
}

fn params<'a>(p: &'a [Val<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    p.iter()
        .map(|v| match v {
            Val::I(i) => i as &(dyn ToSql + Sync),
            Val::S(s) => s as &(dyn ToSql + Sync),
        })
        .collect()
}

impl Sql for Tx<'_, '_> {
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> Result<u64, StoreError> {
        self.0.execute(&dialect(sql), &params(p)).map_err(err)
    }

    fn ints(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Option<Vec<i64>>, StoreError> {
        let rows = self.0.query(&dialect(sql), &params(p)).map_err(err)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        (0..row.len())
            .map(|i| {
                // pg_advisory_xact_lock returns void: read as no value.
                if row.columns()[i].type_() == &postgres::types::Type::VOID {
                    return Ok(0);
                }
                row.try_get::<_, Option<i64>>(i)
                    .map(|v| v.unwrap_or(0))
                    .map_err(err)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn texts(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Vec<String>, StoreError> {
        let rows = self.0.query(&dialect(sql), &params(p)).map_err(err)?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0).map_err(err))
            .collect()
    }
}

impl Store for Postgres {
    fn admit(&mut self, budget: &Budget, req: &Request) -> Result<Decision, StoreError> {
        self.tx(true, |tx| store::admit(tx, budget, req))
    }

    fn finish(&mut self, id: &str, used: &Used) -> Result<(), StoreError> {
        let now = super::now_ms();
        self.tx(false, |tx| store::finish(tx, id, used, now))
    }

    fn audit(&mut self, report: &crate::report::Report) -> Result<(), StoreError> {
        self.tx(false, |tx| store::audit(tx, report))
    }

    fn audit_records(&mut self) -> Result<Vec<String>, StoreError> {
        self.tx(false, store::audit_records)
    }

    fn usage(&mut self, session: Option<&str>) -> Result<Vec<(String, Usage)>, StoreError> {
        self.tx(false, |tx| store::usage(tx, session))
    }

    fn reset(
        &mut self,
        session: &str,
        caller: Option<&str>,
    ) -> Result<Result<u64, Vec<String>>, StoreError> {
        self.tx(true, |tx| store::reset(tx, session, caller))
    }
}

/// A lock timeout, a serialization failure or a deadlock may pass on a retry; anything else
/// will not.
fn err(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let retryable = e.code().is_some_and(|c| {
        [
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(c)
    });
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    StoreError { message, retryable }
}
