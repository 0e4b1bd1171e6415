//! The body of `POST /v1/chat/completions`, checked at the edge and turned into a chat turn.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
};

use blendlab_experiments::UserAttributes;
use blendlab_inference::{ChatMessage, Role};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::text_or_list::{text_or_list, TextOrList};

use crate::{
    auth::Caller,
    chat::{validate_conversation_id, validate_user_id, History, Target, TurnInput},
    error::ApiError,
    routes::chat::{validate_max_tokens, validate_message},
    state::AppState,
};

const MAX_MESSAGES: usize = 512;
const MAX_STOP_STRINGS: usize = 4;

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"model": "chai-blend", "user": "user-42", "max_tokens": 4,
    "messages": [{"role": "user", "content": "Hi!"}]}))]
pub struct CompletionRequest {
    model: String,
    messages: Vec<RequestMessage>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default, deserialize_with = "stop_strings")]
    #[schema(value_type = Option<StopStrings>)]
    stop: Option<Vec<String>>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    metadata: Option<HashMap<String, Value>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// Fields OpenAI defines that do not change what this server does (penalties, logprobs, …).
    #[serde(flatten)]
    #[schema(ignore)]
    _ignored: HashMap<String, Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RequestMessage {
    role: String,
    #[serde(default, deserialize_with = "content")]
    content: Option<Content>,
}

/// The derived (untagged) reading is kept for the OpenAPI schema; bodies are read by
/// `text_or_list`, whose errors name the field and what it takes.
fn content<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Content>, D::Error> {
    let read = text_or_list(deserializer, "a string or an array of content parts")?;
    Ok(read.map(|value| match value {
        TextOrList::Text(text) => Content::Text(text),
        TextOrList::List(parts) => Content::Parts(parts),
    }))
}

