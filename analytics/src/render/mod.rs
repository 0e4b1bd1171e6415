//! The report as Markdown and as a self-contained HTML page (inline SVG charts, no scripts, no
//! network), next to the JSON contract.

mod components;
mod cuped;
mod decision;
mod html;
mod markdown;
mod segments;
mod svg;

pub use html::html;
pub use markdown::markdown;

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{:.1}%", 100.0 * x))
}

fn number(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{x:.decimals$}"))
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// The days a reader looks at first.
const HEADLINE_DAYS: [u32; 5] = [1, 3, 7, 14, 30];
