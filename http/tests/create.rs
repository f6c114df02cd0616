//! Create: 201 with Location, ETag and Last-Modified; server-assigned id and meta; Prefer;
//! decimals stored and returned exactly as sent; a leading byte order mark ignored.
//! Spec: https://hl7.org/fhir/R4/http.html#create, http.html#return, json.html#primitive

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::support::{assert_fhir_json, Reply, TestApp, BASE};

/// POST [base]/Patient with an optional `Prefer`.
async fn check(app: &TestApp, json: &str, prefer: Option<&str>) -> Reply {
    let mut call = app.request(Method::POST, "/fhir/Patient").json(json);
    if let Some(prefer) = prefer {
        call = call.header("prefer", prefer);
    }
    let reply = call.send().await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply
}

fn unix_seconds(instant: &str) -> i64 {
    OffsetDateTime::parse(instant, &Rfc3339)
        .unwrap_or_else(|_| panic!("'{instant}' is an instant"))
        .unix_timestamp()
}

fn http_date_seconds(date: &str) -> i64 {
    let time = httpdate::parse_http_date(date).expect("an HTTP-date");
    time.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn create_returns_201_with_location_etag_and_last_modified() {
    let app = TestApp::start().await;
    let reply = check(&app, r#"{"resourceType":"Patient","active":true}"#, None).await;

    assert_fhir_json(&reply);
    let created = reply.json();
    let id = created["id"].as_str().expect("a server-assigned id");
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/Patient/{id}/_history/1").as_str())
    );
    assert_eq!(reply.etag(), r#"W/"1""#);
    assert_eq!(created["meta"]["versionId"].as_str(), Some("1"));
    let last_updated = created["meta"]["lastUpdated"]
        .as_str()
        .expect("lastUpdated");
    let last_modified = reply.header("last-modified").expect("Last-Modified");
    assert_eq!(http_date_seconds(last_modified), unix_seconds(last_updated));
    assert_eq!(created["active"].as_bool(), Some(true));
}

#[tokio::test]
async fn create_ignores_client_id_and_assigns_its_own() {
    let app = TestApp::start().await;
    let reply = check(&app, r#"{"resourceType":"Patient","id":"mine"}"#, None).await;

    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "mine");
    assert_eq!(
        app.get("/fhir/Patient/mine").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn create_replaces_client_version_and_last_updated_but_keeps_tags() {
    let app = TestApp::start().await;
    let reply = check(
        &app,
        r#"{"resourceType":"Patient","meta":{"versionId":"7","lastUpdated":"2001-01-01T00:00:00Z","tag":[{"code":"kept"}]}}"#,
        None,
    )
    .await;

    let meta = reply.json()["meta"].clone();
    assert_eq!(meta["versionId"].as_str(), Some("1"));
    assert_ne!(meta["lastUpdated"].as_str(), Some("2001-01-01T00:00:00Z"));
    assert!(
        unix_seconds(meta["lastUpdated"].as_str().unwrap()) > unix_seconds("2020-01-01T00:00:00Z")
    );
    assert_eq!(meta["tag"][0]["code"].as_str(), Some("kept"));
}

#[tokio::test]
async fn create_with_prefer_return_minimal_has_empty_body_and_all_headers() {
    let app = TestApp::start().await;
    let reply = check(
        &app,
        r#"{"resourceType":"Patient"}"#,
        Some("return=minimal"),
    )
    .await;

    assert!(reply.body.is_empty(), "{}", reply.text());
    let location = reply.header("location").expect("Location");
    assert!(
        location.starts_with(&format!("{BASE}/Patient/")),
        "{location}"
    );
    assert!(location.ends_with("/_history/1"), "{location}");
    assert_eq!(reply.etag(), r#"W/"1""#);
    assert!(reply.header("last-modified").is_some());
}

// RFC 7240, section 2: a preference's value may be a quoted string.
#[tokio::test]
async fn create_with_prefer_return_minimal_quoted_has_empty_body() {
    let app = TestApp::start().await;
    let reply = check(
        &app,
        r#"{"resourceType":"Patient"}"#,
        Some(r#"return="minimal""#),
    )
    .await;

    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.body.is_empty(), "{}", reply.text());
}

#[tokio::test]
async fn create_with_prefer_return_operation_outcome_answers_an_outcome() {
    let app = TestApp::start().await;
    let reply = check(
        &app,
        r#"{"resourceType":"Patient"}"#,
        Some("return=OperationOutcome"),
    )
    .await;

    assert_fhir_json(&reply);
    let outcome = reply.json();
    assert_eq!(outcome["resourceType"].as_str(), Some("OperationOutcome"));
    assert_eq!(
        outcome["issue"][0]["severity"].as_str(),
        Some("information")
    );
    assert!(reply.header("location").is_some());
    assert_eq!(reply.etag(), r#"W/"1""#);
}

#[tokio::test]
async fn create_with_prefer_return_representation_answers_the_resource() {
    let app = TestApp::start().await;
    let reply = check(
        &app,
        r#"{"resourceType":"Patient"}"#,
        Some("return=representation"),
    )
    .await;

    assert_eq!(reply.json()["resourceType"].as_str(), Some("Patient"));
}

#[tokio::test]
async fn decimals_are_returned_exactly_as_sent() {
    let app = TestApp::start().await;
    let observation = r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50},"component":[{"code":{"text":"a"},"valueQuantity":{"value":1e2}},{"code":{"text":"b"},"valueQuantity":{"value":123456789012345.678901234567890}}]}"#;
    let created = app
        .request(Method::POST, "/fhir/Observation")
        .json(observation)
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();

    let read = app.get(&format!("/fhir/Observation/{id}")).await;

    assert_eq!(read.status, StatusCode::OK);
    for decimal in [
        r#""value":1.50}"#,
        r#""value":1e2}"#,
        r#""value":123456789012345.678901234567890}"#,
    ] {
        assert!(
            read.text().contains(decimal),
            "{decimal} in {}",
            read.text()
        );
    }
    assert_eq!(
        read.body, created.body,
        "the stored bytes are what read returns"
    );
}

#[tokio::test]
async fn create_of_another_type_than_the_url_is_400_and_writes_nothing() {
    let app = TestApp::start().await;
    let reply = app
        .request(Method::POST, "/fhir/Patient")
        .json(r#"{"resourceType":"Observation"}"#)
        .send()
        .await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(app.versions_written().await, 0);
}

// http.html#create: `POST [base]/[type] {?_format=[mime-type]}` takes no search parameters;
// criteria for a conditional create go in If-None-Exist (http.html#ccreate). Ignoring them
// would create a duplicate each time a client sends them in the URL.
#[tokio::test]
async fn create_with_search_parameters_in_the_url_is_400_and_writes_nothing() {
    let app = TestApp::start().await;

    let reply = app
        .post(
            "/fhir/Patient?identifier=urn:x|1",
            r#"{"resourceType":"Patient"}"#,
        )
        .await;

    let issue = reply.outcome(StatusCode::BAD_REQUEST);
    assert!(issue["diagnostics"]
        .as_str()
        .unwrap()
        .contains("If-None-Exist"));
    assert_eq!(app.versions_written().await, 0);
    let formatted = app
        .post(
            "/fhir/Patient?_format=json",
            r#"{"resourceType":"Patient"}"#,
        )
        .await;
    assert_eq!(
        formatted.status,
        StatusCode::CREATED,
        "{}",
        formatted.text()
    );
}

// RFC 8259 section 8.1: a parser "MAY ignore the presence of a byte order mark rather than
// treating it as an error"; editors on Windows write one. The stored body starts at the `{`.
#[tokio::test]
async fn a_leading_byte_order_mark_is_ignored_in_resources_bundles_and_patches() {
    let app = TestApp::start().await;
    let reply = check(
        &app,
        "\u{FEFF}{\"resourceType\":\"Patient\",\"gender\":\"female\"}",
        None,
    )
    .await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let read = app.get(&format!("/fhir/Patient/{id}")).await;
    assert!(read.text().starts_with('{'), "{}", read.text());

    let patched = app
        .request(Method::PATCH, &format!("/fhir/Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body("\u{FEFF}[{\"op\":\"replace\",\"path\":\"/gender\",\"value\":\"male\"}]")
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());

    let batch = app
        .post(
            "/fhir",
            "\u{FEFF}{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\"},\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}",
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.text());
    // Only at the start: anywhere else it is not JSON.
    let reply = app
        .request(Method::POST, "/fhir/Patient")
        .json("{\"resourceType\":\"Patient\"}\u{FEFF}")
        .send()
        .await;
    reply.outcome(StatusCode::BAD_REQUEST);
}
