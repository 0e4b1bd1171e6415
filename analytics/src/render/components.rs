//! The blend components section of the Markdown (and so HTML) report: each component's
//! outcomes with user-clustered intervals and its difference from the arm's other replies, then
//! a "what if" table of candidate blend policies' off-policy values against the logged policy.

use std::fmt::Write;

use super::{number, p_value, percent};
use crate::report::{ArmReport, OutcomeEstimate};
use crate::Report;

pub fn components(report: &Report, out: &mut String) {
    let _ = writeln!(out, "\n## Blend components\n");
    let _ = writeln!(
        out,
        "Each reply's component is drawn at random, so these are causal effects on the turn; \
         intervals are 95% and user-clustered, `vs rest` is the component minus the arm's other \
         replies (Holm-adjusted p across components and outcomes).\n"
    );
    let _ = writeln!(
        out,
        "| arm | model | replies | users | continuation (95% CI) | vs rest (adj. p) | next message chars | retry | feedback |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---|---|---:|---:|---:|");
    for arm in &report.arms {
        for c in &arm.attribution {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                arm.arm,
                c.model,
                c.replies,
                c.users,
                rate_with_interval(&c.continuation),
                vs_rest(&c.continuation),
                number(c.next_user_message_chars.as_ref().map(|m| m.mean), 1),
                percent(c.retry.as_ref().map(|r| r.mean)),
                number(c.feedback.as_ref().map(|f| f.mean), 2)
            );
        }
    }
    for arm in report.arms.iter().filter(|a| a.models.len() > 1) {
        what_if(arm, out);
    }
}

fn rate_with_interval(e: &OutcomeEstimate) -> String {
    format!(
        "{} ({}–{})",
        percent(Some(e.mean)),
        percent(e.ci_low),
        percent(e.ci_high)
    )
}

fn vs_rest(e: &OutcomeEstimate) -> String {
    e.vs_rest.as_ref().map_or_else(
        || "–".to_owned(),
        |v| {
            format!(
                "{:+.1} pp ({:+.1} to {:+.1}; p = {})",
                100.0 * v.diff,
                100.0 * v.ci_low,
                100.0 * v.ci_high,
                p_value(v.p_value_adjusted)
            )
        },
    )
}

/// Candidate policies' continuation on the arm's logged turns, by IPS, SNIPS and DR.
fn what_if(arm: &ArmReport, out: &mut String) {
    let _ = writeln!(
        out,
        "\n### What if: other blend policies in `{}`\n",
        arm.arm
    );
    let Some(values) = &arm.policy_values else {
        let reason = arm
            .policy_values_reason
            .as_deref()
            .unwrap_or("not available");
        let _ = writeln!(out, "No off-policy values: {reason}.");
        return;
    };
    let replies: u64 = arm.attribution.iter().map(|c| c.replies).sum();
    let continued: f64 = arm
        .attribution
        .iter()
        .map(|c| c.continuation.mean * c.continuation.n as f64)
        .sum();
    let _ = writeln!(
        out,
        "Logged policy: continuation {} over {replies} replies.\n",
        percent(Some(continued / replies.max(1) as f64))
    );
    let _ = writeln!(
        out,
        "| policy | IPS (95% CI) | SNIPS (95% CI) | DR (95% CI) | effective sample |"
    );
    let _ = writeln!(out, "|---|---|---|---|---:|");
    let mut policies: Vec<&str> = Vec::new();
    for v in values {
        if !policies.contains(&v.policy.as_str()) {
            policies.push(&v.policy);
        }
    }
    for policy in policies {
        let cell = |estimator: &str| {
            values
                .iter()
                .find(|v| v.policy == policy && v.estimator == estimator)
                .map_or_else(
                    || "–".to_owned(),
                    |v| {
                        format!(
                            "{} ({}–{})",
                            percent(Some(v.value)),
                            percent(Some(v.ci_low)),
                            percent(Some(v.ci_high))
                        )
                    },
                )
        };
        let ess = values.iter().find(|v| v.policy == policy).map(|v| v.ess);
        let _ = writeln!(
            out,
            "| `{policy}` | {} | {} | {} | {} |",
            cell("ips"),
            cell("snips"),
            cell("dr"),
            number(ess, 0)
        );
    }
}
