//! Continuous batching on one context: every step decodes one token for each reply being
//! written, plus prompt chunks of replies starting, plus (with what is left) background
//! catch-ups: first those of components drawn for their conversation's next turn, and the
//! others only in steps with nothing else to do. New jobs join between steps.

use std::{collections::VecDeque, sync::mpsc};

use llama_cpp_2::{
    context::LlamaContext, llama_batch::LlamaBatch, model::LlamaModel, token::LlamaToken,
};

use super::{
    decode::PromptTokenizer,
    sequence::{Reply, ReplySetup, Sequence, Work},
    slots::{Holder, Slots},
    Job, JobKind,
};
use crate::backend::{CatchUpPriority, FinishReason, InferenceError};

/// Tokens one decode step may carry.
pub(super) const BATCH_TOKENS: usize = 512;
/// Prompt tokens per step while replies are being sampled: a bigger step would stall them.
const PREFILL_WHILE_DECODING: usize = 128;
/// Catch-up tokens per step while replies run: a next turn's component reads on beside them.
const CATCH_UP_WHILE_BUSY: usize = 16;

pub(super) struct Scheduler<'m> {
    pub model: &'m LlamaModel,
    /// Histories into prompt tokens, with the model's tokenizer probed once.
    pub tokenizer: PromptTokenizer<'m>,
    pub context: LlamaContext<'m>,
    pub slots: Slots,
    /// Tokens one sequence may hold.
    pub slot_context: u32,
    /// Replies waiting for a sequence, beyond which new ones are refused.
    pub queue_capacity: usize,
    pub replies: VecDeque<Job>,
    pub catch_ups: VecDeque<Job>,
    pub active: Vec<Sequence>,
    pub batch: LlamaBatch<'m>,
}

