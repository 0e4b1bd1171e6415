//! In-process llama.cpp. One GGUF file is loaded once, into one context with several KV
//! sequences, owned by one scheduler thread (a `LlamaContext` is `Send` but not `Sync` and
//! borrows the model). Jobs reach it through a bounded queue, so async handlers never block on
//! inference; it batches every running reply into each decode step.

mod decode;
#[cfg(feature = "bench")]
mod fit_bench;
#[cfg(feature = "bench")]
mod raw_decode;
mod scheduler;
mod sequence;
mod slots;

#[cfg(feature = "bench")]
pub use fit_bench::{fit_history_timing, FitTiming};
#[cfg(feature = "bench")]
pub use raw_decode::{raw_decode, RawDecode, RawDecodeShape};

use std::{
    collections::VecDeque,
    num::NonZeroU32,
    path::PathBuf,
    sync::{mpsc, OnceLock},
    thread,
};

use anyhow::Context as _;
use llama_cpp_2::{
    context::params::LlamaContextParams, llama_backend::LlamaBackend, llama_batch::LlamaBatch,
    model::params::LlamaModelParams, model::LlamaModel,
};
use tokio::sync::oneshot;

use crate::{
    backend::{
        CatchUpPriority, CatchUpTicket, ChatBackend, Generation, GenerationRequest, InferenceError,
        TextDeltas,
    },
    prompt::PromptTemplate,
};

#[derive(Debug, Clone)]
pub struct LlamaEngineSettings {
    pub path: PathBuf,
    /// Tokens each KV sequence holds: the context one conversation sees.
    pub context_size: u32,
    pub n_gpu_layers: u32,
    /// KV sequences: replies written at once, and (conversation, component) caches kept between
    /// turns. Memory grows with `sequences * context_size`.
    pub sequences: usize,
    /// Replies waiting for a sequence beyond which new ones are refused (`Overloaded`).
    pub queue_capacity: usize,
    pub threads: i32,
}

impl LlamaEngineSettings {
    pub fn new(path: PathBuf) -> Self {
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            path,
            context_size: 2048,
            n_gpu_layers: 0,
            sequences: 8,
            queue_capacity: 256,
            threads: i32::try_from(cores).unwrap_or(2),
        }
    }
}

pub(crate) struct Job {
    pub request: GenerationRequest,
    pub template: PromptTemplate,
    pub kind: JobKind,
}

pub(crate) enum JobKind {
    Reply {
        deltas: Option<TextDeltas>,
        answer: oneshot::Sender<Result<Generation, InferenceError>>,
    },
    CatchUp(CatchUpTicket, CatchUpPriority),
}

impl Job {
    /// Nobody is waiting for this reply any more: the caller or the streaming client went away.
    pub fn is_abandoned(&self) -> bool {
        match &self.kind {
            JobKind::Reply { deltas, answer } => nobody_waits(answer, deltas.as_ref()),
            JobKind::CatchUp(..) => false,
        }
    }

    pub fn fail(self, error: InferenceError) {
        if let JobKind::Reply { answer, .. } = self.kind {
            let _ = answer.send(Err(error));
        }
    }
}

/// The caller dropped its answer, or the streaming client its deltas.
pub(crate) fn nobody_waits(
    answer: &oneshot::Sender<Result<Generation, InferenceError>>,
    deltas: Option<&TextDeltas>,
) -> bool {
    answer.is_closed() || deltas.is_some_and(|d| d.is_closed())
}

/// A loaded GGUF file and its scheduler. Personas of the same file share it.
pub struct LlamaEngine {
    queue: mpsc::SyncSender<Job>,
    template: PromptTemplate,
}

static LLAMA_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends llama.cpp's own log lines to `tracing` (off by default: they are many). llama.cpp's
/// logging is per process, so this takes effect when the first model loads.
pub fn log_llama_to_tracing(on: bool) {
    LLAMA_LOGS.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// llama.cpp's backend may be initialised once per process and must outlive every model.
fn llama_backend() -> Result<&'static LlamaBackend, InferenceError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            if LLAMA_LOGS.load(std::sync::atomic::Ordering::SeqCst) {
                llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            } else {
                backend.void_logs();
            }
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| InferenceError::Backend(format!("llama.cpp backend: {e}")))
}

