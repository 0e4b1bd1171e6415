//! Client API keys: issued by the admin, stored as SHA-256 only, verified in constant time, and
//! rate-limited per key with a token bucket.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::constant_time_eq;
use blendlab_store::{ClientKeyRow, Store, StoreError};

/// Every client key starts with this, so a key is recognisable in a leaked config or log.
pub const KEY_PREFIX: &str = "blk_";
/// A verified key is trusted this long before the store is asked again. Bounds how long a
/// revocation on another replica takes to apply here; on the replica that revokes, it is at once.
const CACHE_TTL: Duration = Duration::from_secs(2);
/// Past this many cached keys the cache starts over, so key ids cannot grow it without bound.
const CACHE_LIMIT: usize = 10_000;

/// A key as issued: the row to store and the key to show the admin once.
pub struct IssuedKey {
    pub row: ClientKeyRow,
    pub key: String,
}

/// A fresh key: a public id (the row's key) and a 192-bit secret.
pub fn issue(name: &str, requests_per_minute: u32, now: DateTime<Utc>) -> IssuedKey {
    let key_id = random_hex(8);
    let key = format!("{KEY_PREFIX}{key_id}_{}", random_hex(24));
    IssuedKey {
        row: ClientKeyRow {
            key_id,
            name: name.to_owned(),
            secret_sha256: sha256_hex(&key),
            requests_per_minute,
            created_at: now,
            revoked_at: None,
        },
        key,
    }
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A live client key that a request proved it holds.
#[derive(Debug, Clone)]
pub struct ClientKey {
    pub key_id: String,
    pub requests_per_minute: u32,
}

/// Verifies presented keys and keeps each key's rate-limit bucket.
pub struct ClientKeys {
    store: Store,
    verified: Mutex<HashMap<String, (ClientKeyRow, Instant)>>,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl ClientKeys {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            verified: Mutex::default(),
            buckets: Mutex::default(),
        }
    }

    /// The live key `presented` is, or `None` for anything else (malformed, unknown, revoked,
    /// or a wrong secret for a real id).
    pub async fn verify(&self, presented: &str) -> Result<Option<ClientKey>, StoreError> {
        let Some(key_id) = key_id_of(presented) else {
            return Ok(None);
        };
        let Some(row) = self.row(key_id).await? else {
            return Ok(None);
        };
        let secret_matches = constant_time_eq(
            sha256_hex(presented).as_bytes(),
            row.secret_sha256.as_bytes(),
        );
        Ok(
            (secret_matches && row.revoked_at.is_none()).then_some(ClientKey {
                key_id: row.key_id,
                requests_per_minute: row.requests_per_minute,
            }),
        )
    }

    async fn row(&self, key_id: &str) -> Result<Option<ClientKeyRow>, StoreError> {
        if let Some((row, at)) = self.verified.lock().unwrap().get(key_id) {
            if at.elapsed() < CACHE_TTL {
                return Ok(Some(row.clone()));
            }
        }
        let row = self.store.client_key(key_id).await?;
        if let Some(row) = &row {
            let mut verified = self.verified.lock().unwrap();
            if verified.len() >= CACHE_LIMIT {
                verified.clear();
            }
            verified.insert(key_id.to_owned(), (row.clone(), Instant::now()));
        }
        Ok(row)
    }

    /// Drops what this replica remembers of a key, so its revocation applies at once.
    pub fn forget(&self, key_id: &str) {
        self.verified.lock().unwrap().remove(key_id);
        self.buckets.lock().unwrap().remove(key_id);
    }

    /// Takes one request from the key's bucket, or says how long until one is available.
    pub fn admit(&self, key: &ClientKey) -> Result<(), Duration> {
        let now = Instant::now();
        self.buckets
            .lock()
            .unwrap()
            .entry(key.key_id.clone())
            .or_insert_with(|| TokenBucket::full(key.requests_per_minute, now))
            .take(key.requests_per_minute, now)
    }
}

fn key_id_of(presented: &str) -> Option<&str> {
    let (key_id, secret) = presented.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    (!key_id.is_empty() && !secret.is_empty() && key_id.len() <= 64).then_some(key_id)
}

/// Allows bursts of up to a minute's requests, refilled evenly over the minute.
struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    fn full(requests_per_minute: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(requests_per_minute),
            updated: now,
        }
    }

    fn take(&mut self, requests_per_minute: u32, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(requests_per_minute.max(1));
        let per_second = capacity / 60.0;
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_is_stored_as_its_hash_only() {
        let issued = issue("team", 60, Utc::now());
        assert!(issued.key.starts_with(KEY_PREFIX));
        assert_eq!(key_id_of(&issued.key), Some(issued.row.key_id.as_str()));
        assert!(!issued.row.secret_sha256.contains(&issued.key[20..]));
        assert_eq!(issued.row.secret_sha256, sha256_hex(&issued.key));
        assert_ne!(issue("team", 60, Utc::now()).key, issued.key);
    }

    #[test]
    fn malformed_keys_have_no_id() {
        for bad in [
            "",
            "blk_",
            "blk_abc",
            "blk__secret",
            "blk_abc_",
            "sk-abc_def",
        ] {
            assert_eq!(key_id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_bucket_allows_a_minute_of_burst_then_refills_evenly() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(3, start);
        for _ in 0..3 {
            assert!(bucket.take(3, start).is_ok());
        }
        let wait = bucket.take(3, start).unwrap_err();
        assert!((wait.as_secs_f64() - 20.0).abs() < 1e-6, "{wait:?}");
        assert!(bucket.take(3, start + Duration::from_secs(19)).is_err());
        assert!(bucket.take(3, start + Duration::from_secs(21)).is_ok());
    }
}
