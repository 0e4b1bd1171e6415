//! Prompts and samplers: fitting a history into a sequence's context, and the sampler chain.

use llama_cpp_2::{model::LlamaModel, sampling::LlamaSampler, token::LlamaToken};

use crate::{
    backend::{GenerationRequest, InferenceError},
    prompt::PromptPieces,
    PromptTemplate,
};

/// Turns a history into the tokens a sequence prefills. Whether the model's tokenizer reads a
/// piece alone as it reads it inside the prompt is a property of its vocabulary, probed once.
pub(super) struct PromptTokenizer<'m> {
    model: &'m LlamaModel,
    pieces_alone: bool,
}

impl<'m> PromptTokenizer<'m> {
    pub fn new(model: &'m LlamaModel) -> Self {
        Self {
            model,
            pieces_alone: pieces_tokenize_alone(model),
        }
    }

    /// Drops the oldest turns (never the system prompt, never the newest message) until the
    /// prompt plus `max_tokens` fits the context.
    pub fn fit_history(
        &self,
        request: &GenerationRequest,
        template: PromptTemplate,
        context_size: u32,
    ) -> Result<(Vec<LlamaToken>, usize), InferenceError> {
        let pieces = template.pieces(&request.messages);
        let reply_room = request.max_tokens.min(context_size / 2) as usize;
        let fits = |tokens: usize| tokens + reply_room <= context_size as usize;
        // The newest message is never dropped.
        let newest = pieces.turns.len().saturating_sub(1);
        let (tokens, dropped) = if self.pieces_alone {
            let tokens = PieceTokens::new(self.model, &pieces, template);
            let dropped = (0..=newest)
                .find(|&d| fits(tokens.len_without(d)))
                .unwrap_or(newest);
            (tokens.assemble(&pieces, dropped, true), dropped)
        } else {
            // A tokenizer that changes text where it starts (a space prefix): the whole prompt,
            // tokenized again for each turn dropped.
            let mut dropped = 0;
            loop {
                let tokens = self.tokenize(&pieces.assemble(dropped, true), template);
                if fits(tokens.len()) || dropped == newest {
                    break (tokens, dropped);
                }
                dropped += 1;
            }
        };
        if fits(tokens.len()) {
            Ok((tokens, dropped))
        } else {
            Err(InferenceError::ContextOverflow {
                prompt_tokens: tokens.len(),
                context_size,
            })
        }
    }

    /// The tokens a catch-up prefills: the whole history without the reply cue, or nothing when
    /// the next reply would have to drop turns anyway (and so could not reuse them). Tokenized
    /// by the same pieces as the reply's prompt, so the next reply's tokens extend these exactly.
    pub fn catch_up_prompt(
        &self,
        request: &GenerationRequest,
        template: PromptTemplate,
        context_size: u32,
    ) -> Option<Vec<LlamaToken>> {
        let pieces = template.pieces(&request.messages);
        let tokens = if self.pieces_alone {
            PieceTokens::new(self.model, &pieces, template).assemble(&pieces, 0, false)
        } else {
            self.tokenize(&pieces.assemble(0, false), template)
        };
        let reply_room = request.max_tokens.min(context_size / 2) as usize;
        // Room for the user's next message too, which is not known yet.
        let next_message = 256.min(context_size as usize / 4);
        (!tokens.is_empty() && tokens.len() + reply_room + next_message <= context_size as usize)
            .then_some(tokens)
    }

    fn tokenize(&self, text: &str, template: PromptTemplate) -> Vec<LlamaToken> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), true, template.parse_special())
    }
}

/// Each piece of a prompt tokenized once; the prompt without its first turns is the same tokens
/// minus theirs.
struct PieceTokens {
    /// BOS where the model adds one.
    lead: Vec<LlamaToken>,
    head: Vec<LlamaToken>,
    turns: Vec<Vec<LlamaToken>>,
    opened: Vec<Option<Vec<LlamaToken>>>,
    cue: Vec<LlamaToken>,
    /// EOS where the model adds one.
    trail: Vec<LlamaToken>,
    /// `tail_len[d]`: the tokens of turns `d..` as plain pieces.
    tail_len: Vec<usize>,
    /// `openers[d]`: the turn that carries the system prompt when `d` turns are dropped.
    openers: Vec<Option<usize>>,
}

impl PieceTokens {
    fn new(model: &LlamaModel, pieces: &PromptPieces, template: PromptTemplate) -> Self {
        let vocab = model.vocab();
        let piece = |text: &str| vocab.tokenize(text.as_bytes(), false, template.parse_special());
        let turns: Vec<Vec<LlamaToken>> = pieces.turns.iter().map(|t| piece(t)).collect();
        let mut tail_len = vec![0; turns.len() + 1];
        for i in (0..turns.len()).rev() {
            tail_len[i] = tail_len[i + 1] + turns[i].len();
        }
        Self {
            lead: vocab
                .should_add_bos()
                .then(|| vocab.bos())
                .into_iter()
                .collect(),
            head: piece(&pieces.head),
            opened: pieces
                .opened
                .iter()
                .map(|o| o.as_deref().map(piece))
                .collect(),
            cue: piece(pieces.cue),
            trail: vocab
                .should_add_eos()
                .then(|| vocab.eos())
                .into_iter()
                .collect(),
            openers: pieces.openers(),
            turns,
            tail_len,
        }
    }

    fn len_without(&self, dropped: usize) -> usize {
        let kept = match self.openers[dropped] {
            Some(i) => {
                self.tail_len[dropped] + self.opened[i].as_ref().map_or(0, Vec::len)
                    - self.turns[i].len()
            }
            None => self.tail_len[dropped],
        };
        self.lead.len() + self.head.len() + kept + self.cue.len() + self.trail.len()
    }

    /// The tokens of `pieces.assemble(dropped, with_cue)`, in the same order of pieces.
    fn assemble(&self, pieces: &PromptPieces, dropped: usize, with_cue: bool) -> Vec<LlamaToken> {
        let mut out = Vec::with_capacity(self.len_without(dropped));
        out.extend_from_slice(&self.lead);
        out.extend_from_slice(&self.head);
        for (i, opened) in pieces.kept(dropped) {
            match (&self.opened[i], opened) {
                (Some(tokens), true) => out.extend_from_slice(tokens),
                _ => out.extend_from_slice(&self.turns[i]),
            }
        }
        if with_cue {
            out.extend_from_slice(&self.cue);
        }
        out.extend_from_slice(&self.trail);
        out
    }
}

/// Whether text tokenized in pieces reads back as the pieces: false for a tokenizer that adds a
/// space where a text starts (SentencePiece's `add_space_prefix`); Gemma's does not. A property
/// of the vocabulary (special tokens are whole tokens either way), so one probe serves every
/// template.
fn pieces_tokenize_alone(model: &LlamaModel) -> bool {
    let vocab = model.vocab();
    let probe = "User: hi\n";
    let read_back: Vec<u8> = vocab
        .tokenize(probe.as_bytes(), false, false)
        .into_iter()
        .flat_map(|token| vocab.token_to_piece(token, false, None))
        .collect();
    read_back == probe.as_bytes()
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
