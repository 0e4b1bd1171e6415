//! The contract between the server and whatever writes replies.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// One reply to write. `messages` is the whole history: in a blend, the component sees what the
/// other components wrote as plain assistant turns.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u32,
    pub stop: Vec<String>,
    /// Which (conversation, component) this continues: an engine that keeps a KV sequence per key
    /// decodes only what was added since that sequence's last turn.
    pub cache_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// End of turn: an end-of-generation token or a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The streaming client went away; the text is what was written until then.
    Cancelled,
    /// A remote endpoint broke off mid-reply; the text is what had arrived. The caller got an
    /// error, not this reply.
    Error,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Cancelled => "cancelled",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: u32,
    /// Prompt tokens computed for this reply; the rest came from the cache.
    pub prefill_tokens: u32,
    pub completion_tokens: u32,
    pub finish_reason: FinishReason,
    /// Turns dropped from the front of the history to fit the context.
    pub dropped_messages: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// Even the system prompt and the newest message do not fit the context window.
    #[error("the prompt needs {prompt_tokens} tokens plus room to reply, but the context holds {context_size}")]
    ContextOverflow {
        prompt_tokens: usize,
        context_size: u32,
    },
    #[error("the inference queue is full")]
    Overloaded,
    #[error("the request was cancelled")]
    Cancelled,
    #[error("inference failed: {0}")]
    Backend(String),
    /// A remote model endpoint failed or could not be reached.
    #[error("the remote model failed: {0}")]
    Upstream(String),
    /// A remote endpoint failed after part of the reply had arrived: that part is in `partial`
    /// (finish reason [`FinishReason::Error`]), to be logged as such.
    #[error("the remote model failed: {message}")]
    UpstreamBrokeOff {
        message: String,
        partial: Box<Generation>,
    },
}

/// Receives the reply while it is written: whole characters, never part of a stop string, adding
/// up to exactly [`Generation::text`]. Dropping the receiver cancels the generation, which then
/// ends with [`FinishReason::Cancelled`] and the text written so far.
pub type TextDeltas = tokio::sync::mpsc::UnboundedSender<String>;

#[async_trait::async_trait]
pub trait ChatBackend: Send + Sync {
    /// Writes one reply; with `deltas`, streams it as it goes.
    async fn generate(
        &self,
        request: GenerationRequest,
        deltas: Option<TextDeltas>,
    ) -> Result<Generation, InferenceError>;

    /// Brings the cache for `request.cache_key` up to date with `request.messages` (a history
    /// that ends with a reply another component wrote) in the background, at low priority, so
    /// that this component is ready if it is picked next. Best effort; without a cache, nothing.
    /// The backend holds `ticket` until the catch-up is done, replaced or given up.
    fn catch_up(
        &self,
        _request: GenerationRequest,
        _ticket: CatchUpTicket,
        _priority: CatchUpPriority,
    ) {
    }
}

/// Which catch-ups go first. The component that writes a conversation's next turn is known as
/// soon as a reply is stored (the draw is a function of salt, conversation and turn), so it reads
/// the new turn first, beside the replies being written; the others read it only when the engine
/// has nothing else to do, so that a user who answers at once does not wait on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpPriority {
    /// The component drawn for the conversation's next turn.
    Next,
    /// Another component of the blend.
    WhenIdle,
}

/// How many of a component's background catch-ups are under way or waiting: the engine's own
/// signal that the component has read the latest history (`/metrics` shows it).
#[derive(Debug, Clone, Default)]
pub struct CatchUpCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl CatchUpCounter {
    pub fn pending(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts one more catch-up until the ticket is dropped.
    pub fn ticket(&self) -> CatchUpTicket {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        CatchUpTicket(std::sync::Arc::clone(&self.0))
    }
}

/// One pending catch-up. Whatever path the job leaves the engine by (done, replaced by a newer
/// one, taken over by a reply, refused by a full queue, failed), dropping it ends the count.
#[derive(Debug)]
pub struct CatchUpTicket(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for CatchUpTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::CatchUpCounter;

    #[test]
    fn a_ticket_counts_until_it_is_dropped() {
        let counter = CatchUpCounter::default();
        let first = counter.ticket();
        let second = counter.clone().ticket();
        assert_eq!(counter.pending(), 2);
        drop(first);
        assert_eq!(counter.pending(), 1);
        drop(second);
        assert_eq!(counter.pending(), 0);
    }
}
