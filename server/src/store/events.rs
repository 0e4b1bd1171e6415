use chrono::{DateTime, Utc};

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
    /// Stores a batch in one transaction: all of it, or none of it.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for event in events {
                sqlx::query(
                    "INSERT INTO events (user_id, conversation_id, message_id, kind, value, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&event.user_id)
                .bind(&event.conversation_id)
                .bind(&event.message_id)
                .bind(&event.kind)
                .bind(event.value)
                .bind(to_micros(event.created_at))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
