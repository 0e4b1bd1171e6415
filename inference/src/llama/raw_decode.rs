//! The engine's ceiling: a bare llama-cpp-2 decode loop, no queue, no server, no stop strings.
//! `blendlab bench inference` compares the served rate against it.

use std::{num::NonZeroU32, path::Path, time::Instant};

use anyhow::Context as _;
use llama_cpp_2::{
    context::params::LlamaContextParams, llama_batch::LlamaBatch, model::params::LlamaModelParams,
    model::LlamaModel, sampling::LlamaSampler,
};

use super::llama_backend;

/// What one bare run measured.
#[derive(Debug, Clone, Copy)]
pub struct RawDecode {
    pub prompt_tokens: usize,
    pub prefill_seconds: f64,
    pub decoded_tokens: u32,
    pub decode_seconds: f64,
}

impl RawDecode {
    pub fn tokens_per_second(&self) -> f64 {
        f64::from(self.decoded_tokens) / self.decode_seconds
    }
}

/// Prefills `prompt`, then decodes `tokens` greedy tokens one at a time (ignoring end-of-turn, so
/// every run decodes the same number), timing the decode steps alone.
pub fn raw_decode(
    path: &Path,
    prompt: &str,
    tokens: u32,
    threads: i32,
) -> anyhow::Result<RawDecode> {
    let backend = llama_backend()?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .with_context(|| format!("loading {}", path.display()))?;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(2048))
        .with_n_batch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = model.new_context(backend, params)?;
    let prompt = model.vocab().tokenize(prompt.as_bytes(), true, false);
    anyhow::ensure!(
        prompt.len() + tokens as usize <= 2048,
        "the prompt and the decoded tokens must fit 2048 tokens"
    );

    let started = Instant::now();
    let mut batch = LlamaBatch::new(prompt.len().max(1), 1);
    let last = prompt.len() - 1;
    for (position, token) in prompt.iter().enumerate() {
        batch.add(*token, position as i32, &[0], position == last)?;
    }
    context.decode(&mut batch)?;
    let prefill_seconds = started.elapsed().as_secs_f64();

    let mut sampler = LlamaSampler::greedy();
    let mut logits_index = batch.n_tokens() - 1;
    let started = Instant::now();
    for step in 0..tokens {
        let token = sampler.sample(&context, logits_index);
        batch.clear();
        batch.add(token, (prompt.len() as u32 + step) as i32, &[0], true)?;
        context.decode(&mut batch)?;
        logits_index = 0;
    }
    Ok(RawDecode {
        prompt_tokens: prompt.len(),
        prefill_seconds,
        decoded_tokens: tokens,
        decode_seconds: started.elapsed().as_secs_f64(),
    })
}
