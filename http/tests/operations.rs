//! Operational endpoints: liveness, readiness and Prometheus metrics.
//! Spec: docs/operations.md (probes and metrics); Prometheus text exposition format 0.0.4

use axum::http::StatusCode;
use sonic_rs::JsonValueTrait;

use crate::support::{Reply, TestApp};

/// GET `uri`, asserting 200.
async fn check(app: &TestApp, uri: &str) -> Reply {
    let reply = app.get(uri).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
    reply
}

#[tokio::test]
async fn healthz_is_200() {
    let app = TestApp::start().await;
    let reply = check(&app, "/healthz").await;
    assert_eq!(reply.json()["status"].as_str(), Some("alive"));
}

#[tokio::test]
async fn readyz_is_200_once_the_database_is_migrated() {
    let app = TestApp::start().await;
    let reply = check(&app, "/readyz").await;
    assert_eq!(reply.json()["status"].as_str(), Some("ready"));
}

#[tokio::test]
async fn metrics_count_requests_by_interaction_and_report_writes_and_the_pool() {
    let app = TestApp::start().await;
    app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(&app, "/metrics").await;

    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let text = reply.text();
    let created = text.lines().any(|line| {
        line.starts_with("ember_http_requests_total{")
            && line.contains(r#"interaction="create""#)
            && line.contains(r#"status="201""#)
    });
    assert!(created, "{text}");
    for metric in [
        "ember_http_request_duration_seconds_bucket{",
        "ember_write_batch_size",
        "ember_db_pool_connections{",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}
