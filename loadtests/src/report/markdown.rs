//! The Markdown summary of a run: one row per scenario and step.

use std::fmt::Write;

use super::{Mode, RunResult};

/// A table of throughput, p50, p95, p99, max and errors, then the skipped scenarios with why.
pub fn markdown_table(result: &RunResult) -> String {
    let metadata = &result.metadata;
    let mut out = format!(
        "Run of {} {} against {} on {}, {} cores, kernel {}.\n\n",
        metadata.tool,
        metadata.tool_version,
        metadata.base_url,
        metadata.date,
        metadata.machine.cores,
        metadata.machine.kernel.as_deref().unwrap_or("unknown"),
    );
    out.push_str(
        "| Scenario | Mode | Step | Requests | Throughput (/s) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | Errors |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for scenario in &result.scenarios {
        let mode = match scenario.mode {
            Mode::Closed => "closed",
            Mode::Open => "open",
        };
        for step in &scenario.steps {
            let latency = &step.latency_ms;
            let errors = if step.errors.is_empty() {
                "0".to_owned()
            } else {
                step.errors
                    .iter()
                    .map(|(kind, count)| format!("{count} {kind}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {mode} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} |",
                scenario.name,
                step.label(),
                step.requests,
                step.throughput,
                latency.p50,
                latency.p95,
                latency.p99,
                latency.max,
            );
        }
    }
    let released: Vec<_> = result
        .scenarios
        .iter()
        .flat_map(|scenario| scenario.steps.iter().map(move |step| (scenario, step)))
        .filter_map(|(scenario, step)| Some((scenario, step, step.latency_from_release_ms?)))
        .collect();
    if !released.is_empty() {
        out.push_str(
            "\nOpen loop, latency from each request's release by the pacer instead of its due \
             time (the start `oha --latency-correction` uses; the difference is the load \
             generator's own lateness):\n\n",
        );
        out.push_str("| Scenario | Step | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for (scenario, step, latency) in released {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                scenario.name,
                step.label(),
                latency.p50,
                latency.p95,
                latency.p99,
                latency.max,
            );
        }
    }
    let skipped: Vec<_> = result
        .scenarios
        .iter()
        .filter_map(|scenario| Some((&scenario.name, scenario.skipped.as_ref()?)))
        .collect();
    if !skipped.is_empty() {
        out.push_str("\nSkipped (the server answered the check request wrongly):\n\n");
        for (name, reason) in skipped {
            let _ = writeln!(out, "- {name}: {reason}");
        }
    }
    out
}
