//! OpenAI-compatible endpoints, so existing clients work unchanged.

mod chat_completions;
mod models;
mod request;

pub use chat_completions::chat_completions;
pub use models::list_models;
