//! `compare A.json B.json`: for each scenario and step present in both runs, the ratios B / A
//! of throughput and latency percentiles.

use std::fmt::Write;

use super::{RunResult, StepResult};

/// One scenario step measured in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    pub scenario: String,
    pub step: String,
    /// B's throughput / A's: above 1 means B served more.
    pub throughput_ratio: f64,
    /// B's latency / A's: below 1 means B answered faster.
    pub p50_ratio: f64,
    pub p99_ratio: f64,
    pub max_ratio: f64,
}

/// The steps both runs measured, matched by scenario name, clients and rate, in A's order.
pub fn compare(a: &RunResult, b: &RunResult) -> Vec<ComparisonRow> {
    let mut rows = Vec::new();
    for scenario_a in &a.scenarios {
        let Some(scenario_b) = b.scenarios.iter().find(|candidate| {
            candidate.name == scenario_a.name && candidate.mode == scenario_a.mode
        }) else {
            continue;
        };
        for step_a in &scenario_a.steps {
            let Some(step_b) = scenario_b.steps.iter().find(|step| same_step(step, step_a)) else {
                continue;
            };
            rows.push(ComparisonRow {
                scenario: scenario_a.name.clone(),
                step: step_a.label(),
                throughput_ratio: ratio(step_b.throughput, step_a.throughput),
                p50_ratio: ratio(step_b.latency_ms.p50, step_a.latency_ms.p50),
                p99_ratio: ratio(step_b.latency_ms.p99, step_a.latency_ms.p99),
                max_ratio: ratio(step_b.latency_ms.max, step_a.latency_ms.max),
            });
        }
    }
    rows
}

fn same_step(one: &StepResult, other: &StepResult) -> bool {
    one.clients == other.clients && one.rate == other.rate
}

/// `b / a`; NaN when `a` is zero, printed as `n/a`.
fn ratio(b: f64, a: f64) -> f64 {
    if a == 0.0 {
        f64::NAN
    } else {
        b / a
    }
}

/// The comparison as a Markdown table, headed by what was compared.
pub fn render_comparison(a: &RunResult, b: &RunResult, rows: &[ComparisonRow]) -> String {
    let mut out = format!(
        "A: {} ({})\nB: {} ({})\nRatios are B / A.\n\n",
        a.metadata.base_url, a.metadata.date, b.metadata.base_url, b.metadata.date
    );
    out.push_str("| Scenario | Step | Throughput | p50 | p99 | max |\n|---|---|---|---|---|---|\n");
    let show = |value: f64| {
        if value.is_nan() {
            "n/a".to_owned()
        } else {
            format!("{value:.2}")
        }
    };
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.step,
            show(row.throughput_ratio),
            show(row.p50_ratio),
            show(row.p99_ratio),
            show(row.max_ratio)
        );
    }
    if rows.is_empty() {
        out.push_str("\nNo scenario step was measured in both runs.\n");
    }
    out
}
