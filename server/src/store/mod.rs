//! The store: every experiment, exposure, conversation, message and event, through sqlx.
//! SQLite (WAL) is the embedded default. One `impl` file per table, returning plain rows.

mod assignments;
mod conversations;
mod events;
mod experiments;
mod reports;
mod simulated;
mod users;
mod warehouse;

use std::{str::FromStr, time::Duration};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use assignments::AssignmentRow;
pub use conversations::{ConversationRow, MessageRow, NewConversation, NewMessage};
pub use events::NewEvent;
pub use experiments::{ExperimentRow, ExperimentStatus};
pub use reports::StoredReport;
pub use simulated::{
    SimulatedAssignment, SimulatedBatch, SimulatedConversation, SimulatedEvent, SimulatedMessage,
    SimulatedWriter,
};
pub use warehouse::{AssignmentColumns, EventColumns, MessageColumns};

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write (e.g. the key exists, or a concurrent turn won).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                return Self::Conflict(db.message().to_owned());
            }
        }
        Self::Unexpected(anyhow::Error::new(error))
    }
}

impl Store {
    /// Opens `sqlite://PATH` (the file is created when missing) and runs the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if !url.starts_with("sqlite:") {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH");
        }
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("parsing database URL {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a reply acknowledged to the client survives a crash and a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {url}"))?;
        sqlx::migrate!("../migrations/sqlite")
            .run(&pool)
            .await
            .context("running the SQLite migrations")?;
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
