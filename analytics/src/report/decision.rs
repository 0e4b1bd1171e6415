//! The verdict per arm (`arms[].decision`): ship, no_ship or keep_running, from the primary
//! metric's always-valid interval, the sample-ratio check and the guardrails, with every reason.
//!
//! - a sample-ratio mismatch makes every comparison suspect: keep running (and fix the split);
//! - the primary metric worse by its always-valid interval, or a failed guardrail: no ship;
//! - the primary metric better by its always-valid interval and every guardrail passed: ship;
//! - anything else: keep running.
//!
//! Shipping needs every guardrail to pass, each at level 0.05: an intersection-union test, so the
//! chance of shipping past a harm at the margin stays at most 0.05 without a multiplicity
//! correction (Berger 1982).

use blendlab_experiments::{DecisionRules, PrimaryMetric};
use serde::{Deserialize, Serialize};

use super::guardrail_tests::{GuardrailStatus, GuardrailTest};
use super::{ArmReport, Srm};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ship,
    NoShip,
    KeepRunning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmDecision {
    pub verdict: Verdict,
    /// The metric the verdict rests on, e.g. `retention_d7`.
    pub primary_metric: String,
    /// One line per fact the verdict weighed: the split, the primary metric, each guardrail.
    pub reasons: Vec<String>,
}

/// How the primary metric reads by its always-valid 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Better,
    Worse,
    Unclear,
    NotYet,
}

/// The primary metric's always-valid interval, on its scale (a ratio for retention, where 1 is
/// no change; a difference for engagement, where 0 is), with the reading and its reason.
fn read_primary(primary: PrimaryMetric, arm: &ArmReport) -> (Reading, String) {
    let k = primary.day();
    let interval = match primary {
        PrimaryMetric::Retention(_) => arm
            .retention
            .iter()
            .find(|d| d.day == k)
            .and_then(|d| d.vs_control.as_ref())
            .map(|v| (v.seq_ci_low, v.seq_ci_high, 1.0, "ratio to control")),
        PrimaryMetric::TimeSpent(_) | PrimaryMetric::UserMessages(_) => arm
            .engagement
            .iter()
            .find(|d| d.day == k)
            .and_then(|d| match primary {
                PrimaryMetric::TimeSpent(_) => d.vs_control.as_ref(),
                _ => d.vs_control_user_messages.as_ref(),
            })
            .map(|v| (v.seq_ci_low, v.seq_ci_high, 0.0, "difference from control")),
    };
    let Some((low, high, no_change, scale)) = interval else {
        return (
            Reading::NotYet,
            format!("{primary}: not measurable yet (no comparison on day {k})"),
        );
    };
    let range = format!("always-valid 95% interval of the {scale} [{low:.4}, {high:.4}]");
    if low > no_change {
        (Reading::Better, format!("{primary} is better: {range}"))
    } else if high < no_change {
        (Reading::Worse, format!("{primary} is worse: {range}"))
    } else {
        (
            Reading::Unclear,
            format!("{primary} is not yet distinguishable from control: {range}"),
        )
    }
}

fn guardrail_reason(test: &GuardrailTest) -> String {
    let allowed = format!("{:+.1}% allowed", test.harm.signed(test.margin) * 100.0);
    let change = match (test.lift, test.bound) {
        // A failure is shown by the bound on the other side: the change is at least that bad.
        (Some(lift), Some(bound)) if test.status == GuardrailStatus::Fail => format!(
            "{:+.1}% (one-sided 95%: at least {:+.1}% in the harmful direction), {allowed}",
            lift * 100.0,
            (2.0 * lift - bound) * 100.0
        ),
        (Some(lift), Some(bound)) => format!(
            "{:+.1}% (one-sided 95% bound {:+.1}%), {allowed}",
            lift * 100.0,
            bound * 100.0
        ),
        _ => allowed,
    };
    let status = match test.status {
        GuardrailStatus::Pass => "passed",
        GuardrailStatus::Fail => "failed",
        GuardrailStatus::Inconclusive => "inconclusive",
        GuardrailStatus::NotMeasured => "not measured",
    };
    match &test.note {
        Some(note) => format!("guardrail {} {status}: {change}; {note}", test.metric),
        None => format!("guardrail {} {status}: {change}", test.metric),
    }
}

/// The verdict on `arm` from its guardrail tests and the report's split check.
pub fn decide(rules: &DecisionRules, arm: &ArmReport, srm: &Srm) -> ArmDecision {
    let mut reasons = Vec::new();
    if srm.warning {
        reasons.push(format!(
            "sample ratio mismatch (p = {:.2e}): the split differs from the configured weights, \
             so no comparison can be trusted until the assignment is fixed",
            srm.p_value
        ));
    }
    let (reading, primary_reason) = read_primary(rules.primary, arm);
    reasons.push(primary_reason);
    reasons.extend(arm.guardrail_tests.iter().map(guardrail_reason));
    let status_of =
        |wanted: GuardrailStatus| arm.guardrail_tests.iter().any(|t| t.status == wanted);
    let all_pass = arm
        .guardrail_tests
        .iter()
        .all(|t| t.status == GuardrailStatus::Pass);
    let verdict = if srm.warning {
        Verdict::KeepRunning
    } else if reading == Reading::Worse || status_of(GuardrailStatus::Fail) {
        Verdict::NoShip
    } else if reading == Reading::Better && all_pass {
        Verdict::Ship
    } else {
        Verdict::KeepRunning
    };
    ArmDecision {
        verdict,
        primary_metric: rules.primary.to_string(),
        reasons,
    }
}
