use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::{to_micros, Store, StoreError};

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub kind: String,
    pub value: Option<f64>,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Stores a batch in one transaction: all of it, or none of it. Multi-row INSERTs of at
    /// most `ROWS_PER_STATEMENT` rows, so a group of thousands costs a few statements.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn insert_events(&self, events: &[&NewEvent]) -> Result<(), StoreError> {
        /// 6 bound values a row, well under SQLite's 32,766 per statement.
        const ROWS_PER_STATEMENT: usize = 5_000;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in events.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new(
                    "INSERT INTO events (user_id, conversation_id, message_id, kind, value, created_at) ",
                );
                query.push_values(chunk, |mut row, event| {
                    row.push_bind(&event.user_id)
                        .push_bind(&event.conversation_id)
                        .push_bind(&event.message_id)
                        .push_bind(&event.kind)
                        .push_bind(event.value)
                        .push_bind(to_micros(event.created_at));
                });
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

impl Store {
    /// Events stored so far, all kinds.
    pub async fn event_count(&self) -> Result<i64, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(pool)
            .await?),
        )
    }
}
