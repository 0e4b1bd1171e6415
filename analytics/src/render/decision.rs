//! The decision section of the Markdown (and so HTML) report: each arm's verdict with its
//! reasons, then the guardrails tested against their non-inferiority margins.

use std::fmt::Write;

use super::{number, p_value};
use crate::report::{GuardrailStatus, Verdict};
use crate::Report;

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ship => "SHIP",
        Verdict::NoShip => "NO SHIP",
        Verdict::KeepRunning => "KEEP RUNNING",
    }
}

fn status_label(status: GuardrailStatus) -> &'static str {
    match status {
        GuardrailStatus::Pass => "pass",
        GuardrailStatus::Fail => "FAIL",
        GuardrailStatus::Inconclusive => "inconclusive",
        GuardrailStatus::NotMeasured => "not measured",
    }
}

fn signed_percent(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{:+.1}%", 100.0 * x))
}

pub fn decision(report: &Report, out: &mut String) {
    let _ = writeln!(out, "\n## Decision\n");
    for arm in &report.arms {
        let Some(decision) = &arm.decision else {
            continue;
        };
        let _ = writeln!(
            out,
            "**{}: {}** (primary metric `{}`)\n",
            arm.arm,
            verdict_label(decision.verdict),
            decision.primary_metric
        );
        for reason in &decision.reasons {
            let _ = writeln!(out, "- {reason}");
        }
        let _ = writeln!(out);
    }
    if report.arms.iter().all(|a| a.guardrail_tests.is_empty()) {
        let _ = writeln!(out, "No guardrails are defined.");
        return;
    }
    let _ = writeln!(
        out,
        "Guardrails: one-sided tests at 5% that the arm stays within the margin (gbstats' \
         non-inferiority test on the relative change; ratios of per-user sums).\n"
    );
    let _ = writeln!(
        out,
        "| arm | guardrail | allowed | arm value | control value | change | one-sided bound | p | status |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|");
    for arm in &report.arms {
        for test in &arm.guardrail_tests {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                arm.arm,
                test.metric,
                signed_percent(Some(test.harm.signed(test.margin))),
                number(test.arm_value, 4),
                number(test.control_value, 4),
                signed_percent(test.lift),
                signed_percent(test.bound),
                test.p_value.map_or_else(|| "–".to_owned(), p_value),
                status_label(test.status)
            );
        }
    }
}
