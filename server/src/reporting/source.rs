//! From the store to the analytics input: the same frames a Parquet directory gives.

use anyhow::Context as _;
use blendlab_analytics::load::SourceNames;
use blendlab_analytics::pipeline::DAY_MICROS;
use blendlab_analytics::report::{day_number, ArmSpec, ReportRequest};
use blendlab_analytics::schema::datetime_column;
use blendlab_analytics::{compute_report, render, AnalyticsError, LogFrames, Report};
use blendlab_experiments::ExperimentDefinition;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::store::{AssignmentColumns, EventColumns, MessageColumns, Store, StoreError};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Md,
    Html,
}

impl ReportFormat {
    pub fn render(self, report: &Report) -> anyhow::Result<String> {
        Ok(match self {
            ReportFormat::Json => serde_json::to_string_pretty(report)?,
            ReportFormat::Md => render::markdown(report),
            ReportFormat::Html => render::html(report),
        })
    }
}

/// Why a report over the store could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StoreReportError {
    #[error("experiment `{0}` does not exist")]
    UnknownExperiment(String),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The request that a stored definition implies: its control, window, arms and weights.
pub fn request_for(definition: &ExperimentDefinition, as_of: NaiveDate) -> ReportRequest {
    ReportRequest {
        experiment: definition.key.clone(),
        as_of,
        control: definition.control.clone(),
        window_days: definition.window_days,
        arms: Some(
            definition
                .arms
                .iter()
                .map(|arm| ArmSpec {
                    name: arm.name.clone(),
                    weight: arm.weight,
                    models: arm.models.clone(),
                })
                .collect(),
        ),
    }
}

/// Reads the experiment's log up to the end of `as_of` and computes the report (the CPU part on
/// a blocking thread).
pub async fn report_from_store(
    store: &Store,
    key: &str,
    as_of: NaiveDate,
) -> Result<Report, StoreReportError> {
    let row = store
        .experiment(key)
        .await?
        .ok_or_else(|| StoreReportError::UnknownExperiment(key.to_owned()))?;
    let until = (day_number(as_of) + 1) * DAY_MICROS;
    let assignments = store.assignment_columns(key).await?;
    let messages = store.message_columns(key, until).await?;
    let events = store.event_columns(key, until).await?;
    let request = request_for(&row.definition, as_of);
    tokio::task::spawn_blocking(move || {
        let assignments =
            key_frames(&request.experiment, assignments).map_err(AnalyticsError::from)?;
        let messages = message_frame(messages).map_err(AnalyticsError::from)?;
        let events = event_frame(events).map_err(AnalyticsError::from)?;
        let frames = frames(assignments, messages, events)?;
        compute_report(&frames, &request).map_err(StoreReportError::from)
    })
    .await
    .context("the report task panicked")?
}

fn frames(
    assignments: DataFrame,
    messages: DataFrame,
    events: DataFrame,
) -> Result<LogFrames, AnalyticsError> {
    let names = SourceNames {
        assignments: "store: assignments".into(),
        messages: "store: messages".into(),
        events: "store: events".into(),
    };
    LogFrames::new(
        assignments.lazy(),
        messages.lazy(),
        Some(events.lazy()),
        &names,
    )
}

pub fn key_frames(experiment: &str, columns: AssignmentColumns) -> PolarsResult<DataFrame> {
    let n = columns.user_id.len();
    DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), columns.user_id),
        Column::new("experiment".into(), vec![experiment; n]),
        Column::new("arm".into(), columns.arm),
        datetime_column("assigned_at", columns.assigned_at),
    ])
}

pub fn message_frame(columns: MessageColumns) -> PolarsResult<DataFrame> {
    DataFrame::new_infer_height(vec![
        Column::new("message_id".into(), columns.message_id),
        Column::new("user_id".into(), columns.user_id),
        Column::new("conversation_id".into(), columns.conversation_id),
        Column::new("role".into(), columns.role),
        Column::new("model".into(), columns.model),
        datetime_column("created_at", columns.created_at),
        Column::new("latency_ms".into(), columns.latency_ms),
        Column::new("prompt_tokens".into(), columns.prompt_tokens),
        Column::new("completion_tokens".into(), columns.completion_tokens),
        Column::new("choice_prob".into(), columns.choice_prob),
        Column::new("content_chars".into(), columns.content_chars),
        Column::new("finish_reason".into(), columns.finish_reason),
    ])
}

pub fn event_frame(columns: EventColumns) -> PolarsResult<DataFrame> {
    DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), columns.user_id),
        Column::new("conversation_id".into(), columns.conversation_id),
        Column::new("message_id".into(), columns.message_id),
        Column::new("kind".into(), columns.kind),
        Column::new("value".into(), columns.value),
        datetime_column("created_at", columns.created_at),
    ])
}
