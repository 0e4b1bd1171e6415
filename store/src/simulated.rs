//! Bulk writes of simulated history (`blendlab simulate --db`): multi-row INSERTs in one
//! transaction per batch, every row marked `simulated = 1`, on either database.

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, Postgres, QueryBuilder, Sqlite};

use super::assignments::attributes_json;
use super::{Pool, Store, StoreError};
use blendlab_experiments::UserAttributes;

/// SQLite accepts at most 32,766 bound parameters per statement (PostgreSQL 65,535).
const MAX_PARAMETERS: usize = 32_000;
/// The bulk writer's page cache, in KiB (SQLite's negative `cache_size`). Simulated rows arrive
/// user by user, so the time indexes take random-order inserts; with SQLite's default 2 MB cache
/// those fall to disk reads as the file grows (measured: 2 GiB gains nothing over 512 MiB).
const BULK_CACHE_KIB: i64 = 512 * 1024;

/// SQLite indexes that a bulk load into an empty log builds once at the end instead of row by
/// row: simulated rows arrive user by user, so every message lands at a random place in the time
/// index. The definitions are the migrations' own (`0001`, `0002`); [`restore_deferred_indexes`]
/// puts back any that a load interrupted by a crash left out.
const DEFERRED_SQLITE_INDEXES: [&str; 3] = [
    "CREATE INDEX IF NOT EXISTS messages_by_time ON messages (created_at)",
    "CREATE INDEX IF NOT EXISTS messages_by_user ON messages (user_id)",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (created_at)",
];

