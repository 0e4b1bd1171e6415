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
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}
