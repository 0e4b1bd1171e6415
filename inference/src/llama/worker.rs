//! The thread that owns one llama.cpp context and serves jobs one after another.

use std::{
    num::NonZeroU32,
    sync::{mpsc, Arc, Mutex},
};

use llama_cpp_2::{
    context::params::LlamaContextParams, llama_backend::LlamaBackend, model::LlamaModel,
};

use super::{decode::generate, Job, CONTEXT_CREATION};

pub(super) fn run(
    backend: &LlamaBackend,
    model: &LlamaModel,
    context_size: NonZeroU32,
    threads: i32,
    jobs: &Arc<Mutex<mpsc::Receiver<Job>>>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let params = LlamaContextParams::default()
        .with_n_ctx(Some(context_size))
        .with_n_batch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let created = {
        let _one_at_a_time = CONTEXT_CREATION.lock().unwrap_or_else(|e| e.into_inner());
        model.new_context(backend, params)
    };
    let mut context = match created {
        Ok(context) => {
            let _ = ready.send(Ok(()));
            context
        }
        Err(error) => {
            let _ = ready.send(Err(error.to_string()));
            return;
        }
    };
    loop {
        // Holding the lock only while waiting lets idle workers queue up behind it.
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return, // the engine was dropped
        };
        if job.is_abandoned() {
            continue; // the caller went away while the job waited
        }
        let span = tracing::debug_span!("generate", max_tokens = job.request.max_tokens);
        let result = span.in_scope(|| generate(model, &mut context, &job));
        let _ = job.reply.send(result);
    }
}
