use chrono::{DateTime, Utc};

use super::{from_micros, to_micros, Store, StoreError};

/// A client API key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyRow {
    pub key_id: String,
    pub name: String,
    pub secret_sha256: String,
    pub requests_per_minute: u32,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

type Row = (String, String, String, i64, i64, Option<i64>);

fn from_row((key_id, name, secret_sha256, rpm, created_at, revoked_at): Row) -> ClientKeyRow {
    ClientKeyRow {
        key_id,
        name,
        secret_sha256,
        requests_per_minute: u32::try_from(rpm).unwrap_or(u32::MAX),
        created_at: from_micros(created_at),
        revoked_at: revoked_at.map(from_micros),
    }
}

const COLUMNS: &str =
    "key_id, name, secret_sha256, requests_per_minute, created_at, revoked_at FROM client_keys";

impl Store {
    pub async fn insert_client_key(&self, key: &ClientKeyRow) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO client_keys
                 (key_id, name, secret_sha256, requests_per_minute, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.key_id)
        .bind(&key.name)
        .bind(&key.secret_sha256)
        .bind(i64::from(key.requests_per_minute))
        .bind(to_micros(key.created_at))
        .bind(key.revoked_at.map(to_micros))
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    pub async fn client_key(&self, key_id: &str) -> Result<Option<ClientKeyRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} WHERE key_id = $1");
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(key_id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(from_row))
    }

    pub async fn client_keys(&self) -> Result<Vec<ClientKeyRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} ORDER BY created_at, key_id");
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Revokes a key; revoking it again keeps the first time. `None` when no such key exists.
    pub async fn revoke_client_key(
        &self,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ClientKeyRow>, StoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE client_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL",
        )
        .bind(to_micros(now))
        .bind(key_id)
        .execute(pool)
        .await
        .map(drop)?);
        self.client_key(key_id).await
    }
}
