//! One chat turn, the heart of the data flow: resolve the experiment, assign the arm, draw the
//! component, generate, and log, committing the reply before it is acknowledged.
//! Both `/api/v1/chat` (server keeps the history) and `/v1/chat/completions` (client sends it)
//! run through [`run_turn`].

mod cancel;
mod enrollment;
mod error;
mod turn;

pub use enrollment::{assignment_for, enrolled_arm};
pub use error::ChatError;
pub use turn::{
    prepare_turn, run_turn, History, PreparedTurn, Target, TurnInput, TurnOutput, Usage,
};

/// Checks a user id at the edge: 1..=256 characters, no control characters.
pub fn validate_user_id(user_id: &str) -> Result<(), ChatError> {
    if user_id.is_empty() || user_id.chars().count() > 256 || user_id.chars().any(char::is_control)
    {
        return Err(ChatError::Validation(
            "user_id must be 1 to 256 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// Checks a conversation id supplied by a client: 1..=128 characters of `[A-Za-z0-9_.:-]`.
pub fn validate_conversation_id(id: &str) -> Result<(), ChatError> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if !valid {
        return Err(ChatError::Validation(
            "conversation_id must be 1 to 128 characters of [A-Za-z0-9_.:-]".into(),
        ));
    }
    Ok(())
}
