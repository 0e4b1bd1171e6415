use actix_web::http::StatusCode;
use blendlab_inference::InferenceError;

use crate::error::ApiError;
use blendlab_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    Validation(String),
    #[error("no experiment or model named {0:?}")]
    UnknownTarget(String),
    #[error("experiment {key:?} is {status}, not running")]
    NotRunning { key: String, status: &'static str },
    #[error("conversation {0:?} does not exist")]
    ConversationNotFound(String),
    #[error("{0}")]
    ConversationMismatch(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("another turn of this conversation was logged first; resend with the new history")]
    ConcurrentTurn,
    #[error("the server is at capacity; retry shortly")]
    AtCapacity,
    #[error("{0}")]
    ContextOverflow(String),
    #[error("{0}")]
    ModelUnavailable(String),
    #[error("{0}")]
    Upstream(String),
    #[error("the store is unavailable: {}", .0.describe())]
    StoreUnavailable(blendlab_store::Outage),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for ChatError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(_) => Self::ConcurrentTurn,
            StoreError::Unavailable(outage) => Self::StoreUnavailable(outage),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<InferenceError> for ChatError {
    fn from(error: InferenceError) -> Self {
        match error {
            InferenceError::ContextOverflow { .. } => Self::ContextOverflow(error.to_string()),
            InferenceError::Overloaded => Self::AtCapacity,
            InferenceError::Upstream(_) | InferenceError::UpstreamBrokeOff { .. } => {
                Self::Upstream(error.to_string())
            }
            // Nobody waits for a reply cancelled before it began, but a drain's can be answered.
            InferenceError::Cancelled => Self::ShuttingDown,
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(error: ChatError) -> Self {
        let message = error.to_string();
        match error {
            ChatError::Validation(_) => ApiError::bad_request("invalid_request", message),
            ChatError::UnknownTarget(_) => {
                ApiError::not_found("model_not_found", message).with_param("model")
            }
            ChatError::NotRunning { .. } => ApiError::conflict("experiment_not_running", message),
            ChatError::ConversationNotFound(_) => {
                ApiError::not_found("conversation_not_found", message)
            }
            ChatError::ConversationMismatch(_) => {
                ApiError::conflict("conversation_mismatch", message)
            }
            ChatError::Forbidden(_) => ApiError::forbidden(message),
            ChatError::ConcurrentTurn => ApiError::conflict("concurrent_turn", message),
            ChatError::AtCapacity => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "at_capacity", message);
                e.retry_after_s = Some(1);
                e
            }
            ChatError::ContextOverflow(_) => {
                ApiError::bad_request("context_length_exceeded", message)
            }
            ChatError::ModelUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "model_unavailable",
                message,
            ),
            ChatError::Upstream(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream_failed", message)
            }
            ChatError::StoreUnavailable(outage) => ApiError::store_unavailable(outage),
            ChatError::ShuttingDown => ApiError::shutting_down(),
            ChatError::Unexpected(e) => ApiError::unexpected(e),
        }
    }
}
