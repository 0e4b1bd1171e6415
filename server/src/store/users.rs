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
