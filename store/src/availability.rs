//! A store that cannot serve right now (PostgreSQL down, SQLite locked by another process, a full
//! disk, a read-only file) is a dependency outage: not the caller's mistake and not a bug. Such
//! errors become [`StoreError::Unavailable`], which the server answers with a fast 503, and every
//! wait on the store is bounded by [`StoreOptions::wait`] so that the answer is fast.

use std::time::Duration;

use sqlx::sqlite::SqliteError;

/// Why the store cannot serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No connection: the server is down, restarting, or does not answer in time.
    Unreachable,
    /// Another writer holds the database (SQLite's lock) for longer than the wait.
    Busy,
    /// The disk is full.
    DiskFull,
    /// The database refuses writes (a read-only file or a standby).
    ReadOnly,
    /// The database's files could not be read or written.
    Io,
}

impl Outage {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unreachable => "the database does not answer",
            Self::Busy => "the database is locked by another writer",
            Self::DiskFull => "the database's disk is full",
            Self::ReadOnly => "the database is read-only",
            Self::Io => "the database's files could not be written",
        }
    }
}

/// How the store waits.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// The longest a store operation waits for a connection (or for SQLite's write lock) before
    /// it fails as [`Outage::Unreachable`] or [`Outage::Busy`].
    pub wait: Duration,
}

impl StoreOptions {
    /// Batch jobs (reports, simulation, the CLI) can afford to wait out a short outage.
    pub const PATIENT: Self = Self {
        wait: Duration::from_secs(10),
    };
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self::PATIENT
    }
}

/// The outage behind `error`, or `None` when it is something else (a bug, a bad row).
pub(crate) fn outage_of(error: &sqlx::Error) -> Option<Outage> {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Some(Outage::Unreachable),
        sqlx::Error::Database(db) => match db.try_downcast_ref::<SqliteError>() {
            Some(_) => db.code().and_then(|code| sqlite_outage(&code)),
            None => db.code().and_then(|code| postgres_outage(&code)),
        },
        _ => None,
    }
}

/// SQLite's (extended) result codes: <https://www.sqlite.org/rescode.html>.
fn sqlite_outage(code: &str) -> Option<Outage> {
    let primary = code.parse::<i32>().ok()? & 0xff;
    match primary {
        5 | 6 => Some(Outage::Busy),     // SQLITE_BUSY, SQLITE_LOCKED
        8 => Some(Outage::ReadOnly),     // SQLITE_READONLY
        10 => Some(Outage::Io),          // SQLITE_IOERR (its ENOSPC variants included)
        13 => Some(Outage::DiskFull),    // SQLITE_FULL
        14 => Some(Outage::Unreachable), // SQLITE_CANTOPEN
        _ => None,
    }
}

/// PostgreSQL's SQLSTATE codes: <https://www.postgresql.org/docs/current/errcodes-appendix.html>.
fn postgres_outage(sqlstate: &str) -> Option<Outage> {
    match sqlstate {
        "53100" => Some(Outage::DiskFull),
        "25006" => Some(Outage::ReadOnly),
        // Connection exceptions, and the server shutting down or starting up.
        s if s.starts_with("08") || s.starts_with("57P") => Some(Outage::Unreachable),
        // Out of memory or connections: the server is there but cannot take this now.
        s if s.starts_with("53") => Some(Outage::Busy),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_read_by_their_primary_code() {
        assert_eq!(sqlite_outage("5"), Some(Outage::Busy));
        assert_eq!(sqlite_outage("517"), Some(Outage::Busy)); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite_outage("13"), Some(Outage::DiskFull));
        assert_eq!(sqlite_outage("778"), Some(Outage::Io)); // SQLITE_IOERR_WRITE
        assert_eq!(sqlite_outage("1032"), Some(Outage::ReadOnly)); // SQLITE_READONLY_DBMOVED
        assert_eq!(sqlite_outage("2067"), None); // SQLITE_CONSTRAINT_UNIQUE: not an outage
        assert_eq!(sqlite_outage("1"), None);
    }

    #[test]
    fn postgres_states_by_class() {
        assert_eq!(postgres_outage("57P01"), Some(Outage::Unreachable)); // admin_shutdown
        assert_eq!(postgres_outage("08006"), Some(Outage::Unreachable));
        assert_eq!(postgres_outage("53100"), Some(Outage::DiskFull));
        assert_eq!(postgres_outage("53300"), Some(Outage::Busy)); // too_many_connections
        assert_eq!(postgres_outage("25006"), Some(Outage::ReadOnly));
        assert_eq!(postgres_outage("23505"), None); // unique_violation
        assert_eq!(postgres_outage("42P01"), None); // undefined_table: a bug
    }

    #[test]
    fn pool_and_connection_failures_are_outages() {
        assert_eq!(
            outage_of(&sqlx::Error::PoolTimedOut),
            Some(Outage::Unreachable)
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            outage_of(&sqlx::Error::Io(refused)),
            Some(Outage::Unreachable)
        );
        assert_eq!(outage_of(&sqlx::Error::RowNotFound), None);
    }
}
