//! The segments section: per attribute and value, each arm on the primary metric (the metric the
//! heterogeneity test is on), with the p-value corrected across the attribute's values.

use std::fmt::Write as _;

use blendlab_experiments::PrimaryMetric;

use super::{number, p_value, percent};
use crate::report::{ArmReport, Report, Segment};

/// Writes the section; nothing when the report has no segments.
pub fn segments(report: &Report, out: &mut String) {
    let Some(first) = report.segments.first() else {
        return;
    };
    let Ok(metric) = PrimaryMetric::parse(&first.heterogeneity_metric, report.window_days) else {
        return;
    };
    let _ = writeln!(out, "\n## Segments ({metric} per attribute value)\n");
    let _ = writeln!(
        out,
        "p (Holm) corrects across the attribute's values; heterogeneity p tests whether the effect differs between them.\n"
    );
    let _ = writeln!(
        out,
        "| attribute | value | arm | users | {metric} | vs control (95% CI) | p | p (Holm) | heterogeneity p |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---|---:|---:|---:|");
    for segment in &report.segments {
        for arm in &segment.arms {
            let _ = writeln!(out, "{}", row(segment, arm, metric));
        }
    }
}

fn row(segment: &Segment, arm: &ArmReport, metric: PrimaryMetric) -> String {
    let day = metric.day() as usize;
    let value = if segment.value.is_empty() {
        "(none)"
    } else {
        segment.value.as_str()
    };
    let (shown, comparison) = match metric {
        PrimaryMetric::Retention(_) => {
            let d = &arm.retention[day];
            let vs = d.vs_control.as_ref().map(|v| {
                (
                    format!("ratio {:.3} ({:.3}–{:.3})", v.ratio, v.ci_low, v.ci_high),
                    v.p_value,
                    v.p_value_adjusted,
                )
            });
            (percent(d.rate), vs)
        }
        PrimaryMetric::TimeSpent(_) | PrimaryMetric::UserMessages(_) => {
            let d = &arm.engagement[day];
            let (mean, vs) = match metric {
                PrimaryMetric::TimeSpent(_) => (d.mean_time_spent_s, d.vs_control.as_ref()),
                _ => (d.mean_user_messages, d.vs_control_user_messages.as_ref()),
            };
            let vs = vs.map(|v| {
                (
                    format!("{:+.2} ({:+.2} to {:+.2})", v.diff, v.ci_low, v.ci_high),
                    v.p_value,
                    v.p_value_adjusted,
                )
            });
            (number(mean, 2), vs)
        }
    };
    let (interval, p, holm) = comparison.map_or_else(
        || ("–".to_owned(), "–".to_owned(), "–".to_owned()),
        |(interval, p, holm)| (interval, p_value(p), p_value(holm)),
    );
    let heterogeneity = segment
        .heterogeneity_p_value
        .map_or_else(|| "–".to_owned(), p_value);
    format!(
        "| {} | {value} | {} | {} | {shown} | {interval} | {p} | {holm} | {heterogeneity} |",
        segment.attribute, arm.arm, arm.users
    )
}
