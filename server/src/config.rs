//! The server config file (`--config FILE`, TOML): operating knobs and the models it serves.
//! Without a file, a built-in config declares the example's models on the bundled GGUF, so
//! `experiments/definitions/chai-blend.toml` works as it is.

use std::path::Path;

use anyhow::Context as _;
use blendlab_inference::ModelConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default = "builtin_models")]
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Chat requests admitted at once (queued or running) before 429.
    pub max_concurrent_chats: usize,
    /// KV sequences per GGUF file: replies batched at once, and the (conversation, component)
    /// caches kept between turns. KV memory grows with this times the models' context_size.
    pub inference_sequences: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted chat message, in characters.
    pub max_message_chars: usize,
    /// Largest `max_tokens` a request may ask for.
    pub max_tokens_limit: u32,
    /// actix-web worker threads.
    pub http_workers: usize,
    /// Compute and store every running experiment's report after each UTC midnight.
    pub daily_reports: bool,
    /// The rate limit of a client key created without `requests_per_minute`.
    pub client_requests_per_minute: u32,
    /// How long the leaderboard reuses a report it computed (for experiments with no stored
    /// daily report yet).
    pub live_report_ttl_s: u64,
    /// The longest a request waits for the store (a connection, SQLite's write lock) before it
    /// is answered 503 `store_unavailable`.
    pub store_timeout_ms: u64,
    /// On SIGTERM or SIGINT: how long replies in flight may run on before they are cancelled.
    pub shutdown_drain_s: u64,
    /// Adaptive blends: how often each arm's policy snapshot is recomputed (its version is the
    /// interval's index, so replicas with the same setting agree).
    pub policy_refresh_s: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_concurrent_chats: 32,
            inference_sequences: 8,
            max_body_bytes: 1024 * 1024,
            max_message_chars: 16_000,
            max_tokens_limit: 1024,
            http_workers: 2,
            daily_reports: true,
            client_requests_per_minute: 600,
            live_report_ttl_s: 60,
            store_timeout_ms: 1000,
            shutdown_drain_s: 10,
            policy_refresh_s: 60,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            server: ServerSettings::default(),
            models: builtin_models(),
        }
    }
}

impl ServerConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if config.server.max_concurrent_chats == 0 {
            anyhow::bail!(
                "{}: server.max_concurrent_chats must be at least 1",
                path.display()
            );
        }
        if config.server.policy_refresh_s == 0 {
            anyhow::bail!(
                "{}: server.policy_refresh_s must be at least 1",
                path.display()
            );
        }
        if !(50..=60_000).contains(&config.server.store_timeout_ms) {
            anyhow::bail!(
                "{}: server.store_timeout_ms must be from 50 to 60000, not {}",
                path.display(),
                config.server.store_timeout_ms
            );
        }
        Ok(config)
    }
}

fn persona(id: &str, system_prompt: &str, temperature: f32) -> ModelConfig {
    ModelConfig {
        system_prompt: system_prompt.to_owned(),
        temperature,
        top_p: 0.95,
        max_tokens: 64,
        stop: vec!["\n\n".to_owned()],
        ..ModelConfig::local(id)
    }
}

/// The example's four models, all personas of the bundled Gemma 3 270M: one file, loaded once.
/// Here "large" differs only in persona; point it at a bigger GGUF with `--config` to reproduce the
/// paper's size gap.
pub fn builtin_models() -> Vec<ModelConfig> {
    vec![
        persona(
            "large",
            "The following is a friendly conversation between a user and a helpful, knowledgeable assistant.",
            0.7,
        ),
        persona(
            "small-a",
            "The following is a conversation between a user and a cheerful assistant who loves to chat.",
            0.8,
        ),
        persona(
            "small-b",
            "The following is a conversation between a user and a witty assistant with a sense of humour.",
            0.9,
        ),
        persona(
            "small-c",
            "The following is a conversation between a user and a curious assistant who asks questions back.",
            0.8,
        ),
    ]
}
