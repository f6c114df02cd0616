//! Content negotiation: `_format` and `Accept` (JSON only, FHIR R4 only), request
//! Content-Type, `_pretty`, and the Content-Type of responses.
//! Spec: https://hl7.org/fhir/R4/http.html#mime-type, http.html#parameters

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::{assert_fhir_json, Reply, TestApp};

const OBSERVATION: &str = r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}"#;

/// GET `uri` with an optional Accept header.
async fn check(app: &TestApp, uri: &str, accept: Option<&str>) -> Reply {
    let mut call = app.request(Method::GET, uri);
    if let Some(accept) = accept {
        call = call.header("accept", accept);
    }
    call.send().await
}

/// POST a Patient with `content_type`.
async fn post_with(app: &TestApp, content_type: &str) -> Reply {
    app.request(Method::POST, "/fhir/Patient")
        .header("content-type", content_type)
        .body(r#"{"resourceType":"Patient"}"#)
        .send()
        .await
}

#[tokio::test]
async fn format_json_is_answered_in_fhir_json() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    for format in ["json", "application/fhir%2Bjson", "application/fhir+json"] {
        let reply = check(
            &app,
            &format!("/fhir/Observation/{id}?_format={format}"),
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{format}: {}", reply.text());
        assert_fhir_json(&reply);
    }
}

#[tokio::test]
async fn format_xml_is_406() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    for format in ["xml", "application/fhir%2Bxml"] {
        let reply = check(
            &app,
            &format!("/fhir/Observation/{id}?_format={format}"),
            None,
        )
        .await;
        let issue = reply.outcome(StatusCode::NOT_ACCEPTABLE);
        assert_eq!(issue["code"].as_str(), Some("not-supported"));
    }
}

#[tokio::test]
async fn accept_fhir_xml_is_406() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    check(
        &app,
        &format!("/fhir/Observation/{id}"),
        Some("application/fhir+xml"),
    )
    .await
    .outcome(StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn accept_fhir_json_of_r4_is_answered() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    let reply = check(
        &app,
        &format!("/fhir/Observation/{id}"),
        Some("application/fhir+json; fhirVersion=4.0"),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_fhir_json(&reply);
}

#[tokio::test]
async fn accept_fhir_json_of_another_fhir_version_is_406() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    check(
        &app,
        &format!("/fhir/Observation/{id}"),
        Some("application/fhir+json; fhirVersion=3.0"),
    )
    .await
    .outcome(StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn accept_plain_json_is_answered_as_plain_json() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    let reply = check(
        &app,
        &format!("/fhir/Observation/{id}"),
        Some("application/json"),
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn request_bodies_other_than_json_are_415_and_write_nothing() {
    let app = TestApp::start().await;

    for content_type in ["application/xml", "application/fhir+xml", "text/plain"] {
        let issue = post_with(&app, content_type)
            .await
            .outcome(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(issue["code"].as_str(), Some("not-supported"));
    }
    assert_eq!(app.versions_written().await, 0);
}

#[tokio::test]
async fn request_bodies_in_json_are_accepted() {
    let app = TestApp::start().await;

    for content_type in [
        "application/fhir+json",
        "application/fhir+json; fhirVersion=4.0; charset=utf-8",
        "application/json",
    ] {
        let reply = post_with(&app, content_type).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{content_type}");
    }
}

#[tokio::test]
async fn pretty_output_is_indented_and_keeps_decimals() {
    let app = TestApp::start().await;
    let id = app.create(OBSERVATION).await;

    let reply = check(&app, &format!("/fhir/Observation/{id}?_pretty=true"), None).await;

    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    assert!(text.contains("\n  \"resourceType\""), "{text}");
    assert!(text.contains("1.50"), "{text}");
    assert!(!text.contains("1.5,") && !text.contains("1.5\n"), "{text}");
    assert_eq!(reply.json()["id"].as_str(), Some(id.as_str()));
}

#[tokio::test]
async fn malformed_pretty_is_400() {
    let app = TestApp::start().await;
    check(&app, "/fhir/metadata?_pretty=yes", None)
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn responses_are_fhir_json() {
    let app = TestApp::start().await;
    let created = app.post("/fhir/Observation", OBSERVATION).await;
    assert_fhir_json(&created);
    let id = created.json()["id"].as_str().unwrap().to_owned();

    for uri in [
        format!("/fhir/Observation/{id}"),
        format!("/fhir/Observation/{id}/_history/1"),
        format!("/fhir/Observation/{id}/_history"),
        "/fhir/_history".to_owned(),
        "/fhir/metadata".to_owned(),
        "/fhir/Observation/nobody".to_owned(),
    ] {
        let reply = check(&app, &uri, None).await;
        assert_fhir_json(&reply);
        let content_type = reply.header("content-type").unwrap();
        assert!(
            content_type.contains("fhirVersion=4.0"),
            "{uri}: {content_type}"
        );
    }
}
