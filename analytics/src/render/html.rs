use std::fmt::Write;

use super::svg::{chart, escape, Line, PALETTE};
use super::{markdown, p_value};
use crate::report::ArmReport;
use crate::Report;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse;margin:8px 0;font-size:13px}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}\
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}svg{width:100%;height:auto}\
.legend span{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\
.warning{background:#fde2e1;padding:8px;border-left:4px solid #d62728}";

/// A page that opens anywhere: the charts are inline SVG, the tables come from the Markdown.
pub fn html(report: &Report) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} report as of {}</title><style>{STYLE}</style></head><body>",
        escape(&report.experiment),
        report.as_of
    );
    let _ = write!(
        page,
        "<h1>{}: retention report as of {}</h1>",
        escape(&report.experiment),
        report.as_of
    );
    if report.srm.warning {
        let _ = write!(
            page,
            "<p class=\"warning\">Sample ratio mismatch (p = {}): the split differs from the configured weights.</p>",
            p_value(report.srm.p_value)
        );
    }
    page.push_str("<div class=\"charts\">");
    page.push_str(&chart(
        "Day-k retention",
        "day since exposure",
        "retained share",
        &retention_lines(report),
        None,
    ));
    page.push_str(&chart(
        "Retention ratio to control (95% CI)",
        "day since exposure",
        "ratio",
        &ratio_lines(report),
        Some(1.0),
    ));
    page.push_str(&chart(
        "Time spent per active user",
        "day since exposure",
        "seconds",
        &engagement_lines(report, true),
        None,
    ));
    page.push_str(&chart(
        "User messages per active user",
        "day since exposure",
        "messages",
        &engagement_lines(report, false),
        None,
    ));
    page.push_str("</div>");
    page.push_str(&markdown_tables_to_html(&markdown(report)));
    page.push_str("</body></html>");
    page
}

fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// One line per arm, with the points `points` reads off that arm.
fn arm_lines(report: &Report, points: impl Fn(&ArmReport) -> Vec<(f64, f64)>) -> Vec<Line> {
    report
        .arms
        .iter()
        .enumerate()
        .map(|(i, arm)| Line {
            label: arm.arm.clone(),
            color: color(i),
            points: points(arm),
            band: Vec::new(),
        })
        .collect()
}

fn retention_lines(report: &Report) -> Vec<Line> {
    arm_lines(report, |arm| {
        arm.retention
            .iter()
            .filter_map(|d| d.rate.map(|r| (d.day as f64, r)))
            .collect()
    })
}

fn ratio_lines(report: &Report) -> Vec<Line> {
    report
        .arms
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, arm)| {
            let days = arm
                .retention
                .iter()
                .filter_map(|d| d.vs_control.as_ref().map(|v| (d.day as f64, v)));
            Line {
                label: format!("{} / {}", arm.arm, report.control),
                color: color(i),
                points: days.clone().map(|(k, v)| (k, v.ratio)).collect(),
                band: days.map(|(k, v)| (k, v.ci_low, v.ci_high)).collect(),
            }
        })
        .collect()
}

fn engagement_lines(report: &Report, time: bool) -> Vec<Line> {
    arm_lines(report, |arm| {
        arm.engagement
            .iter()
            .filter_map(|d| {
                if time {
                    d.mean_time_spent_s
                } else {
                    d.mean_user_messages
                }
                .map(|v| (d.day as f64, v))
            })
            .collect()
    })
}

/// Converts the Markdown's headings, paragraphs and pipe tables: the same words in both formats.
fn markdown_tables_to_html(markdown: &str) -> String {
    let mut html = String::new();
    let mut in_table = false;
    let mut in_list = false;
    let mut header = true;
    for line in markdown.lines() {
        if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                html.push_str("<ul>");
                in_list = true;
            }
            let _ = write!(html, "<li>{}</li>", escape(&item.replace('`', "")));
            continue;
        }
        if in_list {
            html.push_str("</ul>");
            in_list = false;
        }
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            if !in_table {
                html.push_str("<table>");
                in_table = true;
                header = true;
            }
            let cell = if header { "th" } else { "td" };
            html.push_str("<tr>");
            for text in line.trim_matches('|').split(" | ") {
                let _ = write!(html, "<{cell}>{}</{cell}>", escape(text.trim()));
            }
            html.push_str("</tr>");
            header = false;
            continue;
        }
        if in_table {
            html.push_str("</table>");
            in_table = false;
        }
        if let Some(title) = line.strip_prefix("## ") {
            let _ = write!(html, "<h2>{}</h2>", escape(title));
        } else if line.starts_with("# ") || line.trim().is_empty() {
            continue;
        } else {
            let _ = write!(
                html,
                "<p>{}</p>",
                escape(&line.replace("**", "").replace('`', ""))
            );
        }
    }
    if in_table {
        html.push_str("</table>");
    }
    if in_list {
        html.push_str("</ul>");
    }
    html
}
