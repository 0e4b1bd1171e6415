//! OpenAI-compatible endpoints, so existing clients work unchanged.

pub(super) mod chat_completions;
pub(super) mod models;
mod request;
mod text_or_list;

pub use chat_completions::chat_completions;
pub use models::list_models;
