use std::fmt::Write;

use super::{number, p_value, percent, HEADLINE_DAYS};
use crate::Report;

pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}: retention report as of {}\n",
        report.experiment, report.as_of
    );
    let _ = writeln!(
        out,
        "Control: `{}`. Window: {} days after exposure. First exposure: {}.\n",
        report.control, report.window_days, report.start
    );
    let srm = &report.srm;
    let verdict = if srm.warning {
        "**WARNING: sample ratio mismatch; treat comparisons as suspect.**"
    } else {
        "no mismatch"
    };
    let _ = writeln!(
        out,
        "Sample ratio: p = {} ({verdict})\n",
        p_value(srm.p_value)
    );
    let _ = writeln!(
        out,
        "| arm | users | expected share | observed share |\n|---|---:|---:|---:|"
    );
    for arm in &srm.arms {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} |",
            arm.arm, arm.users, arm.expected_share, arm.observed_share
        );
    }
    super::decision::decision(report, &mut out);
    let _ = writeln!(out, "\n## Retention\n");
    let _ = writeln!(out, "| arm | day | eligible | retained | rate | ratio vs control (95% CI) | p | p (Holm) | always-valid CI | p (seq) | chance to win | risk (lift) |");
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|"
    );
    for arm in &report.arms {
        for day in arm
            .retention
            .iter()
            .filter(|d| d.day == 0 || HEADLINE_DAYS.contains(&d.day))
        {
            let comparison = day.vs_control.as_ref().map_or_else(
                || "| – | – | – | – | – | – | – |".to_owned(),
                |v| {
                    let (chance, risk) = v.bayes.as_ref().map_or_else(
                        || ("–".to_owned(), "–".to_owned()),
                        |b| {
                            (
                                format!("{:.1}%", 100.0 * b.chance_to_win),
                                format!("{:.4}", b.expected_loss),
                            )
                        },
                    );
                    format!(
                        "| {:.3} ({:.3}–{:.3}) | {} | {} | {:.3}–{:.3} | {} | {chance} | {risk} |",
                        v.ratio,
                        v.ci_low,
                        v.ci_high,
                        p_value(v.p_value),
                        p_value(v.p_value_adjusted),
                        v.seq_ci_low,
                        v.seq_ci_high,
                        p_value(v.seq_p_value)
                    )
                },
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} {comparison}",
                arm.arm,
                day.day,
                day.eligible,
                day.retained,
                percent(day.rate)
            );
        }
    }
    super::cuped::cuped(report, &mut out);
    super::segments::segments(report, &mut out);
    let _ = writeln!(out, "\n## Engagement (per active user)\n");
    let _ = writeln!(out, "| arm | day | active | time spent (s) | user messages | time diff vs control (95% CI) | p |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---:|");
    for arm in &report.arms {
        for day in arm
            .engagement
            .iter()
            .filter(|d| d.day == 0 || HEADLINE_DAYS.contains(&d.day))
        {
            let comparison = day.vs_control.as_ref().map_or_else(
                || "| – | – |".to_owned(),
                |v| {
                    format!(
                        "| {:+.1} ({:+.1} to {:+.1}) | {} |",
                        v.diff,
                        v.ci_low,
                        v.ci_high,
                        p_value(v.p_value)
                    )
                },
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} {comparison}",
                arm.arm,
                day.day,
                day.active,
                number(day.mean_time_spent_s, 1),
                number(day.mean_user_messages, 2)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Ratio curves: power-law fit ratio(k) = c k^-beta\n"
    );
    let _ = writeln!(
        out,
        "| arm | metric | c (95% CI) | beta (95% CI) | days |\n|---|---|---|---|---:|"
    );
    for arm in report.arms.iter().skip(1) {
        for (metric, fit) in [
            ("retention", &arm.power_law.retention),
            ("time spent", &arm.power_law.time_spent),
        ] {
            if let Some(fit) = fit {
                let _ = writeln!(
                    out,
                    "| {} | {metric} | {:.3} ({:.3}–{:.3}) | {:.3} ({:.3}–{:.3}) | {} |",
                    arm.arm,
                    fit.c,
                    fit.c_ci_low,
                    fit.c_ci_high,
                    fit.beta,
                    fit.beta_ci_low,
                    fit.beta_ci_high,
                    fit.points
                );
            }
        }
    }
    let _ = writeln!(out, "\n## Guardrails and cost\n");
    let _ = writeln!(out, "| arm | messages | conversations | msgs/conversation | latency p50 / p95 (ms) | error rate | tokens/user | compute s / returned user |");
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---:|---:|");
    for arm in &report.arms {
        let g = &arm.guardrails;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} / {} | {} | {} | {} |",
            arm.arm,
            g.messages,
            g.conversations,
            number(g.mean_conversation_length, 2),
            number(g.latency_p50_ms, 0),
            number(g.latency_p95_ms, 0),
            percent(g.error_rate),
            number(g.tokens_per_user, 0),
            number(g.compute_s_per_returned_user, 1)
        );
    }
    super::components::components(report, &mut out);
    out
}
