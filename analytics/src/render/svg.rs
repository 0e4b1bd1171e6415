//! A small SVG line chart: lines with optional confidence bands, axes and a legend.

use std::fmt::Write;

pub struct Line {
    pub label: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) of a confidence band drawn under the line.
    pub band: Vec<(f64, f64, f64)>,
}

pub const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// `reference`: a horizontal line (1.0 on ratio charts).
pub fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[Line],
    reference: Option<f64>,
) -> String {
    let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let ys = lines
        .iter()
        .flat_map(|l| {
            l.points
                .iter()
                .map(|p| p.1)
                .chain(l.band.iter().flat_map(|b| [b.1, b.2]))
        })
        .chain(reference);
    let (x_min, x_max) = bounds(xs);
    let (mut y_min, mut y_max) = bounds(ys);
    if y_max - y_min < 1e-12 {
        y_min -= 0.5;
        y_max += 0.5;
    }
    let pad = (y_max - y_min) * 0.05;
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    let sx = |x: f64| LEFT + (x - x_min) / (x_max - x_min) * (WIDTH - LEFT - RIGHT);
    let sy = |y: f64| TOP + (y_max - y) / (y_max - y_min) * (HEIGHT - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{}</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title),
        escape(title)
    );
    for i in 0..=4 {
        let y = y_min + (y_max - y_min) * i as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            sy(y),
            sy(y),
            LEFT - 6.0,
            sy(y) + 4.0,
            tick(y)
        );
    }
    let x_step = ((x_max - x_min) / 6.0).ceil().max(1.0);
    let mut x = x_min;
    while x <= x_max + 1e-9 {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
            sx(x),
            HEIGHT - BOTTOM + 16.0,
            tick(x)
        );
        x += x_step;
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#888"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#888"/>"##,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text><text transform="translate(14 {}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 6.0,
        escape(x_label),
        (TOP + HEIGHT - BOTTOM) / 2.0,
        escape(y_label)
    );
    if let Some(r) = reference {
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#444" stroke-dasharray="4 3"/>"##,
            WIDTH - RIGHT,
            sy(r),
            sy(r)
        );
    }
    for line in lines {
        if !line.band.is_empty() {
            let upper = line
                .band
                .iter()
                .map(|(x, _, hi)| format!("{:.1},{:.1}", sx(*x), sy(*hi)));
            let lower = line
                .band
                .iter()
                .rev()
                .map(|(x, lo, _)| format!("{:.1},{:.1}", sx(*x), sy(*lo)));
            let points: Vec<String> = upper.chain(lower).collect();
            let _ = write!(
                svg,
                r#"<polygon class="band" points="{}" fill="{}" fill-opacity="0.18"/>"#,
                points.join(" "),
                line.color
            );
        }
        let points: Vec<String> = line
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series" data-label="{}" points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            escape(&line.label),
            points.join(" "),
            line.color
        );
        for (x, y) in &line.points {
            let _ = write!(
                svg,
                r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                sx(*x),
                sy(*y),
                line.color
            );
        }
    }
    svg.push_str("</svg><div class=\"legend\">");
    for line in lines {
        let _ = write!(
            svg,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            line.color,
            escape(&line.label)
        );
    }
    svg.push_str("</div></figure>");
    svg
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
        .then_finite()
}

trait Finite {
    fn then_finite(self) -> (f64, f64);
}

impl Finite for (f64, f64) {
    fn then_finite(self) -> (f64, f64) {
        if self.0.is_finite() {
            self
        } else {
            (0.0, 1.0)
        }
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
