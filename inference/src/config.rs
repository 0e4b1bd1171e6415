//! A model as declared in the server config. Several models may share one GGUF file (personas
//! differing in system prompt and sampling); the file is loaded once.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::prompt::PromptTemplate;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// In-process llama.cpp through `llama-cpp-2`.
    #[default]
    Llama,
    /// Any OpenAI-compatible endpoint: another blendlab, llama.cpp's server, vLLM, a hosted model.
    #[serde(rename = "openai")]
    OpenAi,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub id: String,
    #[serde(default)]
    pub backend: BackendKind,
    /// The GGUF file; defaults to the bundled model (`BLENDLAB_MODEL` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    #[serde(default = "default_top_p")]
    pub top_p: f32,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Extra stop strings, on top of the template's own.
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default = "default_context_size")]
    pub context_size: u32,
    /// Layers offloaded to the GPU with the `cuda` feature; 0 on CPU.
    #[serde(default)]
    pub n_gpu_layers: u32,
    #[serde(default)]
    pub template: PromptTemplate,
    /// `openai` backend: the endpoint's base URL, e.g. `http://10.0.0.5:8080/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `openai` backend: the model name the endpoint knows; defaults to `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_model: Option<String>,
    /// `openai` backend: the environment variable that holds the endpoint's API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// `openai` backend: seconds one attempt may take, streaming included.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: f64,
    /// `openai` backend: further attempts after a connection error, a timeout, 429 or 5xx,
    /// as long as nothing of the reply has arrived.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// `openai` backend: seconds the endpoint may stay silent (before its answer, or between two
    /// chunks of it) before the reply is given up: a hung endpoint does not hold the caller.
    #[serde(default = "default_idle_timeout_s")]
    pub idle_timeout_s: f64,
}

impl ModelConfig {
    /// A model on the bundled GGUF with the defaults a config file gets.
    pub fn local(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            backend: BackendKind::Llama,
            path: None,
            system_prompt: String::new(),
            temperature: default_temperature(),
            top_p: default_top_p(),
            max_tokens: default_max_tokens(),
            stop: Vec::new(),
            context_size: default_context_size(),
            n_gpu_layers: 0,
            template: PromptTemplate::default(),
            base_url: None,
            remote_model: None,
            api_key_env: None,
            timeout_s: default_timeout_s(),
            retries: default_retries(),
            idle_timeout_s: default_idle_timeout_s(),
        }
    }

    /// A model served by the OpenAI-compatible endpoint at `base_url`.
    pub fn remote(id: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            backend: BackendKind::OpenAi,
            base_url: Some(base_url.into()),
            ..Self::local(id)
        }
    }
}

fn default_temperature() -> f32 {
    0.8
}
fn default_top_p() -> f32 {
    0.95
}
fn default_max_tokens() -> u32 {
    96
}
fn default_context_size() -> u32 {
    2048
}
fn default_timeout_s() -> f64 {
    120.0
}
fn default_retries() -> u32 {
    2
}
fn default_idle_timeout_s() -> f64 {
    30.0
}

impl ModelConfig {
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.id.is_empty() || self.id.len() > 64 || self.id.contains(char::is_whitespace) {
            problems.push(format!(
                "model id {:?} must be 1 to 64 characters without spaces",
                self.id
            ));
        }
        if !(self.temperature.is_finite() && (0.0..=2.0).contains(&self.temperature)) {
            problems.push(format!(
                "model {:?}: temperature must be in [0, 2]",
                self.id
            ));
        }
        if !(self.top_p.is_finite() && self.top_p > 0.0 && self.top_p <= 1.0) {
            problems.push(format!("model {:?}: top_p must be in (0, 1]", self.id));
        }
        if self.max_tokens == 0 || self.max_tokens >= self.context_size {
            problems.push(format!(
                "model {:?}: max_tokens must be in 1..context_size",
                self.id
            ));
        }
        if !(256..=131_072).contains(&self.context_size) {
            problems.push(format!(
                "model {:?}: context_size must be in 256..=131072",
                self.id
            ));
        }
        match (self.backend, &self.base_url) {
            (BackendKind::OpenAi, None) => problems.push(format!(
                "model {:?}: the openai backend needs base_url",
                self.id
            )),
            (BackendKind::OpenAi, Some(url))
                if !(url.starts_with("http://") || url.starts_with("https://")) =>
            {
                problems.push(format!(
                    "model {:?}: base_url must start with http:// or https://",
                    self.id
                ))
            }
            (BackendKind::Llama, Some(_)) => problems.push(format!(
                "model {:?}: base_url is for backend = \"openai\"",
                self.id
            )),
            _ => {}
        }
        if self.backend == BackendKind::OpenAi && self.path.is_some() {
            problems.push(format!(
                "model {:?}: path is for the llama backend",
                self.id
            ));
        }
        if !(self.idle_timeout_s.is_finite() && self.idle_timeout_s > 0.0) {
            problems.push(format!(
                "model {:?}: idle_timeout_s must be positive",
                self.id
            ));
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) || self.retries > 10 {
            problems.push(format!(
                "model {:?}: timeout_s must be positive and retries at most 10",
                self.id
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}
