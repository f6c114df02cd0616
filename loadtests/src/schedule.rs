//! The open-loop arrival schedule and the correction for coordinated omission.
//!
//! Request `n` is due at `start + n / rate`, whatever happened to the requests before it, and
//! its latency is measured from that due time, not from when it was actually sent. A closed
//! loop (or an open loop that times from the send) waits politely while the server stalls and
//! so records one slow request where users would have seen hundreds; measuring from the due
//! time charges the stall to every request it held back.

use std::time::{Duration, Instant};

/// Constant-rate due times.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    interval_nanos: f64,
}

impl Schedule {
    /// A schedule of `rate_per_second` requests per second from `start`.
    ///
    /// # Panics
    /// If the rate is not positive and finite (the CLI refuses such rates first).
    pub fn new(start: Instant, rate_per_second: f64) -> Schedule {
        assert!(
            rate_per_second.is_finite() && rate_per_second > 0.0,
            "rate must be positive"
        );
        Schedule {
            start,
            interval_nanos: 1e9 / rate_per_second,
        }
    }

    /// When request `n` (counting from 0) is due.
    pub fn due(&self, n: u64) -> Instant {
        self.start + Duration::from_nanos((n as f64 * self.interval_nanos) as u64)
    }

    /// How many requests are due before `end`.
    pub fn due_before(&self, end: Instant) -> u64 {
        let span = end.saturating_duration_since(self.start).as_nanos() as f64;
        (span / self.interval_nanos).ceil() as u64
    }
}

/// The latency of a request due at `due` and answered at `completed`: from the due time, so
/// a request sent late because the connection was busy carries its wait.
pub fn corrected_latency(due: Instant, completed: Instant) -> Duration {
    completed.saturating_duration_since(due)
}
