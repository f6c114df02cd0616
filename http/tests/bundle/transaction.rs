//! Transactions: every entry or none, conditions, the identity rule and the read entries
//! (references between entries are in `transaction_references.rs`).
//! Spec: https://hl7.org/fhir/R4/http.html#transaction, http.html#trules,
//! bundle.html#references

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use super::transaction_fixtures::{observation_of, patient, PATIENT_URN};
use super::{bare_entry, bundle, diagnostics, located_id, post_bundle, statuses, write_entry};
use crate::support::{entries, TestApp};

// http.html#transaction: the response is a transaction-response with one entry per request
// entry, in the same order, each with its status and location.
#[tokio::test]
async fn transaction_creates_every_entry_and_answers_each_in_order() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[
            write_entry(PATIENT_URN, "POST", "Patient", &patient("1")),
            write_entry(
                "urn:uuid:2",
                "POST",
                "Observation",
                &observation_of(PATIENT_URN),
            ),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["type"].as_str(), Some("transaction-response"));
    assert_eq!(statuses(&reply), ["201 Created", "201 Created"]);
    let answered = entries(&answer);
    assert_eq!(
        answered[0]["resource"]["resourceType"].as_str(),
        Some("Patient")
    );
    assert_eq!(answered[1]["response"]["etag"].as_str(), Some(r#"W/"1""#));
    assert!(answered[1]["response"]["lastModified"].as_str().is_some());
    assert_eq!(app.versions_written().await, 2);
}

// http.html#transaction: "If any resource … fails, then the entire transaction fails, and
// no changes are made to the server's state".
#[tokio::test]
async fn an_invalid_entry_fails_the_whole_transaction_naming_its_index() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[
            write_entry(PATIENT_URN, "POST", "Patient", &patient("1")),
            write_entry(
                "urn:uuid:2",
                "POST",
                "Observation",
                r#"{"resourceType":"Observation","status":""}"#,
            ),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    let issue = reply.outcome(StatusCode::BAD_REQUEST);
    assert!(
        diagnostics(&issue).starts_with("Bundle.entry[1]"),
        "{}",
        reply.text()
    );
    assert!(issue["expression"][0]
        .as_str()
        .unwrap()
        .starts_with("Bundle.entry[1]"));
    assert_eq!(
        app.versions_written().await,
        0,
        "nothing of the transaction persists"
    );
}

// http.html#concurrency: a version-aware update in a transaction fails it with 412.
#[tokio::test]
async fn a_stale_if_match_fails_the_transaction_with_412_and_writes_nothing() {
    let app = TestApp::start().await;
    let id = app.create(&patient("1")).await;
    let update = format!(r#"{{"resourceType":"Patient","id":"{id}","active":true}}"#);
    app.put(&format!("/fhir/Patient/{id}"), &update).await;
    let stale = format!(
        r#"{{"resource":{update},"request":{{"method":"PUT","url":"Patient/{id}","ifMatch":"W/\"1\""}}}}"#
    );
    let body = bundle(
        "transaction",
        &[
            write_entry(PATIENT_URN, "POST", "Patient", &patient("2")),
            stale,
        ],
    );

    let reply = post_bundle(&app, &body).await;

    let issue = reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert!(diagnostics(&issue).starts_with("Bundle.entry[1]"));
    assert_eq!(
        app.versions_written().await,
        2,
        "the create of entry 0 was rolled back"
    );
}

// http.html#trules: two entries that touch the same resource fail the transaction.
#[tokio::test]
async fn two_entries_updating_one_resource_fail_the_transaction() {
    let app = TestApp::start().await;
    let resource = r#"{"resourceType":"Patient","id":"twice"}"#;
    let body = bundle(
        "transaction",
        &[
            write_entry("urn:uuid:a", "PUT", "Patient/twice", resource),
            write_entry("urn:uuid:b", "PUT", "Patient/twice", resource),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    let issue = reply.outcome(StatusCode::BAD_REQUEST);
    assert!(diagnostics(&issue).contains("Patient/twice"));
    assert_eq!(app.versions_written().await, 0);
}

// http.html#ccreate in a transaction: with one match nothing is created, and references to
// the entry point to the existing resource.
#[tokio::test]
async fn if_none_exist_with_a_match_keeps_the_existing_resource_and_references_point_to_it() {
    let app = TestApp::start().await;
    let existing = app.create(&patient("mrn-1")).await;
    let conditional = format!(
        r#"{{"fullUrl":"{PATIENT_URN}","resource":{},"request":{{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:x|mrn-1"}}}}"#,
        patient("mrn-1")
    );
    let body = bundle(
        "transaction",
        &[
            conditional,
            write_entry(
                "urn:uuid:2",
                "POST",
                "Observation",
                &observation_of(PATIENT_URN),
            ),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["200 OK", "201 Created"],
        "{}",
        reply.text()
    );
    let answered = entries(&reply.json());
    assert_eq!(located_id(&answered[0]), existing);
    assert_eq!(
        answered[1]["resource"]["subject"]["reference"].as_str(),
        Some(format!("Patient/{existing}").as_str())
    );
    assert_eq!(app.versions_written().await, 2);
}

// http.html#cond-update in a transaction: one match is updated in place.
// http.html#trules: "If any resource identities (including resolved identities from
// conditional update/delete) overlap in steps 1-3, then the transaction SHALL fail". Two
// conditional creates or updates with the same criteria and no match would each create a
// resource the other's criteria match.
#[tokio::test]
async fn two_conditional_creates_with_the_same_criteria_fail_the_transaction() {
    let app = TestApp::start().await;
    let create = |full_url: &str| {
        format!(
            r#"{{"fullUrl":"{full_url}","resource":{},"request":{{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:x|twice"}}}}"#,
            patient("twice")
        )
    };
    let update = format!(
        r#"{{"fullUrl":"urn:uuid:3","resource":{},"request":{{"method":"PUT","url":"Patient?identifier=urn:x|twice"}}}}"#,
        patient("twice")
    );
    for pair in [
        [create("urn:uuid:1"), create("urn:uuid:2")],
        [create("urn:uuid:1"), update.clone()],
    ] {
        let reply = post_bundle(&app, &bundle("transaction", &pair)).await;
        reply.outcome(StatusCode::BAD_REQUEST);
    }
    assert_eq!(app.versions_written().await, 0);
}

#[tokio::test]
async fn a_conditional_update_updates_its_one_match() {
    let app = TestApp::start().await;
    let id = app.create(&patient("mrn-1")).await;
    let body = bundle(
        "transaction",
        &[write_entry(
            PATIENT_URN,
            "PUT",
            "Patient?identifier=urn:x|mrn-1",
            r#"{"resourceType":"Patient","active":false,"identifier":[{"system":"urn:x","value":"mrn-1"}]}"#,
        )],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(statuses(&reply), ["200 OK"], "{}", reply.text());
    let answered = entries(&reply.json());
    assert_eq!(located_id(&answered[0]), id);
    assert_eq!(answered[0]["response"]["etag"].as_str(), Some(r#"W/"2""#));
}

// http.html#cond-update in a transaction: with no match, a body id that belongs to another
// resource is refused, as for the single request; nothing of the transaction is written.
#[tokio::test]
async fn a_conditional_update_without_match_may_not_take_an_existing_id() {
    let app = TestApp::start().await;
    let other = app.create(&patient("someone-else")).await;
    let resource = format!(
        r#"{{"resourceType":"Patient","id":"{other}","identifier":[{{"system":"urn:x","value":"mrn-9"}}]}}"#
    );
    let body = bundle(
        "transaction",
        &[write_entry(
            PATIENT_URN,
            "PUT",
            "Patient?identifier=urn:x|mrn-9",
            &resource,
        )],
    );

    let issue = post_bundle(&app, &body).await.outcome(StatusCode::CONFLICT);

    assert!(diagnostics(&issue).contains(&other));
    assert_eq!(app.versions_written().await, 1);
}

// http.html#transaction: DELETE is processed before POST, so a conditional create whose
// criteria match only what the same transaction deletes creates a new resource.
#[tokio::test]
async fn deletes_are_processed_before_conditional_creates() {
    let app = TestApp::start().await;
    let old = app.create(&patient("mrn-1")).await;
    let create = format!(
        r#"{{"fullUrl":"{PATIENT_URN}","resource":{},"request":{{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:x|mrn-1"}}}}"#,
        patient("mrn-1")
    );
    let body = bundle(
        "transaction",
        &[
            create,
            bare_entry("DELETE", "Patient?identifier=urn:x|mrn-1"),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["201 Created", "204 No Content"],
        "{}",
        reply.text()
    );
    assert_ne!(located_id(&entries(&reply.json())[0]), old);
    assert_eq!(
        app.get(&format!("/fhir/Patient/{old}")).await.status,
        StatusCode::GONE
    );
}

// http.html#patch ("PATCH in a Bundle": a Binary holding the JSON Patch) and delete by id.
#[tokio::test]
async fn patch_and_delete_entries_write_new_versions() {
    let app = TestApp::start().await;
    let patched = app
        .create(r#"{"resourceType":"Patient","active":true}"#)
        .await;
    let deleted = app.create(&patient("gone")).await;
    // [{"op":"replace","path":"/active","value":false}]
    let patch = r#"{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W3sib3AiOiJyZXBsYWNlIiwicGF0aCI6Ii9hY3RpdmUiLCJ2YWx1ZSI6ZmFsc2V9XQ=="}"#;
    let body = bundle(
        "transaction",
        &[
            write_entry("urn:uuid:p", "PATCH", &format!("Patient/{patched}"), patch),
            bare_entry("DELETE", &format!("Patient/{deleted}")),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["200 OK", "204 No Content"],
        "{}",
        reply.text()
    );
    let read = app.get(&format!("/fhir/Patient/{patched}")).await;
    assert_eq!(read.json()["active"].as_bool(), Some(false));
    assert_eq!(
        app.get(&format!("/fhir/Patient/{deleted}")).await.status,
        StatusCode::GONE
    );
}

// http.html#transaction: GET entries are processed last and see the transaction's writes.
#[tokio::test]
async fn read_entries_see_the_writes_of_their_transaction() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[
            bare_entry("GET", "Patient?identifier=urn:x|new"),
            write_entry(PATIENT_URN, "POST", "Patient", &patient("new")),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["200 OK", "201 Created"],
        "{}",
        reply.text()
    );
    let searchset = &entries(&reply.json())[0]["resource"];
    assert_eq!(searchset["type"].as_str(), Some("searchset"));
    assert_eq!(entries(searchset).len(), 1);
}

// http.html#trules: "servers SHALL either accept all actions … or reject all resources": a
// read entry that would fail (404, 410, 400) fails the transaction, and nothing is written.
#[tokio::test]
async fn a_read_entry_that_would_fail_fails_the_whole_transaction() {
    let app = TestApp::start().await;
    let gone = app.create(r#"{"resourceType":"Patient"}"#).await;
    assert_eq!(
        app.delete(&format!("/fhir/Patient/{gone}")).await.status,
        StatusCode::NO_CONTENT
    );
    let live = app.create(r#"{"resourceType":"Patient"}"#).await;
    let written_before = app.versions_written().await;
    for (read, status) in [
        ("Patient/nobody".to_owned(), StatusCode::NOT_FOUND),
        (format!("Patient/{gone}"), StatusCode::GONE),
        (format!("Patient/{gone}/_history/2"), StatusCode::GONE),
        (
            "Patient/nobody/_history/1".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            "Patient/nobody/$everything".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("Patient/{live}?_summary=bogus"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("Patient/{live}/_history?_count=abc"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "Patient?birthdate=not-a-date".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("Patient/{live}/Observation?date=not-a-date"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let body = bundle(
            "transaction",
            &[
                write_entry(PATIENT_URN, "POST", "Patient", &patient("kept-out")),
                bare_entry("GET", &read),
            ],
        );

        let reply = post_bundle(&app, &body).await;

        let issue = reply.outcome(status);
        assert!(
            diagnostics(&issue).starts_with("Bundle.entry[1]"),
            "{read}: {}",
            diagnostics(&issue)
        );
        assert_eq!(app.versions_written().await, written_before, "{read}");
    }
}

// The check before the commit sees the transaction's own writes: a resource it creates
// under a client id can be read in it.
#[tokio::test]
async fn a_read_entry_of_a_resource_the_transaction_writes_succeeds() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[
            bare_entry("GET", "Patient/made-here"),
            write_entry(
                "http://example.org/fhir/Patient/made-here",
                "PUT",
                "Patient/made-here",
                r#"{"resourceType":"Patient","id":"made-here"}"#,
            ),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(
        statuses(&reply),
        ["200 OK", "201 Created"],
        "{}",
        reply.text()
    );
}

// http.html#return: Prefer applies to each entry.
#[tokio::test]
async fn prefer_return_minimal_leaves_resources_out_of_the_entries() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[write_entry(PATIENT_URN, "POST", "Patient", &patient("1"))],
    );

    let reply = app
        .request(Method::POST, "/fhir")
        .header("prefer", "return=minimal")
        .json(&body)
        .send()
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answered = entries(&reply.json());
    assert!(answered[0].get("resource").is_none());
    assert!(answered[0]["response"]["location"].as_str().is_some());
}

// http.html#concurrency: of two transactions updating one version, one wins and the other
// gets 412; no update is lost.
#[tokio::test]
async fn concurrent_transactions_on_one_version_never_lose_an_update() {
    let app = TestApp::start().await;
    let id = app.create(&patient("1")).await;
    let update = |active: bool| {
        bundle(
            "transaction",
            &[format!(
                r#"{{"resource":{{"resourceType":"Patient","id":"{id}","active":{active}}},"request":{{"method":"PUT","url":"Patient/{id}","ifMatch":"W/\"1\""}}}}"#
            )],
        )
    };
    let (first, second) = (update(true), update(false));

    let (first, second) = tokio::join!(post_bundle(&app, &first), post_bundle(&app, &second));

    let mut codes = [first.status.as_u16(), second.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [200, 412], "{} / {}", first.text(), second.text());
    assert_eq!(app.versions_written().await, 2);
}

// Limits: a Bundle over max_bundle_entries is refused before any entry runs.
#[tokio::test]
async fn a_bundle_over_the_entry_limit_is_413() {
    let settings = ember_http::config::Settings {
        max_bundle_entries: 1,
        ..ember_http::config::Settings::default()
    };
    let app = TestApp::with_settings(settings).await;
    let body = bundle(
        "transaction",
        &[
            write_entry("urn:uuid:1", "POST", "Patient", &patient("1")),
            write_entry("urn:uuid:2", "POST", "Patient", &patient("2")),
        ],
    );

    let issue = post_bundle(&app, &body)
        .await
        .outcome(StatusCode::PAYLOAD_TOO_LARGE);

    assert!(diagnostics(&issue).contains("max_bundle_entries"));
    assert_eq!(app.versions_written().await, 0);
}

// http.html#transaction: POST to the base takes a batch or transaction Bundle only.
#[tokio::test]
async fn a_body_that_is_not_a_batch_or_transaction_is_400() {
    let app = TestApp::start().await;
    post_bundle(&app, &patient("1"))
        .await
        .outcome(StatusCode::BAD_REQUEST);
    post_bundle(&app, r#"{"resourceType":"Bundle","type":"collection"}"#)
        .await
        .outcome(StatusCode::BAD_REQUEST);
    post_bundle(&app, "{not json")
        .await
        .outcome(StatusCode::BAD_REQUEST);
    let without_request = r#"{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}}]}"#;
    post_bundle(&app, without_request)
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

// A transaction may only hold interactions it can apply atomically.
#[tokio::test]
async fn an_entry_url_of_another_server_or_an_operation_is_400() {
    let app = TestApp::start().await;
    for url in ["http://elsewhere.example/fhir/Patient", "Patient/$validate"] {
        let body = bundle(
            "transaction",
            &[write_entry("urn:uuid:1", "POST", url, &patient("1"))],
        );
        let issue = post_bundle(&app, &body)
            .await
            .outcome(StatusCode::BAD_REQUEST);
        assert!(diagnostics(&issue).starts_with("Bundle.entry[0]"));
    }
    assert_eq!(app.versions_written().await, 0);
}
