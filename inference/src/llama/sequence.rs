//! One job in flight on the shared context: a reply being prefilled then sampled, or a
//! background catch-up being prefilled.

use llama_cpp_2::{
    context::LlamaContext, model::LlamaModel, sampling::LlamaSampler, token::LlamaToken,
};
use tokio::sync::oneshot;

use super::decode::sampler_for;
use crate::{
    backend::{
        CatchUpPriority, CatchUpTicket, FinishReason, Generation, InferenceError, TextDeltas,
    },
    reply_text::ReplyText,
    PromptTemplate,
};

pub(super) struct Sequence {
    /// The KV sequence (and slot) it writes into.
    pub slot: usize,
    pub prompt: Vec<LlamaToken>,
    /// Prompt tokens that were already in the slot's cache when the job started.
    pub reused: usize,
    pub work: Work,
}

pub(super) enum Work {
    Reply(Box<Reply>),
    CatchUp {
        /// Held, never read: the count of pending catch-ups ends when the sequence is dropped
        /// (done, taken over by a reply, or failed).
        _ticket: CatchUpTicket,
        priority: CatchUpPriority,
    },
}

pub(super) struct Reply {
    pub deltas: Option<TextDeltas>,
    answer: oneshot::Sender<Result<Generation, InferenceError>>,
    sampler: LlamaSampler,
    text: ReplyText,
    completion_tokens: u32,
    max_tokens: u32,
    dropped_messages: usize,
    /// Bytes of the reply the streaming reader has taken: a cancelled streamed reply is what its
    /// reader received, not a token more.
    delivered: usize,
    /// Sampled and not yet decoded: goes into the next batch.
    pub pending: Option<LlamaToken>,
}

/// What a reply needs besides its prompt.
pub(super) struct ReplySetup<'a> {
    pub deltas: Option<TextDeltas>,
    pub answer: oneshot::Sender<Result<Generation, InferenceError>>,
    pub request: &'a crate::backend::GenerationRequest,
    pub template: PromptTemplate,
    pub max_tokens: u32,
    pub dropped_messages: usize,
}

impl Reply {
    pub fn new(setup: ReplySetup<'_>) -> Self {
        let request = setup.request;
        let stops = setup
            .template
            .stop_strings()
            .iter()
            .map(|s| s.to_string())
            .chain(request.stop.iter().cloned());
        Self {
            deltas: setup.deltas,
            answer: setup.answer,
            sampler: sampler_for(request.temperature, request.top_p, request.seed),
            text: ReplyText::new(stops),
            completion_tokens: 0,
            max_tokens: setup.max_tokens,
            dropped_messages: setup.dropped_messages,
            delivered: 0,
            pending: None,
        }
    }

    /// Nobody is waiting any more: the caller or the streaming client went away.
    pub fn is_abandoned(&self) -> bool {
        super::nobody_waits(&self.answer, self.deltas.as_ref())
    }

    pub fn is_streaming(&self) -> bool {
        self.deltas.is_some()
    }

    /// Samples the next token from the logits at `index` of the last batch; returns why the reply
    /// ended, if it did.
    pub fn sample(
        &mut self,
        model: &LlamaModel,
        context: &LlamaContext<'_>,
        index: i32,
    ) -> Option<FinishReason> {
        // `sample` also accepts the token into the chain; accepting again would double-count it
        // in penalty samplers.
        let token = self.sampler.sample(context, index);
        self.completion_tokens += 1;
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            return Some(FinishReason::Stop);
        }
        let stopped = self.text.push(&vocab.token_to_piece(token, false, None));
        if let (Some(deltas), Some(delta)) = (&self.deltas, self.text.take_delta()) {
            let length = delta.len();
            if deltas.send(delta).is_err() {
                // The reader has gone: the reply ends with what it received.
                return Some(FinishReason::Cancelled);
            }
            self.delivered += length;
        }
        if stopped {
            return Some(FinishReason::Stop);
        }
        if self.completion_tokens >= self.max_tokens {
            return Some(FinishReason::Length);
        }
        self.pending = Some(token);
        None
    }

    pub fn finish(mut self, finish_reason: FinishReason, prompt_tokens: usize, reused: usize) {
        let (mut text, rest) = self.text.finish();
        if let Some(deltas) = &self.deltas {
            match (finish_reason, rest) {
                (FinishReason::Cancelled, _) => text.truncate(self.delivered),
                (_, Some(rest)) => {
                    let length = rest.len();
                    if deltas.send(rest).is_ok() {
                        self.delivered += length;
                    } else {
                        text.truncate(self.delivered);
                    }
                }
                (_, None) => {}
            }
        }
        let _ = self.answer.send(Ok(Generation {
            text,
            prompt_tokens: prompt_tokens as u32,
            prefill_tokens: (prompt_tokens - reused) as u32,
            completion_tokens: self.completion_tokens,
            finish_reason,
            dropped_messages: self.dropped_messages,
        }));
    }

    pub fn fail(self, error: InferenceError) {
        let _ = self.answer.send(Err(error));
    }
}
