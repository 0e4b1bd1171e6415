use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{from_micros, to_micros, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub conversation_id: String,
    pub user_id: String,
    pub experiment: Option<String>,
    pub arm: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The client key that started it; `None` when the admin token did.
    pub client_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub message_id: String,
    pub position: i64,
    pub role: String,
    pub content: String,
    pub model: Option<String>,
    pub choice_prob: Option<f64>,
    pub latency_ms: Option<f64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A conversation to create together with its first turn.
pub type NewConversation = ConversationRow;

/// One chat turn to log: its messages from `first_position` on, after creating the conversation
/// when `create_conversation` is set.
#[derive(Debug, Clone)]
pub struct TurnWrite {
    pub conversation: ConversationRow,
    pub create_conversation: bool,
    pub first_position: i64,
    pub messages: Vec<NewMessage>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message_id: String,
    pub role: &'static str,
    pub content: String,
    pub model: Option<String>,
    pub choice_prob: Option<f64>,
    pub latency_ms: Option<f64>,
    pub prompt_tokens: Option<u32>,
    /// Prompt tokens computed for this reply; the rest came from the cache.
    pub prefill_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub finish_reason: Option<&'static str>,
    /// The policy snapshot an adaptive arm drew this reply's component from.
    pub policy_version: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<ConversationRow>, StoreError> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        );
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT conversation_id, user_id, experiment, arm, created_at, client_key
             FROM conversations WHERE conversation_id = $1",
        )
        .bind(conversation_id)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(
            |(conversation_id, user_id, experiment, arm, created_at, client_key)| ConversationRow {
                conversation_id,
                user_id,
                experiment,
                arm,
                created_at: from_micros(created_at),
                client_key,
            },
        ))
    }

    pub async fn messages(&self, conversation_id: &str) -> Result<Vec<MessageRow>, StoreError> {
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT message_id, position, role, content, model, choice_prob, latency_ms,
                        prompt_tokens, completion_tokens, created_at
                 FROM messages WHERE conversation_id = $1 ORDER BY position",
            )
            .bind(conversation_id)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| MessageRow {
                    message_id: r.get("message_id"),
                    position: r.get("position"),
                    role: r.get("role"),
                    content: r.get("content"),
                    model: r.get("model"),
                    choice_prob: r.get("choice_prob"),
                    latency_ms: r.get("latency_ms"),
                    prompt_tokens: r.get("prompt_tokens"),
                    completion_tokens: r.get("completion_tokens"),
                    created_at: from_micros(r.get("created_at")),
                })
                .collect()
        }))
    }

    /// Appends messages at `first_position` onwards in one transaction, creating the conversation
    /// first when `create_conversation` is set. When another turn took those positions first, it
    /// fails with [`StoreError::Conflict`] and writes nothing.
    pub async fn append_messages(
        &self,
        conversation: &ConversationRow,
        create_conversation: bool,
        first_position: i64,
        messages: &[NewMessage],
    ) -> Result<(), StoreError> {
        let turn = TurnWrite {
            conversation: conversation.clone(),
            create_conversation,
            first_position,
            messages: messages.to_vec(),
        };
        self.append_turns(&[&turn]).await
    }

    /// Logs several turns in one transaction (group commit): all of them, or none when any fails,
    /// a [`StoreError::Conflict`] included.
    #[tracing::instrument(skip_all, fields(turns = turns.len()))]
    pub async fn append_turns(&self, turns: &[&TurnWrite]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for turn in turns {
                let conversation = &turn.conversation;
                if turn.create_conversation {
                    sqlx::query(
                        "INSERT INTO conversations
                             (conversation_id, user_id, experiment, arm, created_at, client_key)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&conversation.conversation_id)
                    .bind(&conversation.user_id)
                    .bind(&conversation.experiment)
                    .bind(&conversation.arm)
                    .bind(to_micros(conversation.created_at))
                    .bind(&conversation.client_key)
                    .execute(&mut *tx)
                    .await?;
                }
                for (offset, message) in turn.messages.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO messages (message_id, conversation_id, position, user_id,
                            experiment, arm, role, content, model, choice_prob, latency_ms,
                            prompt_tokens, prefill_tokens, completion_tokens, finish_reason,
                            created_at, policy_version)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                            $15, $16, $17)",
                    )
                    .bind(&message.message_id)
                    .bind(&conversation.conversation_id)
                    .bind(turn.first_position + offset as i64)
                    .bind(&conversation.user_id)
                    .bind(&conversation.experiment)
                    .bind(&conversation.arm)
                    .bind(message.role)
                    .bind(&message.content)
                    .bind(&message.model)
                    .bind(message.choice_prob)
                    .bind(message.latency_ms)
                    .bind(message.prompt_tokens.map(i64::from))
                    .bind(message.prefill_tokens.map(i64::from))
                    .bind(message.completion_tokens.map(i64::from))
                    .bind(message.finish_reason)
                    .bind(to_micros(message.created_at))
                    .bind(message.policy_version)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn message_count(&self, conversation_id: &str) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = $1",
        )
        .bind(conversation_id)
        .fetch_one(pool)
        .await?))
    }
}