impl Scheduler<'_> {
    pub fn run(mut self, jobs: &mpsc::Receiver<Job>) {
        loop {
            if self.active.is_empty() && self.replies.is_empty() && self.catch_ups.is_empty() {
                match jobs.recv() {
                    Ok(job) => self.enqueue(job),
                    Err(_) => return, // the engine was dropped
                }
            }
            while let Ok(job) = jobs.try_recv() {
                self.enqueue(job);
            }
            self.drop_abandoned();
            self.admit();
            if let Err(error) = self.step() {
                self.fail_everything(&error);
            }
        }
    }

    fn enqueue(&mut self, job: Job) {
        let key = job.request.cache_key.clone();
        // A newer catch-up of a key replaces an older one; a reply will prefill it itself.
        self.catch_ups
            .retain(|queued| key.is_none() || queued.request.cache_key != key);
        match job.kind {
            JobKind::CatchUp(_, priority) => {
                if self.catch_ups.len() >= self.slots.len() {
                    // The oldest of the lowest priority gives way.
                    let oldest_idle = self
                        .catch_ups
                        .iter()
                        .position(|queued| priority_of(queued) == CatchUpPriority::WhenIdle);
                    self.catch_ups.remove(oldest_idle.unwrap_or(0));
                }
                // Next-turn catch-ups wait in arrival order ahead of every other one.
                let at = match priority {
                    CatchUpPriority::Next => self
                        .catch_ups
                        .iter()
                        .position(|queued| priority_of(queued) == CatchUpPriority::WhenIdle)
                        .unwrap_or(self.catch_ups.len()),
                    CatchUpPriority::WhenIdle => self.catch_ups.len(),
                };
                self.catch_ups.insert(at, job);
            }
            JobKind::Reply { .. } if self.replies.len() >= self.queue_capacity => {
                job.fail(InferenceError::Overloaded);
            }
            JobKind::Reply { .. } => self.replies.push_back(job),
        }
    }

    fn drop_abandoned(&mut self) {
        let (abandoned, waiting): (Vec<Job>, Vec<Job>) =
            self.replies.drain(..).partition(Job::is_abandoned);
        self.replies = waiting.into();
        for job in abandoned {
            job.fail(InferenceError::Cancelled);
        }
        let mut index = 0;
        while index < self.active.len() {
            let abandoned = matches!(&self.active[index].work, Work::Reply(r) if r.is_abandoned());
            if !abandoned {
                index += 1;
                continue;
            }
            let sequence = self.active.swap_remove(index);
            self.slots.release(sequence.slot);
            if let Work::Reply(reply) = sequence.work {
                if reply.is_streaming() {
                    // What the client saw is still the reply to log.
                    reply.finish(
                        FinishReason::Cancelled,
                        sequence.prompt.len(),
                        sequence.reused,
                    );
                } else {
                    reply.fail(InferenceError::Cancelled);
                }
            }
        }
    }

    fn admit(&mut self) {
        while let Some(job) = self.replies.front() {
            let Some(slot) = self.slots.for_reply(job.request.cache_key.as_deref()) else {
                break;
            };
            let job = self.replies.pop_front().expect("a front job");
            if self.slots.get(slot).holder == Holder::CatchUp {
                // Taken over mid catch-up: what it prefilled stays in the slot for the reply.
                self.active.retain(|s| s.slot != slot);
                self.slots.release(slot);
            }
            match self
                .tokenizer
                .fit_history(&job.request, job.template, self.slot_context)
            {
                Ok((prompt, dropped_messages)) => {
                    let room = self.slot_context - prompt.len() as u32;
                    let max_tokens = job.request.max_tokens.min(room);
                    let JobKind::Reply { deltas, answer } = job.kind else {
                        unreachable!("only replies wait here")
                    };
                    let reply = Reply::new(ReplySetup {
                        deltas,
                        answer,
                        request: &job.request,
                        template: job.template,
                        max_tokens,
                        dropped_messages,
                    });
                    let key = job.request.cache_key.as_deref();
                    self.start(
                        slot,
                        key,
                        Holder::Reply,
                        prompt,
                        Work::Reply(Box::new(reply)),
                    );
                }
                Err(error) => job.fail(error),
            }
        }
        while let Some(job) = self.catch_ups.front() {
            // A catch-up for when the engine is idle would only hold a sequence a next-turn one
            // may need (next-turn ones queue ahead, so none waits behind this one).
            if priority_of(job) == CatchUpPriority::WhenIdle && self.is_busy() {
                break;
            }
            let Some(slot) = self.slots.for_catch_up(job.request.cache_key.as_deref()) else {
                break;
            };
            let job = self.catch_ups.pop_front().expect("a front job");
            let JobKind::CatchUp(ticket, priority) = job.kind else {
                unreachable!("only catch-ups wait here")
            };
            if let Some(prompt) =
                self.tokenizer
                    .catch_up_prompt(&job.request, job.template, self.slot_context)
            {
                let key = job.request.cache_key.as_deref();
                self.start(
                    slot,
                    key,
                    Holder::CatchUp,
                    prompt,
                    Work::CatchUp {
                        _ticket: ticket,
                        priority,
                    },
                );
            }
        }
    }

    /// Replies waiting or being written, or a next turn's component still reading.
    fn is_busy(&self) -> bool {
        !self.replies.is_empty()
            || self.active.iter().any(|sequence| match &sequence.work {
                Work::Reply(_) => true,
                Work::CatchUp { priority, .. } => *priority == CatchUpPriority::Next,
            })
    }

    /// Points `slot` at the job, keeping the longest common prefix of its cache.
    fn start(
        &mut self,
        slot: usize,
        key: Option<&str>,
        holder: Holder,
        prompt: Vec<llama_cpp_2::token::LlamaToken>,
        work: Work,
    ) {
        let keep = self.slots.take(slot, key, holder, &prompt);
        let cached = self.slots.get(slot).tokens.len();
        if keep < cached {
            let seq = Some(slot as u32);
            let trimmed = self
                .context
                .clear_kv_cache_seq(seq, Some(keep as u32), None)
                .unwrap_or(false);
            let tokens = &mut self.slots.get_mut(slot).tokens;
            if trimmed {
                tokens.truncate(keep);
            } else {
                // The cache could not cut the sequence there: start it afresh.
                let _ = self.context.clear_kv_cache_seq(seq, None, None);
                tokens.clear();
            }
        }
        let reused = self.slots.get(slot).tokens.len();
        self.active.push(Sequence {
            slot,
            prompt,
            reused,
            work,
        });
    }

    /// One decode over every active sequence; then samples, and retires what finished.
    fn step(&mut self) -> Result<(), InferenceError> {
        // (slot, token, position, the `active` index that samples from its logits)
        let mut planned: Vec<(usize, LlamaToken, usize, Option<usize>)> = Vec::new();
        for (index, sequence) in self.active.iter().enumerate() {
            let Work::Reply(reply) = &sequence.work else {
                continue;
            };
            let Some(token) = reply.pending else { continue };
            let tokens = &mut self.slots.get_mut(sequence.slot).tokens;
            planned.push((sequence.slot, token, tokens.len(), Some(index)));
            tokens.push(token);
        }
        let decoding = planned.len();
        let mut budget = BATCH_TOKENS - decoding;
        if decoding > 0 {
            budget = budget.min(PREFILL_WHILE_DECODING);
        }
        for class in [
            None,
            Some(CatchUpPriority::Next),
            Some(CatchUpPriority::WhenIdle),
        ] {
            let catching_up = class.is_some();
            match class {
                Some(CatchUpPriority::Next) if !planned.is_empty() => {
                    budget = budget.min(CATCH_UP_WHILE_BUSY);
                }
                // The other components read only in a step that carries nothing else.
                Some(CatchUpPriority::WhenIdle) if !planned.is_empty() => break,
                _ => {}
            }
            for (index, sequence) in self.active.iter().enumerate() {
                let sequence_class = match &sequence.work {
                    Work::Reply(_) => None,
                    Work::CatchUp { priority, .. } => Some(*priority),
                };
                if sequence_class != class {
                    continue;
                }
                let tokens = &mut self.slots.get_mut(sequence.slot).tokens;
                let start = tokens.len();
                if start >= sequence.prompt.len() {
                    continue; // prefilled; sampling
                }
                let end = (start + budget).min(sequence.prompt.len());
                for position in start..end {
                    let samples = !catching_up && position + 1 == sequence.prompt.len();
                    let token = sequence.prompt[position];
                    planned.push((sequence.slot, token, position, samples.then_some(index)));
                }
                tokens.extend_from_slice(&sequence.prompt[start..end]);
                budget -= end - start;
            }
        }
        // llama.cpp splits a batch whose sequences are interleaved or out of order into several
        // smaller passes; in sequence order it is one pass (measured: 8 replies' tokens in
        // admission order took 64 ms a step, in sequence order 38 ms).
        planned.sort_by_key(|p| (p.0, p.2));
        self.batch.clear();
        // (index into `active`, index of its logits in the batch)
        let mut sampled_at: Vec<(usize, i32)> = Vec::new();
        for (in_batch, (slot, token, position, sampler)) in planned.iter().enumerate() {
            add(&mut self.batch, *token, *position, *slot, sampler.is_some())?;
            if let Some(index) = sampler {
                sampled_at.push((*index, in_batch as i32));
            }
        }
        let in_batch = planned.len();
        if in_batch == 0 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.context
            .decode(&mut self.batch)
            .map_err(|e| InferenceError::Backend(format!("decoding a batch of {in_batch}: {e}")))?;
        let decoded = started.elapsed();

        let mut finished = Vec::new();
        for (index, logits) in sampled_at {
            if let Work::Reply(reply) = &mut self.active[index].work {
                if let Some(reason) = reply.sample(self.model, &self.context, logits) {
                    finished.push((index, Some(reason)));
                }
            }
        }
        tracing::debug!(
            tokens = in_batch,
            active = self.active.len(),
            decode_ms = decoded.as_secs_f64() * 1000.0,
            sample_ms = (started.elapsed() - decoded).as_secs_f64() * 1000.0,
            "decode step"
        );
        for (index, sequence) in self.active.iter().enumerate() {
            let done = self.slots.get(sequence.slot).tokens.len() >= sequence.prompt.len();
            if matches!(sequence.work, Work::CatchUp { .. }) && done {
                finished.push((index, None));
            }
        }
        // Highest index first, so that `swap_remove` leaves the others in place.
        finished.sort_by_key(|f| std::cmp::Reverse(f.0));
        for (index, reason) in finished {
            let sequence = self.active.swap_remove(index);
            self.slots.release(sequence.slot);
            if let (Work::Reply(reply), Some(reason)) = (sequence.work, reason) {
                reply.finish(reason, sequence.prompt.len(), sequence.reused);
            }
        }
        Ok(())
    }

    /// After a failed decode the cells of every sequence in the batch are in doubt: fail the
    /// replies and forget those caches.
    fn fail_everything(&mut self, error: &InferenceError) {
        tracing::error!(%error, "a decode step failed");
        for sequence in self.active.drain(..) {
            let _ = self
                .context
                .clear_kv_cache_seq(Some(sequence.slot as u32), None, None);
            let slot = self.slots.get_mut(sequence.slot);
            slot.tokens.clear();
            slot.key = None;
            self.slots.release(sequence.slot);
            if let Work::Reply(reply) = sequence.work {
                reply.fail(InferenceError::Backend(error.to_string()));
            }
        }
    }
}

fn priority_of(job: &Job) -> CatchUpPriority {
    match job.kind {
        JobKind::CatchUp(_, priority) => priority,
        JobKind::Reply { .. } => CatchUpPriority::Next,
    }
}

fn add(
    batch: &mut LlamaBatch,
    token: llama_cpp_2::token::LlamaToken,
    position: usize,
    slot: usize,
    logits: bool,
) -> Result<(), InferenceError> {
    batch
        .add(token, position as i32, &[slot as i32], logits)
        .map_err(|e| InferenceError::Backend(e.to_string()))
}
