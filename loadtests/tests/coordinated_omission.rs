//! The open loop's correction for coordinated omission: latency runs from each request's due
//! time, so a server stall is charged to every request it held back, not just the one that
//! was in flight. Only lower bounds are asserted: a slower machine only adds latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use loadtests::histogram::Recorder;
use loadtests::run::{run, RunPlan};
use loadtests::schedule::{corrected_latency, Schedule};
use loadtests::target::Target;
use loadtests::Mode;

use crate::support::serve;

const STALL: Duration = Duration::from_millis(300);

/// A server whose reads answer at once except the `stall_at`-th, which takes [`STALL`].
fn stalling_server(stall_at: u64) -> Router {
    let reads = Arc::new(AtomicU64::new(0));
    Router::new()
        .route(
            "/fhir/Patient",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [(header::LOCATION, "http://fake/fhir/Patient/p1/_history/1")],
                    r#"{"resourceType":"Patient","id":"p1"}"#,
                )
            }),
        )
        .route(
            "/fhir/Patient/{id}",
            get(move |Path(id): Path<String>| {
                let reads = Arc::clone(&reads);
                async move {
                    if reads.fetch_add(1, Ordering::Relaxed) == stall_at {
                        tokio::time::sleep(STALL).await;
                    }
                    format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#)
                }
            }),
        )
}

#[test]
fn due_times_are_evenly_spaced_from_the_start() {
    let start = Instant::now();
    let schedule = Schedule::new(start, 1_000.0);
    assert_eq!(schedule.due(0), start);
    assert_eq!(schedule.due(1) - start, Duration::from_millis(1));
    assert_eq!(schedule.due(2_500) - start, Duration::from_millis(2_500));
    assert_eq!(schedule.due_before(start + Duration::from_secs(2)), 2_000);
}

#[test]
fn latency_counts_from_the_due_time_not_the_send() {
    let due = Instant::now();
    // Sent 300 ms late because the connection was busy, answered 1 ms after sending.
    let completed = due + Duration::from_millis(301);
    assert_eq!(
        corrected_latency(due, completed),
        Duration::from_millis(301)
    );
    // Answered "before" it was due cannot happen, but must not underflow.
    assert_eq!(corrected_latency(completed, due), Duration::ZERO);
}

#[test]
fn percentiles_come_from_the_recorded_latencies() {
    let mut recorder = Recorder::new();
    for _ in 0..99 {
        recorder.record(Duration::from_millis(1));
    }
    recorder.record(Duration::from_millis(100));
    let latency = recorder.latency();
    assert!((latency.p50 - 1.0).abs() < 0.01, "{latency:?}");
    assert!((latency.max - 100.0).abs() < 0.1, "{latency:?}");
    assert_eq!(recorder.successes(), 100);
}

fn plan(base_url: &str, mode: Mode) -> RunPlan {
    RunPlan {
        target: Target::new(base_url, None).unwrap(),
        scenarios: vec!["read".to_owned()],
        mode,
        clients: vec![1],
        rates: vec![1_000.0],
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(10),
        seed: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_in_an_open_loop_is_charged_to_every_request_it_delayed() {
    let base_url = serve(stalling_server(100)).await;
    let result = run(&plan(&base_url, Mode::Open)).await.unwrap();
    let step = &result.scenarios[0].steps[0];
    assert!(step.errors.is_empty(), "{step:?}");
    // At 1,000/s over one connection, a 300 ms stall delays the ~300 requests due during
    // it by 300 ms down to 0: about 20% of the run's requests wait 100 ms or more. Timed
    // from their sends, only the stalled request would be slow and p95 would be under 1 ms.
    assert!(step.latency_ms.max >= 300.0, "{:?}", step.latency_ms);
    assert!(step.latency_ms.p95 >= 100.0, "{:?}", step.latency_ms);
    // Timed from their release by the pacer (oha's start), the held-back requests still
    // carry their wait for the connection: only the pacer's own lateness is left out.
    let from_release = step.latency_from_release_ms.expect("open loop reports it");
    assert!(from_release.p95 >= 100.0, "{from_release:?}");
    assert!(from_release.p50 <= step.latency_ms.p50, "{from_release:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_sees_the_stall_once() {
    let base_url = serve(stalling_server(100)).await;
    let result = run(&plan(&base_url, Mode::Closed)).await.unwrap();
    let step = &result.scenarios[0].steps[0];
    assert!(step.errors.is_empty(), "{step:?}");
    assert!(step.latency_ms.max >= 300.0, "{:?}", step.latency_ms);
    assert_eq!(step.rate, None);
    assert_eq!(step.latency_from_release_ms, None);
}
