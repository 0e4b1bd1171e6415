//! The CUPED section: each headline day's difference adjusted for pre-exposure covariates,
//! beside the unadjusted one.

use std::fmt::Write as _;

use super::{p_value, HEADLINE_DAYS};
use crate::report::{CupedVsControl, Report};

/// Writes the section; nothing when no arm has an adjusted comparison.
pub fn cuped(report: &Report, out: &mut String) {
    let mut rows = Vec::new();
    for arm in report.arms.iter().skip(1) {
        let headline = |day: u32| day == 0 || HEADLINE_DAYS.contains(&day);
        for day in arm.retention.iter().filter(|d| headline(d.day)) {
            if let Some(v) = &day.vs_control {
                rows.extend(row(&arm.arm, day.day, "retention", v.diff, v.cuped, 100.0));
            }
        }
        for day in arm.engagement.iter().filter(|d| headline(d.day)) {
            if let Some(v) = &day.vs_control {
                rows.extend(row(
                    &arm.arm,
                    day.day,
                    "time spent (s)",
                    v.diff,
                    v.cuped,
                    1.0,
                ));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## CUPED (adjusted for pre-exposure activity and attributes)\n"
    );
    let _ = writeln!(
        out,
        "| arm | day | metric | diff | adjusted diff (95% CI) | p | variance reduction |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---|---:|---:|");
    for line in rows {
        let _ = writeln!(out, "{line}");
    }
}

/// A table row; retention differences in percentage points (`scale` 100).
fn row(
    arm: &str,
    day: u32,
    metric: &str,
    diff: f64,
    cuped: Option<CupedVsControl>,
    scale: f64,
) -> Option<String> {
    let c = cuped?;
    let unit = if scale == 100.0 { " pp" } else { "" };
    Some(format!(
        "| {arm} | {day} | {metric} | {:+.2}{unit} | {:+.2}{unit} ({:+.2} to {:+.2}) | {} | {:.1}% |",
        scale * diff,
        scale * c.diff,
        scale * c.ci_low,
        scale * c.ci_high,
        p_value(c.p_value),
        100.0 * c.variance_reduction
    ))
}
