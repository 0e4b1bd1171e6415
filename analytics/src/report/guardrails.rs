//! Cost and health per arm: the paper's "cheaper" claim, measured.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::columns::{counts, floats, optional_counts, strings};
use crate::pipeline::guard;
use crate::schema::assignments as a;
use crate::AnalyticsError;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Guardrails {
    pub messages: u64,
    pub replies: u64,
    pub conversations: u64,
    /// Messages (both roles) per conversation.
    pub mean_conversation_length: Option<f64>,
    /// Users active on at least one day k >= 1.
    pub returned_users: u64,
    /// Reply latency percentiles (linear interpolation), when the log has `latency_ms`.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    /// Replies whose `finish_reason` is `error`, over replies, when the log has it.
    pub error_rate: Option<f64>,
    /// Prompt plus completion tokens per user of the arm.
    pub tokens_per_user: Option<f64>,
    /// Total reply latency in seconds over returned users: what a retained user costs in compute.
    pub compute_s_per_returned_user: Option<f64>,
}

/// Guardrails keyed by arm name, from the `pipeline::guardrails` frame.
pub fn read(
    df: &DataFrame,
    users_of: impl Fn(&str) -> u64,
) -> Result<Vec<(String, Guardrails)>, AnalyticsError> {
    let arms = strings(df, a::ARM)?;
    let messages = counts(df, guard::MESSAGES)?;
    let replies = counts(df, guard::REPLIES)?;
    let conversations = counts(df, guard::CONVERSATIONS)?;
    let returned = counts(df, guard::RETURNED_USERS)?;
    let p50 = floats(df, guard::LATENCY_P50)?;
    let p95 = floats(df, guard::LATENCY_P95)?;
    let latency_total = floats(df, guard::LATENCY_TOTAL)?;
    let tokens = floats(df, guard::TOKENS)?;
    let errors = optional_counts(df, guard::ERRORS)?;
    let has_tokens = df.column(guard::TOKENS).is_ok();
    let ratio = |num: f64, den: u64| (den > 0).then(|| num / den as f64);
    Ok(arms
        .into_iter()
        .enumerate()
        .map(|(i, arm)| {
            let users = users_of(&arm);
            let guardrails = Guardrails {
                messages: messages[i],
                replies: replies[i],
                conversations: conversations[i],
                mean_conversation_length: ratio(messages[i] as f64, conversations[i]),
                returned_users: returned[i],
                latency_p50_ms: p50[i],
                latency_p95_ms: p95[i],
                error_rate: errors.as_ref().and_then(|e| ratio(e[i] as f64, replies[i])),
                tokens_per_user: if has_tokens {
                    ratio(tokens[i].unwrap_or(0.0), users)
                } else {
                    None
                },
                compute_s_per_returned_user: latency_total[i]
                    .and_then(|ms| ratio(ms / 1000.0, returned[i])),
            };
            (arm, guardrails)
        })
        .collect())
}
