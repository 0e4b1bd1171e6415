//! The Parquet sink: the contract's single-file data directory (`assignments.parquet`,
//! `messages.parquet`, `events.parquet`), each with an extra `simulated` column set to true.
//! Messages go out in row groups of `BATCH_ROWS`, so memory stays bounded whatever the size.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;

use super::{
    simulate, Allocation, LogSink, Population, SimAssignment, SimConversation, SimEvent,
    SimMessage, SimSummary,
};
use blendlab_analytics::schema::{assignments::ATTRIBUTE_PREFIX, datetime_column};
use blendlab_analytics::AnalyticsError;

const BATCH_ROWS: usize = 1 << 20;
pub const SIMULATED: &str = "simulated";

/// Simulates `population` into `dir` (created when missing).
pub fn write_parquet(
    population: &Population,
    allocation: &dyn Allocation,
    dir: &Path,
) -> Result<SimSummary, AnalyticsError> {
    let mut sink = ParquetSink::create(dir, &population.experiment)?;
    let summary = simulate(population, allocation, &mut sink)?;
    sink.finish()?;
    Ok(summary)
}

pub struct ParquetSink {
    dir: PathBuf,
    experiment: String,
    assignments: Assignments,
    messages: Messages,
    events: Events,
    writer: Option<BatchedWriter<File>>,
}

impl ParquetSink {
    pub fn create(dir: &Path, experiment: &str) -> Result<Self, AnalyticsError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        Ok(ParquetSink {
            dir: dir.to_owned(),
            experiment: experiment.to_owned(),
            assignments: Assignments::default(),
            messages: Messages::new(),
            events: Events::default(),
            writer: None,
        })
    }

    fn create_file(&self, name: &str) -> Result<File, AnalyticsError> {
        let path = self.dir.join(name);
        File::create(&path).map_err(|e| io_error(&path, e))
    }

    fn flush_messages(&mut self) -> Result<(), AnalyticsError> {
        let full = std::mem::replace(&mut self.messages, Messages::new());
        let frame = full.into_frame()?;
        if self.writer.is_none() {
            let file = self.create_file("messages.parquet")?;
            self.writer = Some(ParquetWriter::new(file).batched(frame.schema())?);
        }
        self.writer
            .as_mut()
            .expect("created above")
            .write_batch(&frame)?;
        Ok(())
    }

    /// Writes the last messages and the assignments and events files.
    pub fn finish(mut self) -> Result<(), AnalyticsError> {
        if self.messages.rows > 0 || self.writer.is_none() {
            self.flush_messages()?;
        }
        if let Some(writer) = self.writer.take() {
            writer.finish()?;
        }
        let assignments = std::mem::take(&mut self.assignments);
        let mut frame = assignments.into_frame(&self.experiment)?;
        ParquetWriter::new(self.create_file("assignments.parquet")?).finish(&mut frame)?;
        let events = std::mem::take(&mut self.events);
        let mut frame = events.into_frame()?;
        ParquetWriter::new(self.create_file("events.parquet")?).finish(&mut frame)?;
        Ok(())
    }
}

fn io_error(path: &Path, error: std::io::Error) -> AnalyticsError {
    AnalyticsError::InvalidArgument(format!("{}: {error}", path.display()))
}

impl LogSink for ParquetSink {
    type Error = AnalyticsError;

    fn assignment(&mut self, row: SimAssignment<'_>) -> Result<(), AnalyticsError> {
        self.assignments.user_id.push(row.user_id.to_owned());
        self.assignments.arm.push(row.arm.to_owned());
        self.assignments.assigned_at.push(row.assigned_at);
        self.assignments.platform.push(row.platform);
        Ok(())
    }

    fn conversation(&mut self, _row: SimConversation<'_>) -> Result<(), AnalyticsError> {
        // The schema has no conversations file: messages carry the conversation id.
        Ok(())
    }

    fn message(&mut self, row: SimMessage<'_>) -> Result<(), AnalyticsError> {
        self.messages.push(row);
        Ok(())
    }

    fn event(&mut self, row: SimEvent<'_>) -> Result<(), AnalyticsError> {
        let e = &mut self.events;
        e.user_id.push(row.user_id.to_owned());
        e.conversation_id.push(row.conversation_id.to_owned());
        e.message_id.push(row.message_id.to_owned());
        e.kind.push(row.kind);
        e.value.push(row.value);
        e.created_at.push(row.created_at);
        Ok(())
    }

