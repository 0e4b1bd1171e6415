use std::time::Instant;

use blendlab_experiments::{turn_entropy, Arm, BlendPolicy, Experiment, UserAttributes};
use blendlab_inference::{
    CatchUpPriority, ChatMessage, Generation, InferenceError, RegisteredModel, ReplyOptions, Role,
    TextDeltas,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;

use super::{enrolled_arm, ChatError};
use crate::{policies::probabilities_for, state::AppState};
use blendlab_store::{
    ConversationRow, ExperimentRow, ExperimentStatus, NewMessage, PolicySnapshotRow, TurnWrite,
};

/// What the caller addressed: an experiment (the server picks arm and component) or one model.
#[derive(Debug, Clone)]
pub enum Target {
    Experiment(String),
    Model(String),
}

/// Where the history comes from.
#[derive(Debug, Clone)]
pub enum History {
    /// The server's stored conversation, plus this new user message.
    Stored { message: String },
    /// The client's messages (OpenAI style), ending with the new user message.
    Supplied(Vec<ChatMessage>),
}

#[derive(Debug, Clone)]
pub struct TurnInput {
    pub target: Target,
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub history: History,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop: Vec<String>,
    pub seed: Option<u32>,
    /// The client key sending the turn; `None` for the admin token.
    pub client_key: Option<String>,
    /// The user's attributes, stored with their first exposure (later values change nothing).
    pub attributes: UserAttributes,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    pub prompt_tokens_details: PromptTokensDetails,
}

/// OpenAI's field for prompt tokens served from the cache rather than computed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PromptTokensDetails {
    pub cached_tokens: u32,
}

#[derive(Debug, Clone)]
pub struct TurnOutput {
    pub conversation_id: String,
    pub message_id: String,
    pub experiment: Option<String>,
    pub arm: Option<String>,
    pub model: String,
    pub choice_prob: f64,
    pub reply: String,
    pub finish_reason: &'static str,
    pub usage: Usage,
    pub latency_ms: f64,
    pub created_at: DateTime<Utc>,
}

/// The experiment and arm serving a conversation, once resolved.
struct Routing {
    experiment: Option<Experiment>,
    arm: Option<String>,
}

/// A turn that is admitted, routed and ready to generate: everything a streaming response needs
/// to know before the first token (conversation, arm, component, message id).
pub struct PreparedTurn {
    _permit: OwnedSemaphorePermit,
    conversation: ConversationRow,
    is_new: bool,
    position: i64,
    history: Vec<ChatMessage>,
    user_message: String,
    arrived_at: DateTime<Utc>,
    model_id: String,
    /// The other components of the arm's blend, which catch up on this turn afterwards.
    other_components: Vec<String>,
    /// The component drawn for the conversation's next turn: it catches up first.
    next_component: Option<String>,
    choice_prob: f64,
    /// The policy snapshot the component was drawn from, for adaptive arms.
    policy_version: Option<i64>,
    options: ReplyOptions,
    message_id: String,
    user_message_id: String,
}

/// One whole turn: prepare, generate, log.
pub async fn run_turn(state: &AppState, input: TurnInput) -> Result<TurnOutput, ChatError> {
    prepare_turn(state, input)
        .await?
        .complete(state, None)
        .await
}

