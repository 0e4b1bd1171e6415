-- Client API keys: created and revoked by the admin; only the SHA-256 of the key is kept.
CREATE TABLE client_keys (
    key_id              TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    secret_sha256       TEXT NOT NULL,      -- hex SHA-256 of the whole key as the client sends it
    requests_per_minute BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    revoked_at          BIGINT              -- null while the key is live
);

-- The client key that started a conversation; null when the admin token did. A client key reads
-- and continues only its own conversations.
ALTER TABLE conversations ADD COLUMN client_key TEXT;
