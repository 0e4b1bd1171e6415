use chrono::{DateTime, Utc};

use super::{from_micros, to_micros, Store, StoreError};

impl Store {
    /// Records the first sight of a user and returns it (the earlier one if already known).
    pub async fn touch_user(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        // The no-op update makes RETURNING give the stored row on a conflict.
        let first_seen: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO users (user_id, first_seen_at) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET first_seen_at = users.first_seen_at
             RETURNING first_seen_at",
        )
        .bind(user_id)
        .bind(to_micros(now))
        .fetch_one(pool)
        .await?);
        Ok(from_micros(first_seen))
    }

    pub async fn user_first_seen(
        &self,
        user_id: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let first_seen: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT first_seen_at FROM users WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await?);
        Ok(first_seen.map(from_micros))
    }
}

/// What [`Store::delete_user`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeletedUser {
    pub messages: u64,
    pub conversations: u64,
    pub events: u64,
    /// Exposures kept under `anonymous_id` (see `delete_user`).
    pub exposures_anonymised: u64,
    pub anonymous_id: Option<String>,
    /// Whether the store knew the user at all.
    pub found: bool,
}

impl Store {
    /// Erases a user, in one transaction: their messages, conversations and events are deleted,
    /// and so is their first-seen record. Each exposure is kept, re-keyed to one new random id
    /// that nothing links back to the person, so arm sizes, the SRM check and the denominators
    /// of every day's retention stay as they were; the user simply shows no activity. The
    /// incremental report's kept day parts are forgotten, since they counted the user's messages.
    #[tracing::instrument(skip_all)]
    pub async fn delete_user(&self, user_id: &str) -> Result<DeletedUser, StoreError> {
        let anonymous_id = format!("deleted-{}", uuid::Uuid::new_v4().simple());
        let mut deleted = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let run = |sql: &'static str| sqlx::query(sql).bind(user_id);
            let messages = run("DELETE FROM messages WHERE user_id = $1")
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let conversations = run("DELETE FROM conversations WHERE user_id = $1")
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let events = run("DELETE FROM events WHERE user_id = $1")
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // The incremental report's kept parts summarise the erased messages too.
            sqlx::query("DELETE FROM report_parts")
                .execute(&mut *tx)
                .await?;
            let seen = run("DELETE FROM users WHERE user_id = $1")
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let exposures_anonymised =
                sqlx::query("UPDATE assignments SET user_id = $2 WHERE user_id = $1")
                    .bind(user_id)
                    .bind(&anonymous_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            tx.commit().await?;
            DeletedUser {
                messages,
                conversations,
                events,
                exposures_anonymised,
                anonymous_id: None,
                found: messages + conversations + events + seen + exposures_anonymised > 0,
            }
        });
        if deleted.exposures_anonymised > 0 {
            deleted.anonymous_id = Some(anonymous_id);
        }
        Ok(deleted)
    }
}
