//! Latency percentiles against concurrency or rate, as a small hand-written SVG line chart.
//!
//! Hand-written rather than `plotters`: four polylines, two axes and a legend are about a
//! hundred lines of text, where plotters would bring a font stack and dozens of crates into a
//! tool that should build quickly beside the server.

use std::fmt::Write;

use super::{Mode, ScenarioResult, StepResult};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// Name, colour, and the value of a step.
type Series = (&'static str, &'static str, fn(&StepResult) -> f64);

const SERIES: [Series; 4] = [
    ("p50", "#1b9e77", |step| step.latency_ms.p50),
    ("p95", "#7570b3", |step| step.latency_ms.p95),
    ("p99", "#d95f02", |step| step.latency_ms.p99),
    ("p99.9", "#e7298a", |step| step.latency_ms.p999),
];

/// The chart of one scenario's steps, evenly spaced along x in the order they ran.
pub fn latency_chart(scenario: &ScenarioResult) -> String {
    let steps = &scenario.steps;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let y_max = nice_ceiling(
        steps
            .iter()
            .flat_map(|step| SERIES.iter().map(move |(_, _, value)| value(step)))
            .fold(0.0, f64::max),
    );
    let x = |index: usize| {
        if steps.len() <= 1 {
            LEFT + plot_width / 2.0
        } else {
            LEFT + plot_width * index as f64 / (steps.len() - 1) as f64
        }
    };
    let y = |value: f64| TOP + plot_height * (1.0 - value / y_max);
    let x_title = match scenario.mode {
        Mode::Closed => "clients",
        Mode::Open => "requests per second (scheduled)",
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}: latency percentiles (ms)</text>"#,
        WIDTH / 2.0,
        escape(&scenario.name)
    );
    // Axes, with five horizontal grid lines.
    let _ = writeln!(
        svg,
        r#"<path d="M{LEFT} {TOP} V{} H{}" fill="none" stroke="black"/>"#,
        TOP + plot_height,
        LEFT + plot_width
    );
    for tick in 0..=4 {
        let value = y_max * f64::from(tick) / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#ddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            y(value),
            LEFT + plot_width,
            LEFT - 6.0,
            y(value) + 4.0,
            format_number(value)
        );
    }
    for (index, step) in steps.iter().enumerate() {
        let label = match step.rate {
            Some(rate) => format_number(rate),
            None => step.clients.to_string(),
        };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{label}</text>"#,
            x(index),
            TOP + plot_height + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{x_title}</text>"#,
        LEFT + plot_width / 2.0,
        HEIGHT - 14.0
    );
    for (series_idx, (name, color, value)) in SERIES.iter().enumerate() {
        let points: Vec<String> = steps
            .iter()
            .enumerate()
            .map(|(index, step)| format!("{:.1},{:.1}", x(index), y(value(step))))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            points.join(" ")
        );
        for point in &points {
            let (cx, cy) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(svg, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
        }
        let legend_y = TOP + 10.0 + 20.0 * series_idx as f64;
        let legend_x = WIDTH - RIGHT + 20.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{name}</text>"#,
            legend_x + 20.0,
            legend_x + 26.0,
            legend_y + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The smallest 1, 2 or 5 × 10^k at or above `value`, so the axis ends on a round number.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

/// Axis ticks are quarters of 1, 2 or 5 × 10^k: whole, or with at most two decimals.
fn format_number(value: f64) -> String {
    if value == value.trunc() {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
