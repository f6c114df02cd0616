//! Scenarios refuse to time a server that answers their check request wrongly, and say why:
//! a fast wrong answer is not a result.

use std::time::Duration;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use loadtests::report::ScenarioResult;
use loadtests::run::{run, RunPlan};
use loadtests::target::Target;
use loadtests::Mode;

use crate::support::serve;

async fn run_against(router: Router, scenarios: &[&str]) -> Vec<ScenarioResult> {
    let base_url = serve(router).await;
    let plan = RunPlan {
        target: Target::new(&base_url, None).unwrap(),
        scenarios: scenarios.iter().map(|name| (*name).to_owned()).collect(),
        mode: Mode::Closed,
        clients: vec![1],
        rates: Vec::new(),
        warmup: Duration::ZERO,
        duration: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
        seed: 1,
    };
    run(&plan).await.unwrap().scenarios
}

fn reason(scenario: &ScenarioResult) -> &str {
    assert!(scenario.steps.is_empty(), "{} was timed", scenario.name);
    scenario
        .skipped
        .as_deref()
        .unwrap_or_else(|| panic!("{} was not skipped", scenario.name))
}

#[tokio::test]
async fn a_server_answering_501_is_refused_for_every_scenario_with_the_status() {
    let router = Router::new().fallback(|| async {
        (
            StatusCode::NOT_IMPLEMENTED,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-supported"}]}"#,
        )
    });
    let scenarios = run_against(router, &["search", "transaction", "read", "crud"]).await;
    assert_eq!(scenarios.len(), 13);
    for scenario in &scenarios {
        assert!(reason(scenario).contains("501"), "{scenario:?}");
    }
}

#[tokio::test]
async fn a_searchset_without_the_expected_resource_is_refused() {
    let router = Router::new()
        .route(
            "/fhir/{resource_type}",
            get(|| async { r#"{"resourceType":"Bundle","type":"searchset","entry":[]}"# }),
        )
        .route(
            "/fhir/{resource_type}/{id}",
            put(|body: String| async move { (StatusCode::CREATED, body) }),
        );
    let scenarios = run_against(router, &["search-string", "search-has"]).await;
    assert!(
        reason(&scenarios[0]).contains("lacks Patient/pt-"),
        "{scenarios:?}"
    );
    assert!(
        reason(&scenarios[1]).contains("lacks Patient/pt-"),
        "{scenarios:?}"
    );
}

#[tokio::test]
async fn a_read_answering_another_resource_is_refused() {
    let router = Router::new()
        .route(
            "/fhir/Patient",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [(header::LOCATION, "http://fake/fhir/Patient/p1/_history/1")],
                    "",
                )
            }),
        )
        .route(
            "/fhir/Patient/{id}",
            get(|Path(id): Path<String>| async move {
                format!(r#"{{"resourceType":"Observation","id":"{id}"}}"#)
            }),
        );
    let scenarios = run_against(router, &["read"]).await;
    assert!(
        reason(&scenarios[0]).contains("expected Patient/p1"),
        "{scenarios:?}"
    );
}