fn stop_strings<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    let read = text_or_list(deserializer, "a string or an array of strings")?;
    Ok(read.map(|value| match value {
        TextOrList::Text(text) => vec![text],
        TextOrList::List(strings) => strings,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // The schema of `stop`; `stop_strings` reads it.
enum StopStrings {
    One(String),
    Many(Vec<String>),
}

fn invalid(param: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request_error", message).with_param(param)
}

impl CompletionRequest {
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn streams(&self) -> bool {
        self.stream == Some(true)
    }

    /// Whether a streamed reply ends with a `usage` chunk.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }

    pub fn into_turn(self, state: &AppState, caller: &Caller) -> Result<TurnInput, ApiError> {
        if self.stream_options.is_some() && self.stream != Some(true) {
            return Err(invalid(
                "stream_options",
                "stream_options is only allowed with stream=true",
            ));
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(invalid("n", "only n=1 is supported"));
        }
        let max_tokens = self.max_completion_tokens.or(self.max_tokens);
        validate_max_tokens(max_tokens, state.settings.max_tokens_limit)
            .map_err(|e| invalid("max_tokens", e.to_string()))?;
        if self
            .temperature
            .is_some_and(|t| !(t.is_finite() && (0.0..=2.0).contains(&t)))
        {
            return Err(invalid(
                "temperature",
                "temperature must be between 0 and 2",
            ));
        }
        if self
            .top_p
            .is_some_and(|p| !(p.is_finite() && p > 0.0 && p <= 1.0))
        {
            return Err(invalid("top_p", "top_p must be in (0, 1]"));
        }
        let stop = self.stop.unwrap_or_default();
        if stop.len() > MAX_STOP_STRINGS || stop.iter().any(|s| s.is_empty() || s.len() > 64) {
            return Err(invalid(
                "stop",
                "stop takes up to 4 non-empty strings of at most 64 bytes",
            ));
        }
        let messages = convert_messages(self.messages, state.settings.max_message_chars)?;
        let conversation_id = match self
            .metadata
            .as_ref()
            .and_then(|m| m.get("conversation_id"))
        {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => {
                validate_conversation_id(id).map_err(|e| invalid("metadata", e.to_string()))?;
                Some(id.clone())
            }
            Some(_) => {
                return Err(invalid(
                    "metadata",
                    "metadata.conversation_id must be a string",
                ))
            }
        };
        let target = if state.models.contains(&self.model) {
            Target::Model(self.model)
        } else {
            Target::Experiment(self.model)
        };
        let user_id = match (self.user, &target) {
            (Some(user), _) => user,
            (None, Target::Model(_)) => "anonymous".to_owned(),
            (None, Target::Experiment(_)) => {
                return Err(invalid(
                    "user",
                    "`user` is required when `model` names an experiment",
                ))
            }
        };
        validate_user_id(&user_id).map_err(|e| invalid("user", e.to_string()))?;
        let attributes = metadata_attributes(self.metadata.as_ref())?;
        Ok(TurnInput {
            target,
            user_id,
            conversation_id,
            history: History::Supplied(messages),
            max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            stop,
            // OpenAI seeds are 64-bit; the sampler takes 32 bits.
            seed: self.seed.map(|s| s as u32),
            client_key: caller.client_key().map(str::to_owned),
            attributes,
        })
    }
}

/// `metadata.attributes`: an object of strings, or (for clients whose metadata values must be
/// strings, as OpenAI's own API requires) that object as a JSON string.
fn metadata_attributes(
    metadata: Option<&HashMap<String, Value>>,
) -> Result<UserAttributes, ApiError> {
    let shape_error = || {
        invalid(
            "metadata",
            "metadata.attributes must be an object of strings, or such an object as a JSON string",
        )
    };
    let raw = match metadata.and_then(|m| m.get("attributes")) {
        None | Some(Value::Null) => return Ok(UserAttributes::default()),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|_| shape_error())?,
        Some(object @ Value::Object(_)) => {
            BTreeMap::deserialize(object).map_err(|_| shape_error())?
        }
        Some(_) => return Err(shape_error()),
    };
    UserAttributes::parse(raw).map_err(|e| invalid("metadata", format!("metadata.attributes: {e}")))
}

fn convert_messages(
    messages: Vec<RequestMessage>,
    max_chars: usize,
) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(invalid(
            "messages",
            format!("messages must hold 1 to {MAX_MESSAGES} entries"),
        ));
    }
    let converted = messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| convert_message(index, message))
        .collect::<Result<Vec<_>, _>>()?;
    let last_index = converted.len() - 1;
    let last = &converted[last_index];
    if last.role != Role::User {
        return Err(invalid(
            format!("messages[{last_index}].role"),
            "the last message must have role \"user\"",
        ));
    }
    validate_message(&last.content, max_chars)
        .map_err(|e| invalid(format!("messages[{last_index}].content"), e.to_string()))?;
    let total: usize = converted.iter().map(|m| m.content.chars().count()).sum();
    if total > max_chars * 16 {
        return Err(invalid("messages", "the conversation is too long"));
    }
    Ok(converted)
}

fn convert_message(index: usize, message: RequestMessage) -> Result<ChatMessage, ApiError> {
    let role = match message.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(invalid(
                format!("messages[{index}].role"),
                format!(
                "unsupported message role {other:?}; expected system, developer, user or assistant"
            ),
            ))
        }
    };
    let content = match message.content {
        None => String::new(),
        Some(Content::Text(text)) => text,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for (part_index, part) in parts.into_iter().enumerate() {
                match (part.kind.as_str(), part.text) {
                    ("text", Some(t)) => text.push_str(&t),
                    (kind, _) => {
                        return Err(invalid(
                            format!("messages[{index}].content[{part_index}]"),
                            format!("unsupported content part {kind:?}; only text parts with `text` are accepted"),
                        ))
                    }
                }
            }
            text
        }
    };
    Ok(ChatMessage::new(role, content))
}