impl LlamaEngine {
    /// Loads the model and starts its scheduler; returns once the context exists.
    pub fn start(settings: LlamaEngineSettings, template: PromptTemplate) -> anyhow::Result<Self> {
        if !settings.path.is_file() {
            anyhow::bail!(
                "model file {} does not exist: run `make model` (scripts/fetch-model.sh) or set BLENDLAB_MODEL",
                settings.path.display()
            );
        }
        anyhow::ensure!(
            (1..=scheduler::BATCH_TOKENS).contains(&settings.sequences),
            "sequences must be in 1..={}",
            scheduler::BATCH_TOKENS
        );
        let backend = llama_backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(settings.n_gpu_layers);
        let model = LlamaModel::load_from_file(backend, &settings.path, &params)
            .with_context(|| format!("loading {}", settings.path.display()))?;
        // Jobs beyond the waiting replies: catch-ups, and replies about to be refused.
        let (queue, jobs) = mpsc::sync_channel::<Job>(settings.queue_capacity * 2);
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread_settings = settings.clone();
        thread::Builder::new()
            .name("llama-scheduler".into())
            .spawn(move || serve(backend, &model, &thread_settings, &jobs, ready_tx))
            .context("spawning the inference scheduler")?;
        ready_rx
            .recv()
            .context("the inference scheduler exited during start-up")?
            .map_err(|e| anyhow::anyhow!("creating a llama.cpp context: {e}"))?;
        tracing::info!(
            path = %settings.path.display(),
            sequences = settings.sequences,
            context_size = settings.context_size,
            "model loaded"
        );
        Ok(Self { queue, template })
    }

    fn submit(&self, job: Job) -> Result<(), InferenceError> {
        self.queue.try_send(job).map_err(|error| match error {
            mpsc::TrySendError::Full(_) => InferenceError::Overloaded,
            mpsc::TrySendError::Disconnected(_) => {
                InferenceError::Backend("the inference scheduler has stopped".into())
            }
        })
    }
}

/// The scheduler thread: creates the context (one sequence per slot, each with the full
/// `context_size`) and runs until the engine is dropped.
fn serve(
    backend: &LlamaBackend,
    model: &LlamaModel,
    settings: &LlamaEngineSettings,
    jobs: &mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let sequences = settings.sequences as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(settings.context_size * sequences))
        .with_n_seq_max(sequences)
        // One KV stream per sequence: attention only reads its own cells.
        .with_kv_unified(false)
        // Keep the full window in sliding-window layers, so a sequence can be cut back to any
        // position and reused exactly.
        .with_swa_full(true)
        .with_n_batch(scheduler::BATCH_TOKENS as u32)
        .with_n_ubatch(scheduler::BATCH_TOKENS as u32)
        .with_n_threads(settings.threads)
        .with_n_threads_batch(settings.threads);
    let context = match model.new_context(backend, params) {
        Ok(context) => {
            let _ = ready.send(Ok(()));
            context
        }
        Err(error) => {
            let _ = ready.send(Err(error.to_string()));
            return;
        }
    };
    scheduler::Scheduler {
        model,
        tokenizer: decode::PromptTokenizer::new(model),
        context,
        slots: slots::Slots::new(settings.sequences),
        slot_context: settings.context_size,
        queue_capacity: settings.queue_capacity,
        replies: VecDeque::new(),
        catch_ups: VecDeque::new(),
        active: Vec::new(),
        batch: LlamaBatch::new(scheduler::BATCH_TOKENS, 1),
    }
    .run(jobs);
}

#[async_trait::async_trait]
impl ChatBackend for LlamaEngine {
    async fn generate(
        &self,
        request: GenerationRequest,
        deltas: Option<TextDeltas>,
    ) -> Result<Generation, InferenceError> {
        let (answer, answered) = oneshot::channel();
        self.submit(Job {
            request,
            template: self.template,
            kind: JobKind::Reply { deltas, answer },
        })?;
        answered.await.map_err(|_| {
            InferenceError::Backend("the inference scheduler dropped the request".into())
        })?
    }

    fn catch_up(
        &self,
        request: GenerationRequest,
        ticket: CatchUpTicket,
        priority: CatchUpPriority,
    ) {
        // Best effort: a full queue means the engine has better things to do (and drops the
        // ticket with the job).
        let _ = self.submit(Job {
            request,
            template: self.template,
            kind: JobKind::CatchUp(ticket, priority),
        });
    }
}