#[tracing::instrument(
    name = "chat.prepare",
    skip_all,
    fields(user = %input.user_id, experiment, arm, model)
)]
pub async fn prepare_turn(state: &AppState, input: TurnInput) -> Result<PreparedTurn, ChatError> {
    if state.lifecycle.is_draining() {
        return Err(ChatError::ShuttingDown);
    }
    // Admission first, so an overloaded server answers fast and does no work.
    let permit = state
        .chat_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| ChatError::AtCapacity)?;
    let arrived_at = Utc::now();
    let span = tracing::Span::current();

    let experiment = resolve_experiment(state, &input.target).await?;
    let (conversation, is_new) =
        open_conversation(state, &input, experiment.as_ref(), arrived_at).await?;
    let routing = Routing {
        arm: conversation.arm.clone(),
        experiment: experiment.map(|(e, _)| e),
    };
    span.record(
        "experiment",
        conversation.experiment.as_deref().unwrap_or("-"),
    );
    span.record("arm", routing.arm.as_deref().unwrap_or("-"));

    let (history, position, user_message) =
        assemble_history(state, &input, &conversation, is_new).await?;
    let turn = history.iter().filter(|m| m.role == Role::Assistant).count() as u32;
    let snapshot = adaptive_snapshot(state, &routing, arrived_at).await;
    let Pick {
        model,
        choice_prob,
        seed,
        other_components,
        next_component,
        policy_version,
    } = pick_component(
        state,
        &input.target,
        &routing,
        &conversation.conversation_id,
        turn,
        snapshot.as_deref(),
    )?;
    span.record("model", model.id());
    // Ids are drawn in log order (UUIDv7 sorts by time): the user's message, then the reply.
    let user_message_id = uuid::Uuid::now_v7().to_string();
    let conversation_id = conversation.conversation_id.clone();
    Ok(PreparedTurn {
        _permit: permit,
        model_id: model.id().to_owned(),
        conversation,
        is_new,
        position,
        history,
        user_message,
        arrived_at,
        choice_prob,
        policy_version,
        other_components,
        next_component,
        options: ReplyOptions {
            max_tokens: input.max_tokens,
            temperature: input.temperature,
            top_p: input.top_p,
            stop: input.stop,
            seed: input.seed.unwrap_or(seed),
            conversation_id: Some(conversation_id),
        },
        user_message_id,
        message_id: uuid::Uuid::now_v7().to_string(),
    })
}

impl PreparedTurn {
    /// The other components of a blend read the new turn while the user reads and types, so the
    /// one picked next decodes only the user's next message. That one is known already, and
    /// reads first; the others read when the engine is idle.
    fn let_the_blend_catch_up(&self, state: &AppState, reply: &str) {
        if self.other_components.is_empty() {
            return;
        }
        let mut history = self.history.clone();
        history.push(ChatMessage::new(Role::Assistant, reply));
        for id in &self.other_components {
            if let Some(model) = state.models.get(id) {
                let priority = if self.next_component.as_ref() == Some(id) {
                    CatchUpPriority::Next
                } else {
                    CatchUpPriority::WhenIdle
                };
                model.catch_up(&history, &self.conversation.conversation_id, priority);
            }
        }
    }

    /// Logs the user's message and `generation` as one turn; returns the reply's timestamp.
    async fn log(
        &self,
        state: &AppState,
        generation: &Generation,
        latency_ms: f64,
    ) -> Result<DateTime<Utc>, ChatError> {
        let replied_at = Utc::now();
        let messages = [
            NewMessage {
                message_id: self.user_message_id.clone(),
                role: "user",
                content: self.user_message.clone(),
                model: None,
                choice_prob: None,
                latency_ms: None,
                prompt_tokens: None,
                prefill_tokens: None,
                completion_tokens: None,
                finish_reason: None,
                policy_version: None,
                created_at: self.arrived_at,
            },
            NewMessage {
                message_id: self.message_id.clone(),
                role: "assistant",
                content: generation.text.clone(),
                model: Some(self.model_id.clone()),
                choice_prob: Some(self.choice_prob),
                latency_ms: Some(latency_ms),
                prompt_tokens: Some(generation.prompt_tokens),
                prefill_tokens: Some(generation.prefill_tokens),
                completion_tokens: Some(generation.completion_tokens),
                finish_reason: Some(generation.finish_reason.as_str()),
                policy_version: self.policy_version,
                created_at: replied_at,
            },
        ];
        state
            .turns
            .write(TurnWrite {
                conversation: self.conversation.clone(),
                create_conversation: self.is_new,
                first_position: self.position,
                messages: messages.into(),
            })
            .await?;
        Ok(replied_at)
    }

