//! Hand-built logs: a person can check every expected number.
#![allow(dead_code)]

use blendlab_analytics::{load::SourceNames, LogFrames};
use chrono::{DateTime, NaiveDate};
use polars::prelude::*;

pub fn micros(timestamp: &str) -> i64 {
    DateTime::parse_from_rfc3339(timestamp)
        .expect("an RFC 3339 timestamp")
        .timestamp_micros()
}

fn datetime_column(name: &str, timestamps: &[&str]) -> Column {
    Int64Chunked::from_vec(name.into(), timestamps.iter().map(|t| micros(t)).collect())
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

/// (user_id, arm, assigned_at) rows of one experiment.
pub fn assignments(experiment: &str, rows: &[(&str, &str, &str)]) -> DataFrame {
    DataFrame::new_infer_height(vec![
        Column::new(
            "user_id".into(),
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new("experiment".into(), vec![experiment; rows.len()]),
        Column::new("arm".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
        datetime_column("assigned_at", &rows.iter().map(|r| r.2).collect::<Vec<_>>()),
    ])
    .unwrap()
}

/// (user_id, conversation_id, role, model, created_at) rows; model "" is null.
pub fn messages(rows: &[(&str, &str, &str, &str, &str)]) -> DataFrame {
    DataFrame::new_infer_height(vec![
        Column::new(
            "user_id".into(),
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new(
            "conversation_id".into(),
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ),
        Column::new("role".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        Column::new(
            "model".into(),
            rows.iter()
                .map(|r| (!r.3.is_empty()).then_some(r.3))
                .collect::<Vec<_>>(),
        ),
        datetime_column("created_at", &rows.iter().map(|r| r.4).collect::<Vec<_>>()),
    ])
    .unwrap()
}

pub fn frames(assignments: DataFrame, messages: DataFrame) -> LogFrames {
    LogFrames::new(
        assignments.lazy(),
        messages.lazy(),
        None,
        &SourceNames::default(),
    )
    .unwrap()
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Decision rules with guardrails on per-user sums (compute seconds per returned user and the
/// latency p95, +10% each): what every way of collecting a report must add up the same.
pub fn cost_guardrail_rules() -> blendlab_experiments::DecisionRules {
    let increase = |metric: &str| blendlab_experiments::GuardrailDefinition {
        metric: metric.into(),
        max_relative_increase: Some(0.1),
        max_relative_decrease: None,
    };
    blendlab_experiments::DecisionRules::parse(
        None,
        &[
            increase("compute_s_per_returned_user"),
            increase("latency_p95_ms"),
        ],
        30,
    )
    .unwrap()
}

/// A UTC datetime column of microseconds.
pub fn timestamps(name: &str, values: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

/// Messages added one at a time, each user's conversation being one per UTC day (model `m` for
/// replies).
#[derive(Default)]
pub struct MessageLog {
    user_id: Vec<String>,
    conversation: Vec<String>,
    role: Vec<&'static str>,
    model: Vec<Option<&'static str>>,
    created: Vec<i64>,
}

impl MessageLog {
    pub fn push(&mut self, who: &str, at: i64, from_user: bool) {
        const DAY: i64 = 86_400_000_000;
        self.user_id.push(who.to_owned());
        self.conversation
            .push(format!("{who}-{}", at.div_euclid(DAY)));
        self.role.push(if from_user { "user" } else { "assistant" });
        self.model.push((!from_user).then_some("m"));
        self.created.push(at);
    }

    pub fn frame(self) -> DataFrame {
        DataFrame::new_infer_height(vec![
            Column::new("user_id".into(), self.user_id),
            Column::new("conversation_id".into(), self.conversation),
            Column::new("role".into(), self.role),
            Column::new("model".into(), self.model),
            timestamps("created_at", self.created),
        ])
        .unwrap()
    }
}
