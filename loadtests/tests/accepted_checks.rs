//! The search and transaction scenarios accept a server that answers their checks right, and
//! then time it. Ember has neither yet, so fakes stand in: one stores what is PUT and answers
//! every search with all of it (the URL's type as `match`, the rest as `include`, the
//! fixture's latest observation first, as `_sort=-date` would put it); the other answers a
//! transaction with one `201` per entry. And the Authorization header reaches the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderMap};
use axum::routing::{get, post, put};
use axum::Router;
use loadtests::run::{run, RunPlan};
use loadtests::target::Target;
use loadtests::Mode;
use serde_json::{json, Value};

use crate::support::serve;

type Stored = Arc<Mutex<Vec<Value>>>;

async fn store(State(stored): State<Stored>, body: String) -> (StatusCode, String) {
    let resource: Value = serde_json::from_str(&body).unwrap();
    let mut stored = stored.lock().unwrap();
    stored.retain(|existing| {
        existing["id"] != resource["id"] || existing["resourceType"] != resource["resourceType"]
    });
    stored.push(resource);
    (StatusCode::CREATED, body)
}

async fn search(State(stored): State<Stored>, Path(resource_type): Path<String>) -> String {
    let stored = stored.lock().unwrap();
    let mut entries: Vec<Value> = stored
        .iter()
        .map(|resource| {
            let mode = if resource["resourceType"] == resource_type.as_str() {
                "match"
            } else {
                "include"
            };
            json!({"resource": resource, "search": {"mode": mode}})
        })
        .collect();
    entries.sort_by_key(|entry| {
        !entry["resource"]["id"]
            .as_str()
            .unwrap()
            .starts_with("obs-check-")
    });
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries}).to_string()
}

fn plan(base_url: &str, scenario: &str) -> RunPlan {
    RunPlan {
        target: Target::new(base_url, None).unwrap(),
        scenarios: vec![scenario.to_owned()],
        mode: Mode::Closed,
        clients: vec![1],
        rates: Vec::new(),
        warmup: Duration::ZERO,
        duration: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
        seed: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_search_shape_is_checked_then_timed_against_a_server_that_answers_right() {
    let stored: Stored = Arc::default();
    let router = Router::new()
        .route("/fhir/{resource_type}", get(search))
        .route("/fhir/{resource_type}/{id}", put(store))
        .with_state(stored);
    let base_url = serve(router).await;
    let scenarios = run(&plan(&base_url, "search")).await.unwrap().scenarios;
    assert_eq!(scenarios.len(), 10);
    for scenario in &scenarios {
        assert_eq!(scenario.skipped, None, "{}", scenario.name);
        let step = &scenario.steps[0];
        assert!(step.requests > 0 && step.errors.is_empty(), "{scenario:?}");
    }
}

async fn transaction(body: String) -> String {
    let bundle: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(bundle["type"], "transaction");
    let responses: Vec<Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|_| json!({"response": {"status": "201 Created"}}))
        .collect();
    json!({"resourceType": "Bundle", "type": "transaction-response", "entry": responses})
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transaction_scenario_is_checked_then_timed_against_a_server_that_answers_right() {
    let router = Router::new().route("/fhir", post(transaction)).route(
        "/fhir/{resource_type}/{id}",
        put(|body: String| async move { (StatusCode::CREATED, body) }),
    );
    let base_url = serve(router).await;
    let scenarios = run(&plan(&base_url, "transaction"))
        .await
        .unwrap()
        .scenarios;
    assert_eq!(scenarios[0].skipped, None);
    let step = &scenarios[0].steps[0];
    assert!(step.requests > 0 && step.errors.is_empty(), "{step:?}");
}

/// A server that answers only requests carrying `Authorization: Bearer secret`.
fn guarded_patient_server() -> Router {
    let authorized = |headers: &HeaderMap| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            == Some("Bearer secret")
    };
    Router::new()
        .route(
            "/fhir/Patient",
            post(move |headers: HeaderMap| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                (
                    StatusCode::CREATED,
                    r#"{"resourceType":"Patient","id":"p1"}"#.to_owned(),
                )
            }),
        )
        .route(
            "/fhir/Patient/{id}",
            get(
                move |headers: HeaderMap, Path(id): Path<String>| async move {
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    (
                        StatusCode::OK,
                        format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#),
                    )
                },
            ),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_header_goes_with_every_request() {
    let base_url = serve(guarded_patient_server()).await;
    let mut with_token = plan(&base_url, "read");
    with_token.target = Target::new(&base_url, Some("Bearer secret")).unwrap();
    let scenarios = run(&with_token).await.unwrap().scenarios;
    assert_eq!(scenarios[0].skipped, None);
    assert!(scenarios[0].steps[0].errors.is_empty(), "{scenarios:?}");

    let without = run(&plan(&base_url, "read")).await.unwrap().scenarios;
    assert!(
        without[0].skipped.as_deref().unwrap().contains("401"),
        "{without:?}"
    );
}