    pub fn conversation_id(&self) -> &str {
        &self.conversation.conversation_id
    }

    pub fn arm(&self) -> Option<&str> {
        self.conversation.arm.as_deref()
    }

    /// The component that writes the reply.
    pub fn model(&self) -> &str {
        &self.model_id
    }

    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    pub fn arrived_at(&self) -> DateTime<Utc> {
        self.arrived_at
    }

    /// Generates the reply (streaming it into `deltas` when given) and logs both messages.
    /// A streamed reply whose client left, and any reply the shutdown cancelled, is logged as far
    /// as it was written.
    #[tracing::instrument(
        name = "chat.generate",
        skip_all,
        fields(model = %self.model_id, prompt_tokens, prefill_tokens, completion_tokens, latency_ms, finish_reason)
    )]
    pub async fn complete(
        self,
        state: &AppState,
        deltas: Option<TextDeltas>,
    ) -> Result<TurnOutput, ChatError> {
        let span = tracing::Span::current();
        let model = state.models.get(&self.model_id).ok_or_else(|| {
            ChatError::ModelUnavailable(format!("model {:?} is gone", self.model_id))
        })?;
        let started = Instant::now();
        let in_progress = state.metrics.reply_started(&self.model_id);
        let outcome = super::cancel::reply_until_cancelled(
            model,
            &self.history,
            self.options.clone(),
            deltas,
            &state.lifecycle,
        )
        .await;
        drop(in_progress);
        let generation = match outcome {
            Ok(generation) => generation,
            // A remote endpoint broke off mid-reply: what arrived (and was streamed) is logged as
            // a reply that ended in an error, and the caller gets the error.
            Err(InferenceError::UpstreamBrokeOff { message, partial }) => {
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                self.log(state, &partial, latency_ms).await?;
                return Err(ChatError::Upstream(format!(
                    "the remote model failed: {message}; the {} characters that arrived are \
                     logged as message {} with finish_reason \"error\"",
                    partial.text.chars().count(),
                    self.message_id
                )));
            }
            Err(error) => return Err(error.into()),
        };
        state.metrics.record_tokens(
            &self.model_id,
            generation.prompt_tokens,
            generation.completion_tokens,
        );
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        span.record("prompt_tokens", generation.prompt_tokens);
        span.record("prefill_tokens", generation.prefill_tokens);
        span.record("completion_tokens", generation.completion_tokens);
        span.record("latency_ms", latency_ms);
        span.record("finish_reason", generation.finish_reason.as_str());
        // Committed before the caller hears of it: an acknowledged reply is never lost.
        let replied_at = self.log(state, &generation, latency_ms).await?;
        self.let_the_blend_catch_up(state, &generation.text);

        Ok(TurnOutput {
            conversation_id: self.conversation.conversation_id,
            message_id: self.message_id,
            experiment: self.conversation.experiment,
            arm: self.conversation.arm,
            model: self.model_id,
            choice_prob: self.choice_prob,
            reply: generation.text,
            finish_reason: generation.finish_reason.as_str(),
            usage: Usage {
                prompt_tokens: generation.prompt_tokens,
                completion_tokens: generation.completion_tokens,
                total_tokens: generation.prompt_tokens + generation.completion_tokens,
                prompt_tokens_details: PromptTokensDetails {
                    cached_tokens: generation.prompt_tokens - generation.prefill_tokens,
                },
            },
            latency_ms,
            created_at: replied_at,
        })
    }
}

