//! `simulate --db`: the generator runs on a blocking thread and hands full batches over a
//! bounded channel to a writer task, so generation and SQLite inserts overlap on two cores.

use crate::synthetic::{
    LogSink, Population, SimAssignment, SimConversation, SimEvent, SimMessage, SimSnapshot,
    SimSummary,
};
use anyhow::Context as _;
use blendlab_experiments::{Experiment, UserAttributes};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tokio::sync::mpsc;

use super::progress::Progress;
use super::simulate_experiment;
use blendlab_store::{
    PolicySnapshotRow, SimulatedAssignment, SimulatedBatch, SimulatedConversation, SimulatedEvent,
    SimulatedMessage, SnapshotModel, Store,
};

/// Messages per transaction: hot index pages are written to the WAL once per commit, so larger
/// batches write less (4.9M messages, release: 20,000 a batch gave 41k messages/s, 200,000 gave
/// 72k/s with the larger checkpoint interval). About 60 MB of rows each.
const BATCH_MESSAGES: usize = 200_000;
/// Batches in flight between the generator and the writer.
const CHANNEL_BATCHES: usize = 2;

/// Text of simulated messages: only their length matters to the report.
const FILLER: &str = "Simulated message. The quick brown fox jumps over the lazy dog while the \
    blend of small models keeps the conversation going with wit, warmth and a question or two. \
    Simulated message. The quick brown fox jumps over the lazy dog while the blend of small \
    models keeps the conversation going with wit, warmth and a question or two. Simulated \
    message. The quick brown fox jumps over the lazy dog while the blend of small models keeps \
    the conversation going with wit, warmth and a question or two. Simulated message.";

/// `simulate --db`: refuses a seed whose users the store holds already, so history is never
/// written twice.
pub async fn to_store(
    experiment: Experiment,
    population: Population,
    url: &str,
    refresh_s: u64,
) -> anyhow::Result<SimSummary> {
    let store = Store::connect(url).await?;
    anyhow::ensure!(
        !is_seeded(&store, &population).await?,
        "{url} already holds simulated users of seed {} in {}: choose another --seed",
        population.seed,
        population.experiment
    );
    write(&store, experiment, population, refresh_s).await
}

/// The demo's history: written unless that seed's users are there already (`None` then).
pub async fn seed_store(
    experiment: Experiment,
    population: Population,
    url: &str,
) -> anyhow::Result<Option<SimSummary>> {
    let store = Store::connect(url).await?;
    if is_seeded(&store, &population).await? {
        return Ok(None);
    }
    write(
        &store,
        experiment,
        population,
        super::DEFAULT_POLICY_REFRESH_S,
    )
    .await
    .map(Some)
}

async fn is_seeded(store: &Store, population: &Population) -> anyhow::Result<bool> {
    Ok(store
        .has_users_with_prefix(&population.experiment, &population.user_prefix())
        .await?)
}

/// Stores the experiment, running since the simulated start, if it is missing, then the rows.
async fn write(
    store: &Store,
    experiment: Experiment,
    population: Population,
    refresh_s: u64,
) -> anyhow::Result<SimSummary> {
    let key = population.experiment.clone();
    let experiment = match store.experiment(&key).await? {
        Some(row) => Experiment::parse(row.definition, |_| true)
            .map_err(|e| anyhow::anyhow!("the stored experiment {key:?} is invalid: {e}"))?,
        None => {
            let started_at = population
                .start
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .min(Utc::now());
            store
                .insert_experiment(experiment.definition(), started_at)
                .await?;
            store.start_experiment(&key, started_at).await?;
            eprintln!("stored experiment {key} as running since {started_at}");
            experiment
        }
    };

    let (sender, mut receiver) = mpsc::channel::<SimulatedBatch>(CHANNEL_BATCHES);
    let total = population.users;
    let arms: Vec<(String, Vec<String>)> = population
        .arms
        .iter()
        .map(|arm| (arm.name.clone(), arm.models.clone()))
        .collect();
    let generator = tokio::task::spawn_blocking(move || {
        let sink = StoreSink {
            batch: SimulatedBatch::default(),
            sender,
        };
        let mut sink = Progress::new(sink, total);
        let run = simulate_experiment(experiment, &population, refresh_s, &mut sink)?;
        sink.into_inner().flush()?;
        anyhow::Ok(run)
    });
    let mut writer = store.simulated_writer(&key).await?;
    let mut written = Ok(());
    while let Some(batch) = receiver.recv().await {
        if let Err(error) = writer.insert(&batch).await {
            written = Err(error).context("writing simulated rows");
            break;
        }
    }
    // Dropping the receiver stops a generator that is still sending after a failed write.
    drop(receiver);
    let generated = generator.await?;
    written?;
    let run = generated?;
    writer
        .finish()
        .await
        .context("indexing the simulated rows")?;
    // The adaptive arms' snapshots, as the server would have stored them: `GET .../policy` and
    // the dashboard show the simulated history's learning, and the server's later versions
    // continue from the counts in the simulated rows.
    let snapshots: Vec<PolicySnapshotRow> = run
        .snapshots
        .iter()
        .map(|snapshot| snapshot_row(&key, &arms, snapshot))
        .collect();
    store
        .insert_policy_snapshots(&snapshots)
        .await
        .context("storing the simulated policy snapshots")?;
    // Simulated history lands in days the incremental report may have kept already.
    store.forget_report_parts(Some(&key)).await?;
    Ok(run.summary)
}

