//! In-process llama.cpp. One GGUF file is loaded once; each worker thread owns one context (a
//! `LlamaContext` is `Send` but not `Sync` and borrows the model) and takes jobs from a bounded
//! queue, so async handlers never block on inference.

mod decode;
mod raw_decode;
mod worker;

pub use raw_decode::{raw_decode, RawDecode};

use std::{
    num::NonZeroU32,
    path::PathBuf,
    sync::{mpsc, Arc, Mutex, OnceLock},
    thread,
};

use llama_cpp_2::{
    llama_backend::LlamaBackend, model::params::LlamaModelParams, model::LlamaModel,
};
use tokio::sync::oneshot;

use crate::{
    backend::{ChatBackend, Generation, GenerationRequest, InferenceError, TextDeltas},
    prompt::PromptTemplate,
};

#[derive(Debug, Clone)]
pub struct LlamaEngineSettings {
    pub path: PathBuf,
    pub context_size: u32,
    pub n_gpu_layers: u32,
    /// Contexts (and threads) serving this file; each holds its own KV cache.
    pub workers: usize,
    /// Jobs waiting beyond the running ones before `Overloaded`.
    pub queue_capacity: usize,
    pub threads_per_worker: i32,
}

impl LlamaEngineSettings {
    pub fn new(path: PathBuf) -> Self {
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            path,
            context_size: 2048,
            n_gpu_layers: 0,
            workers: 1,
            queue_capacity: 256,
            threads_per_worker: i32::try_from(cores).unwrap_or(2),
        }
    }
}

pub(crate) struct Job {
    pub request: GenerationRequest,
    pub template: PromptTemplate,
    pub deltas: Option<TextDeltas>,
    pub reply: oneshot::Sender<Result<Generation, InferenceError>>,
}

impl Job {
    /// Nobody is waiting for this reply any more: the caller or the streaming client went away.
    pub fn is_abandoned(&self) -> bool {
        self.reply.is_closed() || self.deltas.as_ref().is_some_and(|d| d.is_closed())
    }
}

/// A loaded GGUF file and its workers. Personas of the same file share it.
pub struct LlamaEngine {
    queue: mpsc::SyncSender<Job>,
    template: PromptTemplate,
}

/// llama.cpp's backend may be initialised once per process and must outlive every model.
fn llama_backend() -> Result<&'static LlamaBackend, InferenceError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            if std::env::var_os("BLENDLAB_LLAMA_LOGS").is_some() {
                llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            } else {
                backend.void_logs();
            }
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| InferenceError::Backend(format!("llama.cpp backend: {e}")))
}

/// Creating contexts concurrently from one model is unsound in llama.cpp; serialise it.
static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

impl LlamaEngine {
    /// Loads the model and starts its workers; returns once every context exists.
    pub fn start(settings: LlamaEngineSettings, template: PromptTemplate) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        if !settings.path.is_file() {
            anyhow::bail!(
                "model file {} does not exist: run `make model` (scripts/fetch-model.sh) or set BLENDLAB_MODEL",
                settings.path.display()
            );
        }
        let backend = llama_backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(settings.n_gpu_layers);
        let model = LlamaModel::load_from_file(backend, &settings.path, &params)
            .with_context(|| format!("loading {}", settings.path.display()))?;
        let model = Arc::new(model);
        let (queue, jobs) = mpsc::sync_channel::<Job>(settings.queue_capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        let context_size =
            NonZeroU32::new(settings.context_size).context("context_size must be positive")?;
        for index in 0..settings.workers.max(1) {
            let (ready_tx, ready_rx) = mpsc::channel();
            let (model, jobs) = (Arc::clone(&model), Arc::clone(&jobs));
            let threads = settings.threads_per_worker;
            thread::Builder::new()
                .name(format!("llama-{index}"))
                .spawn(move || worker::run(backend, &model, context_size, threads, &jobs, ready_tx))
                .context("spawning an inference worker")?;
            ready_rx
                .recv()
                .context("inference worker exited during start-up")?
                .map_err(|e| anyhow::anyhow!("creating a llama.cpp context: {e}"))?;
        }
        tracing::info!(path = %settings.path.display(), workers = settings.workers, "model loaded");
        Ok(Self { queue, template })
    }
}

#[async_trait::async_trait]
impl ChatBackend for LlamaEngine {
    async fn generate(
        &self,
        request: GenerationRequest,
        deltas: Option<TextDeltas>,
    ) -> Result<Generation, InferenceError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            request,
            template: self.template,
            deltas,
            reply,
        };
        self.queue.try_send(job).map_err(|error| match error {
            mpsc::TrySendError::Full(_) => InferenceError::Overloaded,
            mpsc::TrySendError::Disconnected(_) => {
                InferenceError::Backend("the inference workers have stopped".into())
            }
        })?;
        answer.await.map_err(|_| {
            InferenceError::Backend("the inference worker dropped the request".into())
        })?
    }
}
