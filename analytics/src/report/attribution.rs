//! Per-component signals inside an arm: what a learned blend policy would learn from.

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::columns::{counts, floats, optional_counts, strings};
use crate::pipeline::attribution_columns as at;
use crate::schema::{assignments as a, messages as m};
use crate::stats::{two_sided_z, ALPHA};
use crate::AnalyticsError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComponentAttribution {
    pub model: String,
    pub replies: u64,
    /// This component's share of the arm's replies (1/3 each under the paper's uniform blend).
    pub share: f64,
    /// Replies followed by a user message in the same conversation within 30 minutes.
    pub continuation: RateEstimate,
    /// Characters of that next user message, when the log has `content_chars`.
    pub next_user_message_chars: Option<MeanEstimate>,
    /// Replies with a `retry` event, when events carry `message_id`.
    pub retry: Option<RateEstimate>,
    /// Mean `value` of `feedback` events on the reply.
    pub feedback: Option<MeanEstimate>,
}

/// A proportion with its 95% Wilson score interval (Wilson 1927), which stays inside [0, 1]
/// and behaves at small n and near 0 or 1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateEstimate {
    pub n: u64,
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// A mean with its 95% t interval `mean +- t_{n-1} s / sqrt(n)`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeanEstimate {
    pub n: u64,
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

pub fn wilson(successes: u64, n: u64) -> Option<RateEstimate> {
    if n == 0 {
        return None;
    }
    let (nf, p) = (n as f64, successes as f64 / n as f64);
    let z = two_sided_z(ALPHA);
    let center = (p + z * z / (2.0 * nf)) / (1.0 + z * z / nf);
    let half = z / (1.0 + z * z / nf) * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt();
    Some(RateEstimate {
        n,
        rate: p,
        ci_low: center - half,
        ci_high: center + half,
    })
}

pub fn mean_estimate(mean: Option<f64>, variance: Option<f64>, n: u64) -> Option<MeanEstimate> {
    let mean = mean?;
    if n < 2 {
        return Some(MeanEstimate {
            n,
            mean,
            ci_low: mean,
            ci_high: mean,
        });
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(1.0 - ALPHA / 2.0);
    let half = t * (variance.unwrap_or(0.0) / n as f64).sqrt();
    Some(MeanEstimate {
        n,
        mean,
        ci_low: mean - half,
        ci_high: mean + half,
    })
}

/// Attribution rows keyed by arm, from the `pipeline::attribution` frame.
pub fn read(df: &DataFrame) -> Result<Vec<(String, ComponentAttribution)>, AnalyticsError> {
    let arms = strings(df, a::ARM)?;
    let models = strings(df, m::MODEL)?;
    let replies = counts(df, at::REPLIES)?;
    let continued = counts(df, at::CONTINUED)?;
    let next_mean = floats(df, at::NEXT_CHARS_MEAN)?;
    let next_var = floats(df, at::NEXT_CHARS_VAR)?;
    let next_n = counts(df, at::NEXT_CHARS_N)?;
    let retried = optional_counts(df, at::RETRIED)?;
    let feedback_mean = floats(df, at::FEEDBACK_MEAN)?;
    let feedback_var = floats(df, at::FEEDBACK_VAR)?;
    let feedback_n = counts(df, at::FEEDBACK_N)?;
    let mut rows = Vec::with_capacity(arms.len());
    for (i, arm) in arms.iter().enumerate() {
        let arm_replies: u64 = arms
            .iter()
            .zip(&replies)
            .filter(|(x, _)| *x == arm)
            .map(|(_, r)| r)
            .sum();
        let Some(continuation) = wilson(continued[i], replies[i]) else {
            continue;
        };
        rows.push((
            arm.clone(),
            ComponentAttribution {
                model: models[i].clone(),
                replies: replies[i],
                share: replies[i] as f64 / arm_replies.max(1) as f64,
                continuation,
                next_user_message_chars: mean_estimate(next_mean[i], next_var[i], next_n[i]),
                retry: retried.as_ref().and_then(|r| wilson(r[i], replies[i])),
                feedback: mean_estimate(feedback_mean[i], feedback_var[i], feedback_n[i]),
            },
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_statsmodels_proportion_confint() {
        // statsmodels.stats.proportion.proportion_confint(30, 100, method="wilson")
        let estimate = wilson(30, 100).unwrap();
        assert!(
            (estimate.ci_low - 0.21894885294932756).abs() < 1e-9,
            "{estimate:?}"
        );
        assert!(
            (estimate.ci_high - 0.39584854633346667).abs() < 1e-9,
            "{estimate:?}"
        );
    }
}
