//! Wrong methods answer 405 and unknown paths 404, as OperationOutcomes.
//! Spec: https://hl7.org/fhir/R4/http.html (an unsupported interaction: 501 or 405, with an
//! OperationOutcome), capabilitystatement.html (what is not claimed is not supported)

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::TestApp;

/// Sends `method uri` (with a small JSON body) and asserts an OperationOutcome with `status`.
async fn check(app: &TestApp, method: Method, uri: &str, status: StatusCode) {
    let reply = app
        .request(method.clone(), uri)
        .json(r#"{"resourceType":"Bundle","type":"batch"}"#)
        .send()
        .await;
    let issue = reply.outcome(status);
    if status == StatusCode::NOT_IMPLEMENTED || status == StatusCode::METHOD_NOT_ALLOWED {
        assert_eq!(
            issue["code"].as_str(),
            Some("not-supported"),
            "{method} {uri}"
        );
    }
}

#[tokio::test]
async fn method_not_allowed_on_a_path_is_405() {
    let app = TestApp::start().await;
    check(
        &app,
        Method::DELETE,
        "/fhir/metadata",
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    check(
        &app,
        Method::PUT,
        "/fhir/Patient/1/_history",
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
}

#[tokio::test]
async fn unknown_path_is_404() {
    let app = TestApp::start().await;
    check(&app, Method::GET, "/nope", StatusCode::NOT_FOUND).await;
    check(
        &app,
        Method::GET,
        "/fhir/Patient/1/_history/1/more",
        StatusCode::NOT_FOUND,
    )
    .await;
}

// capabilitystatement.html: an operation not claimed is not supported; by GET or POST it is
// a 404 naming the operation, and a POST to a compartment that is not its `_search` a 405.
#[tokio::test]
async fn an_operation_ember_does_not_have_is_404_and_a_compartment_post_405() {
    let app = TestApp::start().await;
    for method in [Method::GET, Method::POST] {
        let reply = app
            .request(method.clone(), "/fhir/Patient/1/$validate")
            .send()
            .await;
        let issue = reply.outcome(StatusCode::NOT_FOUND);
        assert!(
            issue["diagnostics"]
                .as_str()
                .is_some_and(|text| text.contains("$validate")),
            "{method}: {}",
            reply.text()
        );
    }
    check(
        &app,
        Method::POST,
        "/fhir/Patient/1/Observation",
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
}
