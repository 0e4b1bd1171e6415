//! The store: every experiment, exposure, conversation, message and event, through sqlx.
//! SQLite (WAL) is the embedded default. One `impl` file per table, returning plain rows.

/// Runs `$body` with `$pool` bound to the store's pool, whichever database it is: the body is
/// compiled once per database. SQL inside is written once, with `$N` placeholders, which SQLite
/// and PostgreSQL both accept.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

mod assignments;
mod availability;
mod client_keys;
mod conversations;
mod events;
mod experiments;
mod policy_snapshots;
mod report_parts;
mod reports;
mod simulated;
mod users;
mod warehouse;

use std::str::FromStr;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::{
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

pub use assignments::AssignmentRow;
pub use availability::{Outage, StoreOptions};
pub use client_keys::ClientKeyRow;
pub use conversations::{ConversationRow, MessageRow, NewConversation, NewMessage, TurnWrite};
pub use events::NewEvent;
pub use experiments::{ExperimentRow, ExperimentStatus};
pub use policy_snapshots::{PolicySnapshotRow, SnapshotModel, CONTINUATION_WINDOW_S};
pub use reports::StoredReport;
pub use simulated::{
    SimulatedAssignment, SimulatedBatch, SimulatedConversation, SimulatedEvent, SimulatedMessage,
    SimulatedWriter,
};
pub use users::DeletedUser;
pub use warehouse::{AssignmentColumns, EventColumns, MessageColumns};

/// The embedded default: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://blendlab.db";

/// The store: the embedded SQLite file, or PostgreSQL shared by many replicas. Both behave the
/// same (the conformance suite, `store/tests/conformance.rs`, runs every case on both).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (e.g. the key exists, or a concurrent turn won).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot serve right now; the same request may succeed once it is back.
    #[error("the store is unavailable: {}", .0.describe())]
    Unavailable(Outage),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

static DATABASE_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Store operations in this process that failed other than by a conflict (for `/metrics`).
pub fn database_errors() -> u64 {
    DATABASE_ERRORS.load(std::sync::atomic::Ordering::Relaxed)
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                return Self::Conflict(db.message().to_owned());
            }
        }
        DATABASE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match availability::outage_of(&error) {
            Some(outage) => {
                tracing::warn!(error = %error, "the store is unavailable");
                Self::Unavailable(outage)
            }
            None => Self::Unexpected(anyhow::Error::new(error)),
        }
    }
}

impl Store {
    /// Opens `sqlite://PATH` (the file is created when missing) or `postgres://...`, and runs
    /// that database's migrations. Waits as a batch job can ([`StoreOptions::PATIENT`]).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, StoreOptions::PATIENT).await
    }

    /// [`Store::connect`], waiting at most `options.wait` for a connection or a lock.
    pub async fn connect_with(url: &str, options: StoreOptions) -> anyhow::Result<Self> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url, options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Pool::Postgres(connect_postgres(url, options).await?)
        } else {
            anyhow::bail!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
                redact(url)
            );
        };
        Ok(Self { pool })
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Runs `job` unless another process holds `lock`, and returns `None` if one does. On
    /// PostgreSQL this is a session advisory lock, released when the job ends or when its
    /// process dies (the session closes). The embedded SQLite file has one server, so the job
    /// just runs.
    pub async fn exclusively<T>(
        &self,
        lock: i64,
        job: impl std::future::Future<Output = T>,
    ) -> Result<Option<T>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(Some(job.await));
        };
        let mut connection = pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock)
            .fetch_one(&mut *connection)
            .await?;
        if !locked {
            return Ok(None);
        }
        let outcome = job.await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(lock)
            .execute(&mut *connection)
            .await?;
        Ok(Some(outcome))
    }

    /// Commits one small write: the store is ready when this succeeds. A full disk, a read-only
    /// file or a held lock fail here even though reads still answer.
    pub async fn probe(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        const PROBE: &str = "INSERT INTO store_probe (id, probed_at) VALUES (1, $1)
                             ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";
        on_pool!(self, pool => sqlx::query(PROBE).bind(to_micros(now)).execute(pool).await.map(drop))?;
        Ok(())
    }
}

async fn connect_sqlite(url: &str, store: StoreOptions) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("parsing database URL {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a reply acknowledged to the client survives a crash and a power cut.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Another process's write lock is waited for this long, then the store is busy.
        .busy_timeout(store.wait);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(store.wait)
        .connect_with(options)
        .await
        .with_context(|| format!("opening {url}"))?;
    sqlx::migrate!("../migrations/sqlite")
        .run(&pool)
        .await
        .context("running the SQLite migrations")?;
    simulated::restore_deferred_indexes(&pool)
        .await
        .context("restoring the indexes of an interrupted bulk load")?;
    Ok(pool)
}

async fn connect_postgres(url: &str, store: StoreOptions) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("parsing database URL {:?}", redact(url)))?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        // While the server is down the pool keeps trying to connect: bounded, so that a
        // request fails fast with an outage instead of hanging.
        .acquire_timeout(store.wait)
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    // Replicas starting together: the migrator takes an advisory lock, so one runs them.
    sqlx::migrate!("../migrations/postgres")
        .run(&pool)
        .await
        .context("running the PostgreSQL migrations")?;
    Ok(pool)
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