    fn user_done(&mut self, _summary: &SimSummary) -> Result<(), AnalyticsError> {
        if self.messages.rows >= BATCH_ROWS {
            self.flush_messages()?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Assignments {
    user_id: Vec<String>,
    arm: Vec<String>,
    assigned_at: Vec<i64>,
    platform: Vec<&'static str>,
}

impl Assignments {
    fn into_frame(self, experiment: &str) -> PolarsResult<DataFrame> {
        let rows = self.user_id.len();
        DataFrame::new_infer_height(vec![
            Column::new("user_id".into(), self.user_id),
            Column::new("experiment".into(), vec![experiment; rows]),
            Column::new("arm".into(), self.arm),
            datetime_column("assigned_at", self.assigned_at),
            Column::new(SIMULATED.into(), vec![true; rows]),
            Column::new(format!("{ATTRIBUTE_PREFIX}platform").into(), self.platform),
        ])
    }
}

#[derive(Default)]
struct Events {
    user_id: Vec<String>,
    conversation_id: Vec<String>,
    message_id: Vec<String>,
    kind: Vec<&'static str>,
    value: Vec<f64>,
    created_at: Vec<i64>,
}

impl Events {
    fn into_frame(self) -> PolarsResult<DataFrame> {
        let rows = self.kind.len();
        DataFrame::new_infer_height(vec![
            Column::new("user_id".into(), self.user_id),
            Column::new("conversation_id".into(), self.conversation_id),
            Column::new("message_id".into(), self.message_id),
            Column::new("kind".into(), self.kind),
            Column::new("value".into(), self.value),
            datetime_column("created_at", self.created_at),
            Column::new(SIMULATED.into(), vec![true; rows]),
        ])
    }
}

/// Message columns built in place: strings go into Arrow views, not one `String` per row.
struct Messages {
    rows: usize,
    user_id: StringChunkedBuilder,
    conversation_id: StringChunkedBuilder,
    role: Vec<bool>,
    model: StringChunkedBuilder,
    created_at: Vec<i64>,
    message_id: StringChunkedBuilder,
    latency_ms: Vec<Option<f64>>,
    prompt_tokens: Vec<Option<i64>>,
    completion_tokens: Vec<Option<i64>>,
    choice_prob: Vec<Option<f64>>,
    policy_version: Vec<Option<i64>>,
    content_chars: Vec<i64>,
}

impl Messages {
    fn new() -> Self {
        let strings = |name: &str| StringChunkedBuilder::new(name.into(), BATCH_ROWS);
        Messages {
            rows: 0,
            user_id: strings("user_id"),
            conversation_id: strings("conversation_id"),
            role: Vec::with_capacity(BATCH_ROWS),
            model: strings("model"),
            created_at: Vec::with_capacity(BATCH_ROWS),
            message_id: strings("message_id"),
            latency_ms: Vec::with_capacity(BATCH_ROWS),
            prompt_tokens: Vec::with_capacity(BATCH_ROWS),
            completion_tokens: Vec::with_capacity(BATCH_ROWS),
            choice_prob: Vec::with_capacity(BATCH_ROWS),
            policy_version: Vec::with_capacity(BATCH_ROWS),
            content_chars: Vec::with_capacity(BATCH_ROWS),
        }
    }

    fn push(&mut self, row: SimMessage<'_>) {
        self.rows += 1;
        self.user_id.append_value(row.user_id);
        self.conversation_id.append_value(row.conversation_id);
        self.role.push(row.reply.is_none());
        self.model.append_option(row.reply.map(|r| r.model));
        self.created_at.push(row.created_at);
        self.message_id.append_value(row.message_id);
        self.latency_ms.push(row.reply.map(|r| r.latency_ms));
        self.prompt_tokens.push(row.reply.map(|r| r.prompt_tokens));
        self.completion_tokens
            .push(row.reply.map(|r| r.completion_tokens));
        self.choice_prob.push(row.reply.map(|r| r.choice_prob));
        self.policy_version
            .push(row.reply.and_then(|r| r.policy_version));
        self.content_chars.push(i64::from(row.content_chars));
    }

    fn into_frame(self) -> PolarsResult<DataFrame> {
        let role: Vec<&str> = self
            .role
            .iter()
            .map(|is_user| if *is_user { "user" } else { "assistant" })
            .collect();
        DataFrame::new_infer_height(vec![
            self.user_id.finish().into_column(),
            self.conversation_id.finish().into_column(),
            Column::new("role".into(), role),
            self.model.finish().into_column(),
            datetime_column("created_at", self.created_at),
            self.message_id.finish().into_column(),
            Column::new("latency_ms".into(), self.latency_ms),
            Column::new("prompt_tokens".into(), self.prompt_tokens),
            Column::new("completion_tokens".into(), self.completion_tokens),
            Column::new("choice_prob".into(), self.choice_prob),
            Column::new("policy_version".into(), self.policy_version),
            Column::new("content_chars".into(), self.content_chars),
            Column::new(SIMULATED.into(), vec![true; self.rows]),
        ])
    }
}
