//! Prompts and samplers: fitting a history into a sequence's context, and the sampler chain.

use llama_cpp_2::{model::LlamaModel, sampling::LlamaSampler, token::LlamaToken};

use crate::{
    backend::{ChatMessage, GenerationRequest, InferenceError, Role},
    PromptTemplate,
};

/// Drops the oldest turns (never the system prompt, never the newest message) until the prompt
/// plus `max_tokens` fits the context.
pub(super) fn fit_history(
    model: &LlamaModel,
    request: &GenerationRequest,
    template: PromptTemplate,
    context_size: u32,
) -> Result<(Vec<LlamaToken>, usize), InferenceError> {
    let (system, turns): (Vec<&ChatMessage>, Vec<&ChatMessage>) = request
        .messages
        .iter()
        .partition(|m| m.role == Role::System);
    let reply_room = request.max_tokens.min(context_size / 2) as usize;
    let mut dropped = 0;
    loop {
        let kept: Vec<ChatMessage> = system
            .iter()
            .chain(&turns[dropped..])
            .map(|m| (*m).clone())
            .collect();
        let tokens = tokenize(model, &template.render(&kept), template);
        if tokens.len() + reply_room <= context_size as usize {
            return Ok((tokens, dropped));
        }
        if dropped + 1 >= turns.len() {
            return Err(InferenceError::ContextOverflow {
                prompt_tokens: tokens.len(),
                context_size,
            });
        }
        dropped += 1;
    }
}

/// The tokens a catch-up prefills: the whole history without the reply cue, or nothing when the
/// next reply would have to drop turns anyway (and so could not reuse them).
pub(super) fn catch_up_prompt(
    model: &LlamaModel,
    request: &GenerationRequest,
    template: PromptTemplate,
    context_size: u32,
) -> Option<Vec<LlamaToken>> {
    let tokens = tokenize(model, &template.render_history(&request.messages), template);
    let reply_room = request.max_tokens.min(context_size / 2) as usize;
    // Room for the user's next message too, which is not known yet.
    let next_message = 256.min(context_size as usize / 4);
    (!tokens.is_empty() && tokens.len() + reply_room + next_message <= context_size as usize)
        .then_some(tokens)
}

fn tokenize(model: &LlamaModel, text: &str, template: PromptTemplate) -> Vec<LlamaToken> {
    model
        .vocab()
        .tokenize(text.as_bytes(), true, template.parse_special())
}

/// Temperature 0 means greedy; otherwise Gemma's recommended top-k 64 with the caller's top-p and
/// a seeded draw, so the same seed reproduces the same reply.
pub(super) fn sampler_for(temperature: f32, top_p: f32, seed: u32) -> LlamaSampler {
    if temperature <= 0.0 {
        return LlamaSampler::greedy();
    }
    LlamaSampler::chain_simple([
        LlamaSampler::top_k(64),
        LlamaSampler::top_p(top_p, 1),
        LlamaSampler::temp(temperature),
        LlamaSampler::dist(seed),
    ])
}