/// Creates the indexes a bulk load deferred, if any is missing (at every SQLite start).
pub(super) async fn restore_deferred_indexes(pool: &sqlx::SqlitePool) -> Result<(), StoreError> {
    for index in DEFERRED_SQLITE_INDEXES {
        sqlx::query(index).execute(pool).await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct SimulatedAssignment {
    pub user_id: String,
    pub arm: String,
    pub assigned_at: i64,
    pub attributes: UserAttributes,
}

#[derive(Debug, Clone)]
pub struct SimulatedConversation {
    pub conversation_id: String,
    pub user_id: String,
    pub arm: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct SimulatedMessage {
    pub message_id: String,
    pub conversation_id: String,
    pub position: u32,
    pub user_id: String,
    pub arm: String,
    /// `None` for a user message.
    pub model: Option<String>,
    pub content: &'static str,
    pub choice_prob: Option<f64>,
    /// The adaptive arm's snapshot the component was drawn from.
    pub policy_version: Option<i64>,
    pub latency_ms: Option<f64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct SimulatedEvent {
    pub user_id: String,
    pub conversation_id: String,
    pub message_id: String,
    pub kind: &'static str,
    pub value: f64,
    pub created_at: i64,
}

/// One transaction's worth of simulated rows.
#[derive(Debug, Default)]
pub struct SimulatedBatch {
    pub assignments: Vec<SimulatedAssignment>,
    pub conversations: Vec<SimulatedConversation>,
    pub messages: Vec<SimulatedMessage>,
    pub events: Vec<SimulatedEvent>,
}

impl SimulatedBatch {
    pub fn rows(&self) -> usize {
        self.assignments.len() + self.conversations.len() + self.messages.len() + self.events.len()
    }
}

/// Pushes `$rows` as `INSERT ... VALUES (...), (...)` statements of at most `MAX_PARAMETERS`
/// bound values, on transaction `$tx` of database `$db`. Values are bound borrowed from `$rows`,
/// so a batch of millions of strings is not copied again.
macro_rules! insert_rows {
    ($tx:expr, $db:ty, $head:expr, $tail:expr, $columns:expr, $rows:expr, $bind:expr) => {
        for chunk in $rows.chunks(MAX_PARAMETERS / $columns) {
            let mut query = QueryBuilder::<$db>::new($head);
            query.push_values(chunk, $bind);
            query.push($tail);
            query.build().persistent(true).execute(&mut *$tx).await?;
        }
    };
}

/// One batch in one transaction of `$connection`, a pooled connection of database `$db`.
macro_rules! insert_batch {
    ($connection:expr, $db:ty, $key:expr, $batch:expr) => {{
        let (key, batch) = ($key, $batch);
        let mut tx = $connection.begin().await?;
        insert_rows!(
            tx,
            $db,
            "INSERT INTO users (user_id, first_seen_at) ",
            " ON CONFLICT (user_id) DO NOTHING",
            2,
            &batch.assignments,
            |mut row, a: &SimulatedAssignment| {
                row.push_bind(a.user_id.as_str()).push_bind(a.assigned_at);
            }
        );
        insert_rows!(
            tx,
            $db,
            "INSERT INTO assignments (experiment, user_id, arm, assigned_at, simulated, attributes) ",
            "",
            6,
            &batch.assignments,
            |mut row, a: &SimulatedAssignment| {
                row.push_bind(key)
                    .push_bind(a.user_id.as_str())
                    .push_bind(a.arm.as_str())
                    .push_bind(a.assigned_at)
                    .push_bind(1)
                    .push_bind(attributes_json(&a.attributes));
            }
        );
        insert_rows!(
            tx,
            $db,
            "INSERT INTO conversations (conversation_id, user_id, experiment, arm, created_at, simulated) ",
            "",
            6,
            &batch.conversations,
            |mut row, c: &SimulatedConversation| {
                row.push_bind(c.conversation_id.as_str())
                    .push_bind(c.user_id.as_str())
                    .push_bind(key)
                    .push_bind(c.arm.as_str())
                    .push_bind(c.created_at)
                    .push_bind(1);
            }
        );
        insert_rows!(
            tx,
            $db,
            "INSERT INTO messages (message_id, conversation_id, position, user_id, experiment, arm,
                role, content, model, choice_prob, policy_version, latency_ms, prompt_tokens,
                completion_tokens, finish_reason, created_at, simulated) ",
            "",
            17,
            &batch.messages,
            |mut row, m: &SimulatedMessage| {
                let is_user = m.model.is_none();
                row.push_bind(m.message_id.as_str())
                    .push_bind(m.conversation_id.as_str())
                    .push_bind(i64::from(m.position))
                    .push_bind(m.user_id.as_str())
                    .push_bind(key)
                    .push_bind(m.arm.as_str())
                    .push_bind(if is_user { "user" } else { "assistant" })
                    .push_bind(m.content)
                    .push_bind(m.model.as_deref())
                    .push_bind(m.choice_prob)
                    .push_bind(m.policy_version)
                    .push_bind(m.latency_ms)
                    .push_bind(m.prompt_tokens)
                    .push_bind(m.completion_tokens)
                    .push_bind(if is_user { None } else { Some("stop") })
                    .push_bind(m.created_at)
                    .push_bind(1);
            }
        );
        insert_rows!(
            tx,
            $db,
            "INSERT INTO events (user_id, conversation_id, message_id, kind, value, created_at, simulated) ",
            "",
            7,
            &batch.events,
            |mut row, e: &SimulatedEvent| {
                row.push_bind(e.user_id.as_str())
                    .push_bind(e.conversation_id.as_str())
                    .push_bind(e.message_id.as_str())
                    .push_bind(e.kind)
                    .push_bind(e.value)
                    .push_bind(e.created_at)
                    .push_bind(1);
            }
        );
        tx.commit().await?;
    }};
}

impl Store {
    /// Whether the store already holds users whose ids start with `prefix` in `experiment`.
    pub async fn has_users_with_prefix(
        &self,
        experiment: &str,
        prefix: &str,
    ) -> Result<bool, StoreError> {
        // A byte comparison, not a range: PostgreSQL's collation need not order by bytes.
        let found: Option<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT user_id FROM assignments
             WHERE experiment = $1 AND substr(user_id, 1, length($2)) = $2 LIMIT 1",
        )
        .bind(experiment)
        .bind(prefix)
        .fetch_optional(pool)
        .await?);
        Ok(found.is_some())
    }

    /// A writer of simulated rows of `experiment` on a connection of its own. On SQLite it gets
    /// a page cache sized for bulk loads; the connection is closed, not pooled, when it goes.
    pub async fn simulated_writer(&self, experiment: &str) -> Result<SimulatedWriter, StoreError> {
        let connection = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut connection = pool.acquire().await?;
                connection.close_on_drop();
                sqlx::query(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))
                    .execute(&mut *connection)
                    .await?;
                // Fewer, larger checkpoints: an index page rewritten by many batches reaches the
                // database file once per checkpoint rather than once per batch.
                sqlx::query("PRAGMA wal_autocheckpoint = 65536")
                    .execute(&mut *connection)
                    .await?;
                let log_is_empty: bool =
                    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM messages)")
                        .fetch_one(&mut *connection)
                        .await?;
                if log_is_empty {
                    for index in ["messages_by_time", "messages_by_user", "events_by_time"] {
                        sqlx::query(&format!("DROP INDEX IF EXISTS {index}"))
                            .execute(&mut *connection)
                            .await?;
                    }
                }
                WriterConnection::Sqlite {
                    connection,
                    indexes_deferred: log_is_empty,
                }
            }
            Pool::Postgres(pool) => WriterConnection::Postgres(pool.acquire().await?),
        };
        Ok(SimulatedWriter {
            connection,
            experiment: experiment.to_owned(),
        })
    }
}

enum WriterConnection {
    Sqlite {
        connection: PoolConnection<Sqlite>,
        /// The log was empty, so its time and user indexes are built by `finish`.
        indexes_deferred: bool,
    },
    Postgres(PoolConnection<Postgres>),
}

pub struct SimulatedWriter {
    connection: WriterConnection,
    experiment: String,
}

impl SimulatedWriter {
    /// Writes one batch atomically.
    #[tracing::instrument(skip_all, fields(experiment = %self.experiment, rows = batch.rows()))]
    pub async fn insert(&mut self, batch: &SimulatedBatch) -> Result<(), StoreError> {
        let key = self.experiment.as_str();
        match &mut self.connection {
            WriterConnection::Sqlite { connection, .. } => {
                insert_batch!(connection, Sqlite, key, batch)
            }
            WriterConnection::Postgres(connection) => {
                insert_batch!(connection, Postgres, key, batch)
            }
        }
        Ok(())
    }

    /// Builds the indexes the load deferred. Until then, queries by time or user scan the table.
    #[tracing::instrument(skip_all, fields(experiment = %self.experiment))]
    pub async fn finish(self) -> Result<(), StoreError> {
        if let WriterConnection::Sqlite {
            mut connection,
            indexes_deferred: true,
        } = self.connection
        {
            for index in DEFERRED_SQLITE_INDEXES {
                sqlx::query(index).execute(&mut *connection).await?;
            }
        }
        Ok(())
    }
}
