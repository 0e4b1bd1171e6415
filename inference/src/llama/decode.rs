//! One reply: fit the history into the context, prefill it, then sample until a stop.

use llama_cpp_2::{
    context::LlamaContext, llama_batch::LlamaBatch, model::LlamaModel, sampling::LlamaSampler,
    token::LlamaToken,
};

use super::Job;
use crate::{
    backend::{ChatMessage, FinishReason, Generation, InferenceError, Role},
    reply_text::ReplyText,
};

const PREFILL_CHUNK: usize = 512;

pub(super) fn generate(
    model: &LlamaModel,
    context: &mut LlamaContext<'_>,
    job: &Job,
) -> Result<Generation, InferenceError> {
    let request = &job.request;
    let context_size = context.n_ctx();
    let (prompt, dropped_messages) = fit_history(model, job, context_size)?;
    let max_tokens = request.max_tokens.min(context_size - prompt.len() as u32);

    context.clear_kv_cache();
    prefill(context, &prompt)?;

    let mut sampler = sampler_for(request.temperature, request.top_p, request.seed);
    let vocab = model.vocab();
    let stops = job
        .template
        .stop_strings()
        .iter()
        .map(|s| s.to_string())
        .chain(request.stop.iter().cloned());
    let mut reply = ReplyText::new(stops);
    let mut batch = LlamaBatch::new(1, 1);
    let mut logits_index = (prompt.len() - 1) as i32 % PREFILL_CHUNK as i32;
    let mut completion_tokens = 0u32;
    let finish_reason = loop {
        if completion_tokens >= max_tokens {
            break FinishReason::Length;
        }
        if job.is_abandoned() {
            if job.deltas.is_none() {
                return Err(InferenceError::Cancelled);
            }
            // A streaming client left: what it saw is still the reply to log.
            break FinishReason::Cancelled;
        }
        // `sample` also accepts the token into the sampler chain; accepting again would
        // double-count it in penalty samplers.
        let token = sampler.sample(context, logits_index);
        completion_tokens += 1;
        if vocab.is_eog(token) {
            break FinishReason::Stop;
        }
        let stopped = reply.push(&vocab.token_to_piece(token, false, None));
        if let (Some(deltas), Some(delta)) = (&job.deltas, reply.take_delta()) {
            let _ = deltas.send(delta);
        }
        if stopped {
            break FinishReason::Stop;
        }
        batch.clear();
        let position = prompt.len() as i32 + completion_tokens as i32 - 1;
        batch
            .add(token, position, &[0], true)
            .map_err(|e| InferenceError::Backend(e.to_string()))?;
        context
            .decode(&mut batch)
            .map_err(|e| InferenceError::Backend(e.to_string()))?;
        logits_index = 0;
    };
    let (text, rest) = reply.finish();
    if let (Some(deltas), Some(rest)) = (&job.deltas, rest) {
        let _ = deltas.send(rest);
    }
    Ok(Generation {
        text,
        prompt_tokens: prompt.len() as u32,
        completion_tokens,
        finish_reason,
        dropped_messages,
    })
}

/// Drops the oldest turns (never the system prompt, never the newest message) until the prompt
/// plus `max_tokens` fits the context.
fn fit_history(
    model: &LlamaModel,
    job: &Job,
    context_size: u32,
) -> Result<(Vec<LlamaToken>, usize), InferenceError> {
    let messages = &job.request.messages;
    let (system, turns): (Vec<&ChatMessage>, Vec<&ChatMessage>) =
        messages.iter().partition(|m| m.role == Role::System);
    let reply_room = job.request.max_tokens.min(context_size / 2) as usize;
    let mut dropped = 0;
    loop {
        let kept: Vec<ChatMessage> = system
            .iter()
            .chain(&turns[dropped..])
            .map(|m| (*m).clone())
            .collect();
        let text = job.template.render(&kept);
        let tokens = model
            .vocab()
            .tokenize(text.as_bytes(), true, job.template.parse_special());
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

fn prefill(context: &mut LlamaContext<'_>, prompt: &[LlamaToken]) -> Result<(), InferenceError> {
    let mut batch = LlamaBatch::new(PREFILL_CHUNK, 1);
    let last = prompt.len() - 1;
    for (chunk_index, chunk) in prompt.chunks(PREFILL_CHUNK).enumerate() {
        batch.clear();
        for (offset, token) in chunk.iter().enumerate() {
            let position = chunk_index * PREFILL_CHUNK + offset;
            batch
                .add(*token, position as i32, &[0], position == last)
                .map_err(|e| InferenceError::Backend(e.to_string()))?;
        }
        context
            .decode(&mut batch)
            .map_err(|e| InferenceError::Backend(e.to_string()))?;
    }
    Ok(())
}

/// Temperature 0 means greedy; otherwise Gemma's recommended top-k 64 with the caller's top-p and
/// a seeded draw, so the same seed reproduces the same reply.
fn sampler_for(temperature: f32, top_p: f32, seed: u32) -> LlamaSampler {
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
