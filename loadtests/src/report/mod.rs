//! Result files: the JSON record of a run (the source of truth), and the Markdown table and
//! SVG charts rendered from it; `compare` reads two JSON records.

mod compare;
mod json;
mod markdown;
mod svg;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use compare::{compare, render_comparison, ComparisonRow};
pub use json::{read_result, write_outputs, Machine, Metadata};
pub use markdown::markdown_table;
pub use svg::latency_chart;

/// One run of `ember-load run` (or `smoke`): what was measured, where and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub metadata: Metadata,
    pub scenarios: Vec<ScenarioResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A fixed number of clients, each sending its next request when the last is answered.
    Closed,
    /// Requests due at a constant rate, latency measured from the due time.
    Open,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub mode: Mode,
    /// Why the scenario was not timed: the server answered its check request wrongly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub steps: Vec<StepResult>,
}

/// One step of a sweep: a number of clients (closed loop) or a rate (open loop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// Closed loop: the clients; open loop: the connections the schedule is served over.
    pub clients: usize,
    /// Open loop only: the scheduled requests per second.
    pub rate: Option<f64>,
    /// Timed requests completed, failed ones included.
    pub requests: u64,
    pub duration_s: f64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Of successful requests; open loop: from each request's due time.
    pub latency_ms: LatencySummary,
    /// Failed requests by kind (`status 503`, `connect`, `io`, `timeout`).
    pub errors: BTreeMap<String, u64>,
    /// Open loop: requests due before the end that were never sent because every connection
    /// was still busy (the server fell behind the rate).
    pub unsent: u64,
    /// Open loop: latency from the moment the pacer released each request instead of its
    /// due time: the start `oha --latency-correction` measures from, for comparing the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_from_release_ms: Option<LatencySummary>,
    /// Open loop: mean time between a request's due time and its actual send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_send_lag_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl StepResult {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// How the step is named in tables and comparisons: `16 clients` or `2000/s`.
    pub fn label(&self) -> String {
        match self.rate {
            Some(rate) => format!("{rate}/s over {} connections", self.clients),
            None => format!("{} clients", self.clients),
        }
    }
}