/// A simulated snapshot as the store keeps it; computed at its cut-off.
fn snapshot_row(
    experiment: &str,
    arms: &[(String, Vec<String>)],
    snapshot: &SimSnapshot,
) -> PolicySnapshotRow {
    let (arm, models) = &arms[snapshot.arm];
    let cutoff = DateTime::from_timestamp_micros(snapshot.cutoff).unwrap_or_default();
    PolicySnapshotRow {
        experiment: experiment.to_owned(),
        arm: arm.clone(),
        version: snapshot.version,
        cutoff,
        computed_at: cutoff,
        models: models
            .iter()
            .zip(&snapshot.probabilities)
            .zip(&snapshot.counts)
            .map(|((model, probability), counts)| SnapshotModel {
                model: model.clone(),
                probability: *probability,
                successes: counts.successes,
                failures: counts.failures,
            })
            .collect(),
    }
}

struct StoreSink {
    batch: SimulatedBatch,
    sender: mpsc::Sender<SimulatedBatch>,
}

impl StoreSink {
    fn flush(&mut self) -> anyhow::Result<()> {
        let batch = std::mem::take(&mut self.batch);
        if batch.rows() > 0 {
            self.sender
                .blocking_send(batch)
                .map_err(|_| anyhow::anyhow!("the store writer stopped"))?;
        }
        Ok(())
    }
}

impl LogSink for StoreSink {
    type Error = anyhow::Error;

    fn assignment(&mut self, row: SimAssignment<'_>) -> anyhow::Result<()> {
        self.batch.assignments.push(SimulatedAssignment {
            user_id: row.user_id.to_owned(),
            arm: row.arm.to_owned(),
            assigned_at: row.assigned_at,
            attributes: UserAttributes::parse(BTreeMap::from([(
                "platform".to_owned(),
                row.platform.to_owned(),
            )]))?,
        });
        Ok(())
    }

    fn conversation(&mut self, row: SimConversation<'_>) -> anyhow::Result<()> {
        self.batch.conversations.push(SimulatedConversation {
            conversation_id: row.conversation_id.to_owned(),
            user_id: row.user_id.to_owned(),
            arm: row.arm.to_owned(),
            created_at: row.created_at,
        });
        Ok(())
    }

    fn message(&mut self, row: SimMessage<'_>) -> anyhow::Result<()> {
        let chars = (row.content_chars as usize).clamp(1, FILLER.len());
        self.batch.messages.push(SimulatedMessage {
            message_id: row.message_id.to_owned(),
            conversation_id: row.conversation_id.to_owned(),
            position: row.position,
            user_id: row.user_id.to_owned(),
            arm: row.arm.to_owned(),
            model: row.reply.map(|r| r.model.to_owned()),
            content: &FILLER[..chars],
            choice_prob: row.reply.map(|r| r.choice_prob),
            policy_version: row.reply.and_then(|r| r.policy_version),
            latency_ms: row.reply.map(|r| r.latency_ms),
            prompt_tokens: row.reply.map(|r| r.prompt_tokens),
            completion_tokens: row.reply.map(|r| r.completion_tokens),
            created_at: row.created_at,
        });
        Ok(())
    }

    fn event(&mut self, row: SimEvent<'_>) -> anyhow::Result<()> {
        self.batch.events.push(SimulatedEvent {
            user_id: row.user_id.to_owned(),
            conversation_id: row.conversation_id.to_owned(),
            message_id: row.message_id.to_owned(),
            kind: row.kind,
            value: row.value,
            created_at: row.created_at,
        });
        Ok(())
    }

    fn user_done(&mut self, _summary: &SimSummary) -> anyhow::Result<()> {
        if self.batch.messages.len() >= BATCH_MESSAGES {
            self.flush()?;
        }
        Ok(())
    }
}
