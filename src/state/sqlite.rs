//! The default store: SQLite (bundled), in WAL mode, each decision one `BEGIN IMMEDIATE`
//! transaction, so concurrent calls on one host are serialized by SQLite's write lock and never
//! over-admit.

use super::place;
use super::rules::{Decision, Request, Usage};
use super::store::{self, Sql, Store, StoreError, Used, Val};
use crate::policy::Budget;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a decision waits for another call's transaction before it fails (retryable).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The WAL length (pages) past which a call's record folds it back into the database.
const WAL_CHECKPOINT_PAGES: i32 = 64;

/// The WAL's length after this process's last commit, from SQLite's WAL hook (which takes a
/// plain function: one store per process).
static WAL_PAGES: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

fn wal_hook(_: &rusqlite::hooks::Wal, pages: std::os::raw::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.store(pages, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

pub struct Sqlite {
    conn: Connection,
}

impl Sqlite {
    /// Open (creating when `create`) the store at `path`, checked as [`place::open`] says.
    ///
    /// Opening may meet SQLITE_BUSY without SQLite's busy handler ever waiting: many calls
    /// opening a new store at once all read it, and the one that switches it to WAL needs the
    /// others' read locks gone (SQLite refuses to wait there, to avoid a deadlock). Such an
    /// open is retried, with a short pause, until [`BUSY_TIMEOUT`] has passed.
    pub fn open(path: &Path, create: bool) -> Result<Sqlite, StoreError> {
        let until = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        loop {
            match Sqlite::open_once(path, create) {
                Err(e) if e.retryable && std::time::Instant::now() < until => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                r => return r,
            }
        }
    }

    fn open_once(path: &Path, create: bool) -> Result<Sqlite, StoreError> {
        let place = place::open(path, create).map_err(StoreError::new)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&place.path, flags).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // WAL: readers never block the writer; synchronous=NORMAL is durable against a killed
        // process (what a SIGKILL of tooljail is), which is the failure a call record must
        // survive.
        // Switched once, by the call that finds it otherwise: asking again would take the
        // exclusive lock on every open.
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Our hook replaces SQLite's automatic checkpoint, which would run in whichever commit
        // crossed its threshold, a start-up's too; `finish` checkpoints instead.
        conn.wal_hook(Some(wal_hook));
        // Nor does closing checkpoint and delete the WAL: the next call would create it, its
        // index and sync the directory again, all in its start-up.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(err)?;
        let mut s = Sqlite { conn };
        let current = {
            let tx = s.conn.transaction().map_err(err)?;
            store::is_current(&mut Tx(&tx))
        };
        if !current {
            s.tx(|tx| store::migrate(tx))?;
        }
        Ok(s)
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction: the write lock is taken at its start, so
    /// two decisions never read the same counts.
    fn tx<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut t = Tx(&tx);
        let out = f(&mut t)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

struct Tx<'a>(&'a rusqlite::Transaction<'a>);

fn params<'a>(p: &'a [Val<'_>]) -> Vec<&'a dyn rusqlite::ToSql> {
    p.iter()
        .map(|v| match v {
            Val::I(i) => i as &dyn rusqlite::ToSql,
            Val::S(s) => s as &dyn rusqlite::ToSql,
        })
        .collect()
}

impl Sql for Tx<'_> {
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> Result<u64, StoreError> {
        let n = self.0.execute(sql, params(p).as_slice()).map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn ints(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Option<Vec<i64>>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(err)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(params(p).as_slice()).map_err(err)?;
        match rows.next().map_err(err)? {
            None => Ok(None),
            Some(row) => (0..n)
                .map(|i| {
                    row.get::<_, Option<i64>>(i)
                        .map(|v| v.unwrap_or(0))
                        .map_err(err)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    fn texts(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(err)?;
        let rows = stmt
            .query_map(params(p).as_slice(), |r| r.get::<_, String>(0))
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

impl Store for Sqlite {
    fn admit(&mut self, budget: &Budget, req: &Request) -> Result<Decision, StoreError> {
        self.tx(|tx| store::admit(tx, budget, req))
    }

    fn finish(&mut self, id: &str, used: &Used) -> Result<(), StoreError> {
        let now = super::now_ms();
        self.tx(|tx| store::finish(tx, id, used, now))?;
        // After the call, not before the next: once the WAL passed 64 pages, fold it back into
        // the database (passive: never waits for anyone), so the next call's first connection,
        // which rebuilds the WAL index from the WAL, reads a few dozen frames instead of
        // thousands. The checkpoint syncs the database (a few ms), so not every call pays it.
        // It works through the open descriptors (a root caller's supervisor is the jail's user
        // by now and cannot reach the store's directory). One that cannot finish now is left
        // to a later call.
        if WAL_PAGES.load(std::sync::atomic::Ordering::Relaxed) > WAL_CHECKPOINT_PAGES {
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
        Ok(())
    }

    fn audit(&mut self, report: &crate::report::Report) -> Result<(), StoreError> {
        self.tx(|tx| store::audit(tx, report))
    }

    fn audit_records(&mut self) -> Result<Vec<String>, StoreError> {
        self.tx(store::audit_records)
    }

    fn usage(&mut self, session: Option<&str>) -> Result<Vec<(String, Usage)>, StoreError> {
        self.tx(|tx| store::usage(tx, session))
    }

    fn reset(
        &mut self,
        session: &str,
        caller: Option<&str>,
    ) -> Result<Result<u64, Vec<String>>, StoreError> {
        self.tx(|tx| store::reset(tx, session, caller))
    }
}

/// A SQLite error as a store error: busy or locked (another call held the lock past the
/// timeout) may pass on a retry; anything else (a corrupt file, not a database) will not.
fn err(e: rusqlite::Error) -> StoreError {
    let retryable = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    StoreError {
        message: e.to_string(),
        retryable,
    }
}
