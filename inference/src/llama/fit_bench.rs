//! Fitting a long history into a context, timed two ways on one model in one run: the
//! whole-prompt loop the engine used before (render and tokenize the prompt again for every turn
//! dropped) and the engine's pieces (each tokenized once). `blendlab bench inference` prints it.

use std::{path::Path, time::Instant};

use anyhow::Context as _;
use llama_cpp_2::model::{params::LlamaModelParams, LlamaModel};

use super::{decode::PromptTokenizer, llama_backend};
use crate::{
    backend::{ChatMessage, GenerationRequest, Role},
    PromptTemplate,
};

/// What one fitting measured.
#[derive(Debug, Clone, Copy)]
pub struct FitTiming {
    pub messages: usize,
    pub dropped: usize,
    pub prompt_tokens: usize,
    pub whole_prompt_seconds: f64,
    pub pieces_seconds: f64,
    /// Whether the two tokenizations are the same tokens (pieces may split differently where
    /// two pieces meet; the text is the same).
    pub same_tokens: bool,
}

/// Fits `messages` into `context_size` with room for `max_tokens`, best of `repeats` each way.
pub fn fit_history_timing(
    path: &Path,
    messages: Vec<ChatMessage>,
    context_size: u32,
    max_tokens: u32,
    repeats: usize,
) -> anyhow::Result<FitTiming> {
    let backend = llama_backend()?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .with_context(|| format!("loading {}", path.display()))?;
    let request = GenerationRequest {
        messages,
        max_tokens,
        temperature: 0.0,
        top_p: 1.0,
        seed: 0,
        stop: Vec::new(),
        cache_key: None,
    };
    let template = PromptTemplate::Transcript;
    let mut whole = (f64::INFINITY, Vec::new(), 0);
    let mut pieces = (f64::INFINITY, Vec::new(), 0);
    let tokenizer = PromptTokenizer::new(&model);
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let (tokens, dropped) = fit_by_whole_prompt(&model, &request, template, context_size)?;
        whole = best(whole, started.elapsed().as_secs_f64(), tokens, dropped);
        let started = Instant::now();
        let (tokens, dropped) = tokenizer.fit_history(&request, template, context_size)?;
        pieces = best(pieces, started.elapsed().as_secs_f64(), tokens, dropped);
    }
    anyhow::ensure!(
        whole.2 == pieces.2,
        "the two ways dropped {} and {} turns",
        whole.2,
        pieces.2
    );
    Ok(FitTiming {
        messages: request.messages.len(),
        dropped: pieces.2,
        prompt_tokens: pieces.1.len(),
        whole_prompt_seconds: whole.0,
        pieces_seconds: pieces.0,
        same_tokens: whole.1 == pieces.1,
    })
}

type Fitted = (f64, Vec<llama_cpp_2::token::LlamaToken>, usize);

fn best(
    so_far: Fitted,
    seconds: f64,
    tokens: Vec<llama_cpp_2::token::LlamaToken>,
    dropped: usize,
) -> Fitted {
    if seconds < so_far.0 {
        (seconds, tokens, dropped)
    } else {
        so_far
    }
}

/// The reference: the engine's fitting before pieces, kept here to measure against.
fn fit_by_whole_prompt(
    model: &LlamaModel,
    request: &GenerationRequest,
    template: PromptTemplate,
    context_size: u32,
) -> anyhow::Result<(Vec<llama_cpp_2::token::LlamaToken>, usize)> {
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
        let tokens = model.vocab().tokenize(
            template.render(&kept).as_bytes(),
            true,
            template.parse_special(),
        );
        if tokens.len() + reply_room <= context_size as usize {
            return Ok((tokens, dropped));
        }
        anyhow::ensure!(
            dropped + 1 < turns.len(),
            "the newest message alone does not fit"
        );
        dropped += 1;
    }
}