async fn resolve_experiment(
    state: &AppState,
    target: &Target,
) -> Result<Option<(Experiment, ExperimentRow)>, ChatError> {
    match target {
        Target::Model(id) if state.models.contains(id) => Ok(None),
        Target::Model(id) => Err(ChatError::UnknownTarget(id.clone())),
        Target::Experiment(key) => {
            let row = state
                .store
                .experiment(key)
                .await?
                .ok_or_else(|| ChatError::UnknownTarget(key.clone()))?;
            if row.status != ExperimentStatus::Running {
                return Err(ChatError::NotRunning {
                    key: key.clone(),
                    status: row.status.as_str(),
                });
            }
            let experiment =
                Experiment::parse(row.definition.clone(), |m| state.models.contains(m)).map_err(
                    |e| {
                        ChatError::ModelUnavailable(format!(
                            "experiment {key:?} cannot be served here: {e}"
                        ))
                    },
                )?;
            Ok(Some((experiment, row)))
        }
    }
}

/// Loads the conversation, or prepares a new one (enrolling the user on first exposure).
async fn open_conversation(
    state: &AppState,
    input: &TurnInput,
    experiment: Option<&(Experiment, ExperimentRow)>,
    now: DateTime<Utc>,
) -> Result<(ConversationRow, bool), ChatError> {
    let experiment_key = experiment.map(|(e, _)| e.key().to_string());
    if let Some(id) = &input.conversation_id {
        if let Some(existing) = state.store.conversation(id).await? {
            // A client key continues only what it started; the admin token continues anything.
            if input.client_key.is_some() && existing.client_key != input.client_key {
                return Err(ChatError::Forbidden(format!(
                    "conversation {id:?} was started with other credentials"
                )));
            }
            if existing.user_id != input.user_id {
                return Err(ChatError::ConversationNotFound(id.clone()));
            }
            if existing.experiment != experiment_key {
                return Err(ChatError::ConversationMismatch(format!(
                    "conversation {id:?} belongs to {}, not to {}",
                    existing
                        .experiment
                        .as_deref()
                        .unwrap_or("direct model traffic"),
                    experiment_key.as_deref().unwrap_or("direct model traffic"),
                )));
            }
            return Ok((existing, false));
        }
        // An unknown id starts a conversation under that id, so clients can use their own ids.
    }
    let arm = match experiment {
        None => None,
        Some((experiment, row)) => {
            let first_seen = state.store.touch_user(&input.user_id, now).await?;
            match enrolled_arm(experiment, row, &input.user_id, Some(first_seen)) {
                Some(arm) => {
                    let exposed = state
                        .store
                        .record_exposure(
                            experiment.key().as_str(),
                            &input.user_id,
                            arm.name.as_str(),
                            &input.attributes,
                            now,
                        )
                        .await?;
                    if exposed {
                        state
                            .metrics
                            .record_exposure(experiment.key().as_str(), arm.name.as_str());
                    }
                    // The first stored exposure wins, also when a replica got there first.
                    let stored = state
                        .store
                        .assignment(experiment.key().as_str(), &input.user_id)
                        .await?;
                    Some(stored.map_or_else(|| arm.name.to_string(), |s| s.arm))
                }
                None => None,
            }
        }
    };
    let conversation = ConversationRow {
        conversation_id: input
            .conversation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        user_id: input.user_id.clone(),
        experiment: experiment_key,
        arm,
        created_at: now,
        client_key: input.client_key.clone(),
    };
    Ok((conversation, true))
}

/// The history the component sees, where the new messages go, and the new user message.
async fn assemble_history(
    state: &AppState,
    input: &TurnInput,
    conversation: &ConversationRow,
    is_new: bool,
) -> Result<(Vec<ChatMessage>, i64, String), ChatError> {
    let stored = if is_new {
        Vec::new()
    } else {
        state.store.messages(&conversation.conversation_id).await?
    };
    let position = stored.len() as i64;
    match &input.history {
        History::Stored { message } => {
            let mut history: Vec<ChatMessage> = stored
                .into_iter()
                .map(|m| {
                    ChatMessage::new(
                        if m.role == "user" {
                            Role::User
                        } else {
                            Role::Assistant
                        },
                        m.content,
                    )
                })
                .collect();
            history.push(ChatMessage::new(Role::User, message.clone()));
            Ok((history, position, message.clone()))
        }
        History::Supplied(messages) => {
            let last = messages
                .last()
                .filter(|m| m.role == Role::User)
                .ok_or_else(|| {
                    ChatError::Validation("the last message must have role \"user\"".into())
                })?;
            Ok((messages.clone(), position, last.content.clone()))
        }
    }
}

