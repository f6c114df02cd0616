//! Progress on the terminal while a phase runs: one line per second on stderr with elapsed
//! time, requests, current rate and errors, so a long sweep is visibly alive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Counters the workers bump and the progress line reads.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) requests: AtomicU64,
    pub(crate) failures: AtomicU64,
}

impl Live {
    pub(crate) fn count(&self, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Prints a line each second until aborted (the caller aborts it when the phase ends).
pub(crate) fn report_each_second(label: String, live: Arc<Live>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        let mut previous = 0;
        loop {
            ticks.tick().await;
            let requests = live.requests.load(Ordering::Relaxed);
            eprintln!(
                "{label}: {:>4.0}s {requests:>9} requests {:>8}/s {} errors",
                start.elapsed().as_secs_f64(),
                requests - previous,
                live.failures.load(Ordering::Relaxed)
            );
            previous = requests;
        }
    })
}
