//! From the store to the analytics input: the same frames a Parquet directory gives.

use std::collections::BTreeSet;

use anyhow::Context as _;
use blendlab_analytics::collect::daily::{first_day_to_read, PartKey, PartsInMemory};
use blendlab_analytics::load::SourceNames;
use blendlab_analytics::pipeline::DAY_MICROS;
use blendlab_analytics::report::{day_number, ArmSpec, ReportRequest};
use blendlab_analytics::schema::{assignments::ATTRIBUTE_PREFIX, datetime_column};
use blendlab_analytics::{compute_report_incremental, render, AnalyticsError, LogFrames, Report};
use blendlab_experiments::{DecisionRules, ExperimentDefinition, UserAttributes};
use chrono::{NaiveDate, Utc};
use polars::prelude::*;

use blendlab_store::{AssignmentColumns, EventColumns, MessageColumns, Store, StoreError};

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

/// The request that a definition implies: its control, window, arms, weights and decision rules.
/// Fails only on a definition that did not pass validation.
pub fn request_for(
    definition: &ExperimentDefinition,
    as_of: NaiveDate,
) -> anyhow::Result<ReportRequest> {
    let decision = DecisionRules::parse(
        definition.primary_metric.as_deref(),
        &definition.guardrails,
        definition.window_days,
    )
    .map_err(|problems| anyhow::anyhow!("invalid decision rules: {}", problems.join("; ")))?;
    Ok(ReportRequest {
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
        evaluate_policies: Vec::new(),
        decision,
    })
}

/// The experiment's report as of `as_of`, incrementally: the day parts kept in the store are
/// read back, the log is read from the first day without one, and the parts of finished days
/// computed on the way are kept (the CPU part on a blocking thread).
pub async fn report_from_store(
    store: &Store,
    key: &str,
    as_of: NaiveDate,
) -> Result<Report, StoreReportError> {
    report_from_store_on(store, key, as_of, Utc::now().date_naive()).await
}

/// [`report_from_store`] on a given UTC day (`today`): the days through the day before it are
/// final and kept. Tests pin the clock with it.
pub async fn report_from_store_on(
    store: &Store,
    key: &str,
    as_of: NaiveDate,
    today: NaiveDate,
) -> Result<Report, StoreReportError> {
    report_evaluating(store, key, as_of, today, &[]).await
}

/// [`report_from_store_on`] with candidate blend policies to evaluate off-policy besides the
/// default ones (spec strings, checked by the caller).
#[tracing::instrument(skip(store))]
pub async fn report_evaluating(
    store: &Store,
    key: &str,
    as_of: NaiveDate,
    today: NaiveDate,
    policies: &[String],
) -> Result<Report, StoreReportError> {
    let row = store
        .experiment(key)
        .await?
        .ok_or_else(|| StoreReportError::UnknownExperiment(key.to_owned()))?;
    let request = ReportRequest {
        evaluate_policies: policies.to_vec(),
        ..request_for(&row.definition, as_of)?
    };
    let series = {
        let request = request.clone();
        // polars plans on a blocking thread only, even to read a schema.
        tokio::task::spawn_blocking(move || part_series(&request))
            .await
            .context("the report task panicked")??
    };
    let kept = store.report_parts(key, &series).await?;
    let first_day = store
        .first_exposure_micros(key)
        .await?
        .map_or(0, |t| t.div_euclid(DAY_MICROS));
    let as_of_day = day_number(as_of);
    let since = first_day_to_read(&kept, first_day).min(as_of_day) * DAY_MICROS;
    let until = (as_of_day + 1) * DAY_MICROS;
    let assignments = store.assignment_columns(key).await?;
    let messages = store.message_columns_since(key, since, until).await?;
    let events = store.event_columns(key, until).await?;
    // Yesterday's messages are all in: a day is kept once the day after it is over.
    let final_through = today.pred_opt().context("yesterday exists")?;
    let (report, run, added) = tokio::task::spawn_blocking(move || {
        let assignments =
            key_frames(&request.experiment, assignments).map_err(AnalyticsError::from)?;
        let messages = message_frame(messages).map_err(AnalyticsError::from)?;
        let events = event_frame(events).map_err(AnalyticsError::from)?;
        let frames = frames(assignments, messages, events)?;
        let parts = PartsInMemory::new(kept);
        let (report, run) = compute_report_incremental(&frames, &request, &parts, final_through)?;
        Ok::<_, StoreReportError>((report, run, parts.added()))
    })
    .await
    .context("the report task panicked")??;
    tracing::debug!(?run, since, "incremental report");
    store.keep_report_parts(key, &series, added).await?;
    Ok(report)
}

/// The series of a store's kept parts: the store's log always has the same columns. Plans
/// with polars: call it on a blocking thread.
pub fn part_series(request: &ReportRequest) -> Result<String, AnalyticsError> {
    let empty = frames(
        key_frames(&request.experiment, AssignmentColumns::default())?,
        message_frame(MessageColumns::default())?,
        event_frame(EventColumns::default())?,
    )?;
    Ok(PartKey::of(&empty, request).series())
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

/// The assignments of one experiment, with an `attr_<name>` column per attribute as the export
/// writes them (CUPED adjusts for them).
pub fn key_frames(experiment: &str, columns: AssignmentColumns) -> PolarsResult<DataFrame> {
    let experiments = vec![experiment.to_owned(); columns.user_id.len()];
    assignments_frame(experiments, columns)
}

/// Assignments as the log schema has them: `attr_<name>` columns beside the contract's four.
pub fn assignments_frame(
    experiments: Vec<String>,
    columns: AssignmentColumns,
) -> PolarsResult<DataFrame> {
    let attributes = attribute_columns(&columns.attributes);
    let assigned_at = datetime_column("assigned_at", columns.assigned_at);
    let mut frame = vec![
        Column::new("user_id".into(), columns.user_id),
        Column::new("experiment".into(), experiments),
        Column::new("arm".into(), columns.arm),
        assigned_at,
    ];
    frame.extend(attributes);
    DataFrame::new_infer_height(frame)
}

/// One `attr_<name>` column per attribute name any user has, in name order; null for the users
/// who were exposed without it (docs/architecture.md, "Log schema").
fn attribute_columns(attributes: &[UserAttributes]) -> Vec<Column> {
    let names: BTreeSet<&str> = attributes
        .iter()
        .flat_map(|a| a.iter().map(|(name, _)| name))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let values: Vec<Option<&str>> = attributes.iter().map(|a| a.get(name)).collect();
            Column::new(format!("{ATTRIBUTE_PREFIX}{name}").into(), values)
        })
        .collect()
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
        Column::new("policy_version".into(), columns.policy_version),
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
