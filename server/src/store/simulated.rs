//! Bulk writes of simulated history (`blendlab simulate --db`): multi-row INSERTs in one
//! transaction per batch, every row marked `simulated = 1`.

use sqlx::pool::PoolConnection;
use sqlx::query_builder::Separated;
use sqlx::{Connection as _, QueryBuilder, Sqlite, Transaction};

use super::{Store, StoreError};

/// SQLite accepts at most 32,766 bound parameters per statement.
const MAX_PARAMETERS: usize = 32_000;
/// The bulk writer's page cache, in KiB (SQLite's negative `cache_size`). Simulated rows arrive
/// user by user, so the time indexes take random-order inserts; with SQLite's default 2 MB cache
/// those fall to disk reads as the file grows (measured: 2 GiB gains nothing over 512 MiB).
const BULK_CACHE_KIB: i64 = 512 * 1024;

#[derive(Debug, Clone)]
pub struct SimulatedAssignment {
    pub user_id: String,
    pub arm: String,
    pub assigned_at: i64,
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

/// Pushes `rows` as `INSERT ... VALUES (...), (...)` statements of at most `MAX_PARAMETERS`.
/// Values are bound borrowed from `rows`, so a batch of millions of strings is not copied again.
async fn insert_all<'rows, T>(
    tx: &mut Transaction<'_, Sqlite>,
    head: &str,
    columns: usize,
    rows: &'rows [T],
    bind: impl for<'qb> Fn(Separated<'qb, 'rows, Sqlite, &'static str>, &'rows T),
) -> Result<(), StoreError> {
    for chunk in rows.chunks(MAX_PARAMETERS / columns) {
        let mut query = QueryBuilder::<'rows, Sqlite>::new(head);
        query.push_values(chunk, &bind);
        query.build().persistent(true).execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Whether the store already holds users whose ids start with `prefix` in `experiment`.
    pub async fn has_users_with_prefix(
        &self,
        experiment: &str,
        prefix: &str,
    ) -> Result<bool, StoreError> {
        let upper = format!("{prefix}\u{10FFFF}");
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM assignments WHERE experiment = ? AND user_id >= ? AND user_id < ? LIMIT 1",
        )
        .bind(experiment)
        .bind(prefix)
        .bind(upper)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// A writer of simulated rows of `experiment` on a connection of its own, with a page cache
    /// sized for bulk loads. The connection is closed, not pooled, when the writer goes.
    pub async fn simulated_writer(&self, experiment: &str) -> Result<SimulatedWriter, StoreError> {
        let mut connection = self.pool.acquire().await?;
        connection.close_on_drop();
        sqlx::query(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))
            .execute(&mut *connection)
            .await?;
        // Fewer, larger checkpoints: an index page rewritten by many batches reaches the database
        // file once per checkpoint rather than once per batch.
        sqlx::query("PRAGMA wal_autocheckpoint = 65536")
            .execute(&mut *connection)
            .await?;
        Ok(SimulatedWriter {
            connection,
            experiment: experiment.to_owned(),
        })
    }
}

pub struct SimulatedWriter {
    connection: PoolConnection<Sqlite>,
    experiment: String,
}

impl SimulatedWriter {
    /// Writes one batch atomically.
    #[tracing::instrument(skip_all, fields(experiment = %self.experiment, rows = batch.rows()))]
    pub async fn insert(&mut self, batch: &SimulatedBatch) -> Result<(), StoreError> {
        let key = self.experiment.as_str();
        let mut tx = self.connection.begin().await?;
        insert_all(
            &mut tx,
            "INSERT OR IGNORE INTO users (user_id, first_seen_at) ",
            2,
            &batch.assignments,
            |mut row, a| {
                row.push_bind(a.user_id.as_str()).push_bind(a.assigned_at);
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO assignments (experiment, user_id, arm, assigned_at, simulated) ",
            5,
            &batch.assignments,
            |mut row, a| {
                row.push_bind(key)
                    .push_bind(a.user_id.as_str())
                    .push_bind(a.arm.as_str())
                    .push_bind(a.assigned_at)
                    .push_bind(1);
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO conversations (conversation_id, user_id, experiment, arm, created_at, simulated) ",
            6,
            &batch.conversations,
            |mut row, c| {
                row.push_bind(c.conversation_id.as_str())
                    .push_bind(c.user_id.as_str())
                    .push_bind(key)
                    .push_bind(c.arm.as_str())
                    .push_bind(c.created_at)
                    .push_bind(1);
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO messages (message_id, conversation_id, position, user_id, experiment, arm,
                role, content, model, choice_prob, latency_ms, prompt_tokens, completion_tokens,
                finish_reason, created_at, simulated) ",
            16,
            &batch.messages,
            |mut row, m| {
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
                    .push_bind(m.latency_ms)
                    .push_bind(m.prompt_tokens)
                    .push_bind(m.completion_tokens)
                    .push_bind(if is_user { None } else { Some("stop") })
                    .push_bind(m.created_at)
                    .push_bind(1);
            },
        )
        .await?;
        insert_all(
            &mut tx,
            "INSERT INTO events (user_id, conversation_id, message_id, kind, value, created_at, simulated) ",
            7,
            &batch.events,
            |mut row, e| {
                row.push_bind(e.user_id.as_str())
                    .push_bind(e.conversation_id.as_str())
                    .push_bind(e.message_id.as_str())
                    .push_bind(e.kind)
                    .push_bind(e.value)
                    .push_bind(e.created_at)
                    .push_bind(1);
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
