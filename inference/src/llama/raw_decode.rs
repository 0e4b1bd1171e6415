//! The engine's ceiling: a bare llama-cpp-2 decode loop, no queue, no server, no stop strings.
//! `blendlab bench inference` compares the served rates against it.

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
    /// Over all sequences.
    pub decoded_tokens: u32,
    pub decode_seconds: f64,
}

impl RawDecode {
    pub fn tokens_per_second(&self) -> f64 {
        f64::from(self.decoded_tokens) / self.decode_seconds
    }
}

/// Where and how wide one bare run decodes.
#[derive(Debug, Clone, Copy)]
pub struct RawDecodeShape {
    pub threads: i32,
    /// Sequences decoded side by side, one token each per step.
    pub sequences: u32,
    /// Layers offloaded to the GPU (a `cuda` build); 0 on CPU.
    pub n_gpu_layers: u32,
}

/// Prefills `prompt` into each of `shape.sequences` sequences, then decodes `tokens` greedy
/// tokens per sequence, one per sequence per step (ignoring end-of-turn, so every run decodes the
/// same number), timing the decode steps alone.
pub fn raw_decode(
    path: &Path,
    prompt: &str,
    tokens: u32,
    shape: RawDecodeShape,
) -> anyhow::Result<RawDecode> {
    let RawDecodeShape {
        threads,
        sequences,
        n_gpu_layers,
    } = shape;
    let backend = llama_backend()?;
    let model_params = LlamaModelParams::default().with_n_gpu_layers(n_gpu_layers);
    let model = LlamaModel::load_from_file(backend, path, &model_params)
        .with_context(|| format!("loading {}", path.display()))?;
    let prompt = model.vocab().tokenize(prompt.as_bytes(), true, false);
    anyhow::ensure!(
        prompt.len() + tokens as usize <= 2048,
        "the prompt and the decoded tokens must fit 2048 tokens"
    );
    // Every sequence's prompt is prefilled in one batch: 64 streams on a GPU take more than
    // the 512 tokens a CPU run needs.
    let batch_tokens = (prompt.len() * sequences as usize).max(512);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(2048 * sequences))
        .with_n_seq_max(sequences)
        .with_kv_unified(false)
        .with_n_batch(u32::try_from(batch_tokens)?)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = model.new_context(backend, params)?;

    let started = Instant::now();
    let mut batch = LlamaBatch::new(batch_tokens, sequences as i32);
    let mut logits_at = Vec::new();
    for seq in 0..sequences as i32 {
        let last = prompt.len() - 1;
        for (position, token) in prompt.iter().enumerate() {
            batch.add(*token, position as i32, &[seq], position == last)?;
        }
        logits_at.push(batch.n_tokens() - 1);
    }
    context.decode(&mut batch)?;
    let prefill_seconds = started.elapsed().as_secs_f64();

    let mut samplers: Vec<LlamaSampler> = (0..sequences).map(|_| LlamaSampler::greedy()).collect();
    let started = Instant::now();
    for step in 0..tokens {
        let next: Vec<_> = samplers
            .iter_mut()
            .zip(&logits_at)
            .map(|(sampler, &index)| sampler.sample(&context, index))
            .collect();
        batch.clear();
        logits_at.clear();
        for (seq, token) in next.into_iter().enumerate() {
            let position = (prompt.len() as u32 + step) as i32;
            batch.add(token, position, &[seq as i32], true)?;
            logits_at.push(seq as i32);
        }
        context.decode(&mut batch)?;
    }
    Ok(RawDecode {
        prompt_tokens: prompt.len(),
        prefill_seconds,
        decoded_tokens: tokens * sequences,
        decode_seconds: started.elapsed().as_secs_f64(),
    })
}