/// The model that writes this turn, the probability it was chosen with, the sampler seed, and the
/// arm's other components.
/// The component of one turn, with what the log needs about its draw.
struct Pick<'a> {
    model: &'a RegisteredModel,
    choice_prob: f64,
    seed: u32,
    /// The arm's other components, which catch up on the turn afterwards.
    other_components: Vec<String>,
    /// The component the same draw gives the conversation's next turn.
    next_component: Option<String>,
    policy_version: Option<i64>,
}

/// The arm that serves a conversation: its own, or the control's for users outside every range.
fn serving_arm<'e>(experiment: &'e Experiment, routing: &Routing) -> &'e Arm {
    routing
        .arm
        .as_deref()
        .and_then(|a| experiment.arm(a))
        .unwrap_or_else(|| experiment.control())
}

/// The policy snapshot an adaptive arm draws this turn from; `None` for the other policies.
async fn adaptive_snapshot(
    state: &AppState,
    routing: &Routing,
    now: DateTime<Utc>,
) -> Option<std::sync::Arc<PolicySnapshotRow>> {
    let experiment = routing.experiment.as_ref()?;
    let arm = serving_arm(experiment, routing);
    let BlendPolicy::Thompson(policy) = &arm.policy else {
        return None;
    };
    state
        .policies
        .for_turn(&state.store, experiment.key().as_str(), arm, policy, now)
        .await
}

fn pick_component<'a>(
    state: &'a AppState,
    target: &Target,
    routing: &Routing,
    conversation_id: &str,
    turn: u32,
    snapshot: Option<&PolicySnapshotRow>,
) -> Result<Pick<'a>, ChatError> {
    let mut other_components = Vec::new();
    let mut next_component = None;
    let mut policy_version = None;
    let (model_id, choice_prob, seed) = match (&routing.experiment, target) {
        (Some(experiment), _) => {
            let arm = serving_arm(experiment, routing);
            let salt = experiment.salt();
            let adaptive = snapshot.and_then(|s| Some((s.version, probabilities_for(arm, s)?)));
            let draw_for = |turn: u32| match &adaptive {
                Some((_, probabilities)) => {
                    arm.draw_component_from(probabilities, salt, conversation_id, turn)
                }
                None => arm.draw_component(salt, conversation_id, turn),
            };
            policy_version = adaptive.as_ref().map(|(version, _)| *version);
            let draw = draw_for(turn);
            // An adaptive arm may serve the next turn from a newer snapshot; this one is the
            // best guess at which component that will be.
            next_component = Some(arm.models[draw_for(turn + 1).model_index].clone());
            other_components = arm
                .models
                .iter()
                .filter(|m| **m != arm.models[draw.model_index])
                .map(|m| m.to_string())
                .collect();
            (
                arm.models[draw.model_index].clone(),
                draw.probability,
                draw.sampling_seed,
            )
        }
        (None, Target::Model(id)) => (id.clone(), 1.0, turn_entropy(id, conversation_id, turn).1),
        (None, Target::Experiment(key)) => return Err(ChatError::UnknownTarget(key.clone())),
    };
    let model = state.models.get(&model_id).ok_or_else(|| {
        ChatError::ModelUnavailable(format!("model {model_id:?} is not declared on this server"))
    })?;
    Ok(Pick {
        model,
        choice_prob,
        seed,
        other_components,
        next_component,
        policy_version,
    })
}
