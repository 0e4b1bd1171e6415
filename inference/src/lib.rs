//! Inference behind a small trait. Callers hold `Arc<dyn ChatBackend>` through the
//! [`ModelRegistry`] and never see llama.cpp types.

mod backend;
mod config;
mod llama;
mod model_file;
mod prompt;
mod registry;
mod remote;
mod reply_text;

pub use backend::{
    CatchUpCounter, CatchUpPriority, CatchUpTicket, ChatBackend, ChatMessage, FinishReason,
    Generation, GenerationRequest, InferenceError, Role, TextDeltas,
};
pub use config::{BackendKind, ModelConfig};
pub use llama::log_llama_to_tracing;
#[cfg(feature = "bench")]
pub use llama::{fit_history_timing, raw_decode, FitTiming, RawDecode, RawDecodeShape};
pub use llama::{LlamaEngine, LlamaEngineSettings};
pub use model_file::DEFAULT_MODEL_FILE_NAME;
pub use prompt::PromptTemplate;
pub use registry::{ModelRegistry, RegisteredModel, ReplyOptions};
pub use remote::OpenAiBackend;
