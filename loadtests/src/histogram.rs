//! What one worker records during one step: latencies in an HDR histogram and failures by
//! kind. Each worker owns its recorder, so recording takes no lock; a step merges them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::client::Failure;
use crate::report::{LatencySummary, StepResult};

/// One hour, in microseconds: a larger latency is recorded as one hour.
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// Latencies (microseconds, 3 significant digits: 0.1% error) and failures.
#[derive(Debug, Clone)]
pub struct Recorder {
    histogram: Histogram<u64>,
    /// Open loop: latencies from the moment the pacer released each request rather than
    /// from its due time, the start `oha --latency-correction` uses. The difference is the
    /// generator's own lateness in releasing requests; kept apart so the two tools can be
    /// compared like for like (docs/benchmarks.md, "ember-load against oha").
    from_release: Histogram<u64>,
    failures: BTreeMap<String, u64>,
    /// Sum of (actual send − due time) over timed open-loop requests: the load generator's
    /// own lateness (timer granularity, busy connections), reported so it is not mistaken
    /// for the server's.
    send_lag: Duration,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            histogram: new_histogram(),
            from_release: new_histogram(),
            failures: BTreeMap::new(),
            send_lag: Duration::ZERO,
        }
    }

    /// Records one answered request's latency.
    pub fn record(&mut self, latency: Duration) {
        record_into(&mut self.histogram, latency);
    }

    /// Open loop: records an answered request's latency from its release (see `from_release`).
    pub(crate) fn record_from_release(&mut self, latency: Duration) {
        record_into(&mut self.from_release, latency);
    }

    pub(crate) fn record_failure(&mut self, failure: Failure) {
        self.count_failure(failure.to_string());
    }

    pub(crate) fn count_failure(&mut self, kind: String) {
        *self.failures.entry(kind).or_default() += 1;
    }

    pub(crate) fn record_send_lag(&mut self, lag: Duration) {
        self.send_lag += lag;
    }

    pub fn merge(&mut self, other: &Recorder) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms with the same bounds merge");
        self.from_release
            .add(&other.from_release)
            .expect("histograms with the same bounds merge");
        for (kind, count) in &other.failures {
            *self.failures.entry(kind.clone()).or_default() += count;
        }
        self.send_lag += other.send_lag;
    }

    /// Requests that succeeded: only they have a latency, since a refused connection or an
    /// error status says nothing about how fast the server serves.
    pub fn successes(&self) -> u64 {
        self.histogram.len()
    }

    pub fn failures(&self) -> u64 {
        self.failures.values().sum()
    }

    pub fn latency(&self) -> LatencySummary {
        summary(&self.histogram)
    }

    /// The step's line in the result file.
    pub(crate) fn summarize(
        &self,
        clients: usize,
        rate: Option<f64>,
        measured: Duration,
        unsent: u64,
    ) -> StepResult {
        let successes = self.successes();
        let seconds = measured.as_secs_f64();
        StepResult {
            clients,
            rate,
            requests: successes + self.failures(),
            duration_s: seconds,
            throughput: if seconds > 0.0 {
                successes as f64 / seconds
            } else {
                0.0
            },
            latency_ms: self.latency(),
            errors: self.failures.clone(),
            unsent,
            latency_from_release_ms: rate
                .filter(|_| !self.from_release.is_empty())
                .map(|_| summary(&self.from_release)),
            mean_send_lag_ms: rate.map(|_| {
                if successes == 0 {
                    0.0
                } else {
                    self.send_lag.as_secs_f64() * 1000.0 / successes as f64
                }
            }),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("constant histogram bounds are valid")
}

fn record_into(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.max(1));
}

fn summary(histogram: &Histogram<u64>) -> LatencySummary {
    let millis = |micros: u64| micros as f64 / 1000.0;
    let at = |quantile: f64| millis(histogram.value_at_quantile(quantile));
    LatencySummary {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        p999: at(0.999),
        max: millis(histogram.max()),
        mean: histogram.mean() / 1000.0,
    }
}
