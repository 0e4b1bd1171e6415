//! The models a server offers, by id. Models that share a GGUF file share one loaded engine.

use std::{
    collections::{btree_map::Entry, BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
};

use anyhow::Context as _;

use crate::{
    backend::{
        CatchUpCounter, CatchUpPriority, ChatBackend, ChatMessage, Generation, GenerationRequest,
        InferenceError, Role, TextDeltas,
    },
    config::{BackendKind, ModelConfig},
    llama::{LlamaEngine, LlamaEngineSettings},
    remote::OpenAiBackend,
};

/// Per-request settings; `None` falls back to the model's config.
#[derive(Debug, Clone, Default)]
pub struct ReplyOptions {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop: Vec<String>,
    pub seed: u32,
    /// The conversation this continues, so the engine can keep this component's cache of it.
    pub conversation_id: Option<String>,
}

pub struct RegisteredModel {
    config: ModelConfig,
    backend: Arc<dyn ChatBackend>,
    catch_ups: CatchUpCounter,
}

impl RegisteredModel {
    pub fn new(config: ModelConfig, backend: Arc<dyn ChatBackend>) -> Self {
        Self {
            config,
            backend,
            catch_ups: CatchUpCounter::default(),
        }
    }

    /// This component's background catch-ups that are waiting or under way.
    pub fn catch_ups_pending(&self) -> usize {
        self.catch_ups.pending()
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Writes the next assistant turn for `history`, under this model's persona; with `deltas`,
    /// streams it.
    #[tracing::instrument(name = "model.reply", skip_all, fields(model = %self.config.id))]
    pub async fn reply(
        &self,
        history: &[ChatMessage],
        options: ReplyOptions,
        deltas: Option<TextDeltas>,
    ) -> Result<Generation, InferenceError> {
        let request = self.request(history, options);
        self.backend.generate(request, deltas).await
    }

    /// Lets this component read a turn another component of its blend wrote, in the background,
    /// so that it is ready if it is picked next.
    pub fn catch_up(
        &self,
        history: &[ChatMessage],
        conversation_id: &str,
        priority: CatchUpPriority,
    ) {
        let options = ReplyOptions {
            conversation_id: Some(conversation_id.to_owned()),
            ..ReplyOptions::default()
        };
        self.backend.catch_up(
            self.request(history, options),
            self.catch_ups.ticket(),
            priority,
        );
    }

    fn request(&self, history: &[ChatMessage], options: ReplyOptions) -> GenerationRequest {
        let persona = Some(&self.config.system_prompt)
            .filter(|p| !p.trim().is_empty())
            .map(|p| ChatMessage::new(Role::System, p.clone()));
        let messages = persona.into_iter().chain(history.iter().cloned()).collect();
        let mut stop = self.config.stop.clone();
        stop.extend(options.stop);
        GenerationRequest {
            messages,
            max_tokens: options.max_tokens.unwrap_or(self.config.max_tokens),
            temperature: options.temperature.unwrap_or(self.config.temperature),
            top_p: options.top_p.unwrap_or(self.config.top_p),
            seed: options.seed,
            stop,
            // Personas of one file share an engine: the key names the component too.
            cache_key: options
                .conversation_id
                .map(|conversation| format!("{conversation}\u{1f}{}", self.config.id)),
        }
    }
}

#[derive(Default)]
pub struct ModelRegistry {
    models: BTreeMap<String, RegisteredModel>,
}

impl ModelRegistry {
    /// Loads every model; each distinct GGUF file once, with `sequences` KV sequences. A local
    /// model that names no file uses `default_model`.
    pub fn load(
        configs: &[ModelConfig],
        sequences: usize,
        default_model: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let mut engines: HashMap<(PathBuf, crate::PromptTemplate), Arc<LlamaEngine>> =
            HashMap::new();
        let mut registry = Self::default();
        for config in configs {
            config.validate().map_err(anyhow::Error::msg)?;
            let backend: Arc<dyn ChatBackend> = match config.backend {
                BackendKind::OpenAi => Arc::new(
                    OpenAiBackend::new(config)
                        .with_context(|| format!("starting model {:?}", config.id))?,
                ),
                BackendKind::Llama => {
                    let path = config
                        .path
                        .clone()
                        .unwrap_or_else(|| default_model.to_owned());
                    let key = (path.clone(), config.template);
                    match engines.get(&key) {
                        Some(engine) => Arc::clone(engine) as Arc<dyn ChatBackend>,
                        None => {
                            let settings = settings_for(&path, configs, sequences, default_model);
                            let engine = Arc::new(
                                LlamaEngine::start(settings, config.template)
                                    .with_context(|| format!("starting model {:?}", config.id))?,
                            );
                            engines.insert(key, Arc::clone(&engine));
                            engine
                        }
                    }
                }
            };
            registry.insert(RegisteredModel::new(config.clone(), backend))?;
        }
        Ok(registry)
    }

    /// Adds a model with a backend of the caller's choosing.
    pub fn insert(&mut self, model: RegisteredModel) -> anyhow::Result<()> {
        match self.models.entry(model.id().to_owned()) {
            Entry::Occupied(_) => anyhow::bail!("model id {:?} is declared twice", model.id()),
            Entry::Vacant(slot) => {
                slot.insert(model);
                Ok(())
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&RegisteredModel> {
        self.models.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.models.contains_key(id)
    }

    pub fn models(&self) -> impl Iterator<Item = &RegisteredModel> {
        self.models.values()
    }
}

/// One engine serves every model on `path`, so it takes the largest context any of them asks for.
fn settings_for(
    path: &std::path::Path,
    configs: &[ModelConfig],
    sequences: usize,
    default_model: &std::path::Path,
) -> LlamaEngineSettings {
    let sharing = configs
        .iter()
        .filter(|c| c.backend == BackendKind::Llama)
        .filter(|c| c.path.as_deref().unwrap_or(default_model) == path);
    let mut settings = LlamaEngineSettings::new(path.to_owned());
    settings.sequences = sequences.max(1);
    settings.context_size = 0;
    for config in sharing {
        settings.context_size = settings.context_size.max(config.context_size);
        settings.n_gpu_layers = settings.n_gpu_layers.max(config.n_gpu_layers);
    }
    settings
}
