//! Batches: each entry on its own, answered in order.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction ("For a batch, … each entry is
//! treated as if it were an individual interaction")

use axum::http::StatusCode;
use sonic_rs::JsonValueTrait;

use super::{bare_entry, bundle, post_bundle, statuses, write_entry};
use crate::support::{entries, TestApp};

const PATIENT: &str = r#"{"resourceType":"Patient","active":true}"#;

// http.html#transaction: "there SHALL be no interdependencies between the different entries
// … failure of one entry does not cause the others to fail".
#[tokio::test]
async fn batch_entries_succeed_or_fail_each_on_their_own() {
    let app = TestApp::start().await;
    let body = bundle(
        "batch",
        &[
            write_entry("urn:uuid:1", "POST", "Patient", PATIENT),
            write_entry(
                "urn:uuid:2",
                "POST",
                "Patient",
                r#"{"resourceType":"Observation","status":"final"}"#,
            ),
            bare_entry("GET", "Patient/does-not-exist"),
            write_entry("urn:uuid:4", "POST", "Patient", PATIENT),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["type"].as_str(), Some("batch-response"));
    assert_eq!(
        statuses(&reply),
        [
            "201 Created",
            "400 Bad Request",
            "404 Not Found",
            "201 Created"
        ]
    );
    let answered = entries(&answer);
    assert_eq!(
        answered[1]["response"]["outcome"]["resourceType"].as_str(),
        Some("OperationOutcome")
    );
    assert_eq!(app.versions_written().await, 2);
}

// bundle-definitions.html#Bundle.entry.request.ifMatch: the entry's conditional headers
// apply as they would to the request alone.
#[tokio::test]
async fn an_entry_if_match_is_checked_like_the_header() {
    let app = TestApp::start().await;
    let id = app.create(PATIENT).await;
    let update = |etag: &str| {
        format!(
            r#"{{"resource":{{"resourceType":"Patient","id":"{id}"}},"request":{{"method":"PUT","url":"Patient/{id}","ifMatch":"W/\"{etag}\""}}}}"#
        )
    };
    let delete = |etag: &str| {
        format!(
            r#"{{"request":{{"method":"DELETE","url":"Patient/{id}","ifMatch":"W/\"{etag}\""}}}}"#
        )
    };
    let body = bundle("batch", &[update("7"), update("1")]);

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["412 Precondition Failed", "200 OK"],
        "{}",
        reply.text()
    );
    // Now at version 2: a deletion pinned to version 1 is refused, one pinned to 2 is done.
    let reply = post_bundle(&app, &bundle("batch", &[delete("1")])).await;
    assert_eq!(
        statuses(&reply),
        ["412 Precondition Failed"],
        "{}",
        reply.text()
    );
    let reply = post_bundle(&app, &bundle("batch", &[delete("2")])).await;
    assert_eq!(statuses(&reply), ["204 No Content"], "{}", reply.text());
}

// bundle-definitions.html#Bundle.entry.request.ifModifiedSince: an instant, applied as the
// If-Modified-Since header would be.
#[tokio::test]
async fn an_entry_if_modified_since_takes_an_instant() {
    let app = TestApp::start().await;
    let id = app.create(PATIENT).await;
    let read = |since: &str| {
        format!(
            r#"{{"request":{{"method":"GET","url":"Patient/{id}","ifModifiedSince":"{since}"}}}}"#
        )
    };
    let body = bundle(
        "batch",
        &[
            read("2100-01-01T00:00:00Z"),
            read("2000-01-01T00:00:00+01:00"),
            // Before 1970, which an HTTP date cannot say (it was a panic, a 500 for the batch).
            read("1969-12-31T23:59:59Z"),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["304 Not Modified", "200 OK", "200 OK"],
        "{}",
        reply.text()
    );
}

// http.html#transaction: read and search entries answer with their resource in the entry.
#[tokio::test]
async fn read_and_search_entries_answer_with_their_resources() {
    let app = TestApp::start().await;
    let id = app.create(PATIENT).await;
    let body = bundle(
        "batch",
        &[
            bare_entry("GET", &format!("Patient/{id}")),
            bare_entry("GET", "Patient?active=true"),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(statuses(&reply), ["200 OK", "200 OK"], "{}", reply.text());
    let answered = entries(&reply.json());
    assert_eq!(answered[0]["resource"]["id"].as_str(), Some(id.as_str()));
    assert_eq!(answered[0]["response"]["etag"].as_str(), Some(r#"W/"1""#));
    // bundle.html: response.lastModified is the version's instant, to the microsecond as
    // meta.lastUpdated says it, not the whole seconds of the Last-Modified header.
    assert_eq!(
        answered[0]["response"]["lastModified"].as_str(),
        answered[0]["resource"]["meta"]["lastUpdated"].as_str()
    );
    assert_eq!(answered[1]["resource"]["type"].as_str(), Some("searchset"));
    assert!(answered[1]["response"].get("lastModified").is_none());
}

// Bundles do not nest: a batch entry that posts another Bundle fails on its own.
#[tokio::test]
async fn a_nested_bundle_entry_is_400() {
    let app = TestApp::start().await;
    let inner = bundle("batch", &[]);
    let body = bundle("batch", &[write_entry("urn:uuid:1", "POST", "", &inner)]);

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "an empty url is refused: {}",
        reply.text()
    );
    let body = bundle("batch", &[write_entry("urn:uuid:1", "POST", "/", &inner)]);
    let reply = post_bundle(&app, &body).await;
    assert_eq!(statuses(&reply), ["400 Bad Request"], "{}", reply.text());
}

// http.html#root: the base has no trailing slash, but some clients add one (fhir-kit-client
// posts Bundles to `[base]/`); it is the same base.
#[tokio::test]
async fn a_bundle_posted_to_the_base_with_a_trailing_slash_is_processed() {
    let app = TestApp::start().await;
    let body = bundle(
        "batch",
        &[write_entry("urn:uuid:1", "POST", "Patient", PATIENT)],
    );

    let reply = app.post("/fhir/", &body).await;

    assert_eq!(statuses(&reply), ["201 Created"], "{}", reply.text());
    let search = app.get("/fhir/?_type=Patient").await;
    assert_eq!(entries(&search.json()).len(), 1, "{}", search.text());
}
