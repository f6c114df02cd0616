//! Delete: 204, then 410 on read; the deletion is a version in history; deleting again
//! changes nothing; an update afterwards brings the resource back with the next version.
//! Spec: https://hl7.org/fhir/R4/http.html#delete

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::{Reply, TestApp};

/// DELETE [base]/Patient/`id` with extra headers.
async fn check(app: &TestApp, id: &str, headers: &[(&str, &str)]) -> Reply {
    let mut call = app.request(Method::DELETE, &format!("/fhir/Patient/{id}"));
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call.send().await
}

async fn deleted_patient(app: &TestApp) -> String {
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;
    let reply = check(app, &id, &[]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert!(reply.body.is_empty());
    id
}

// http.html#concurrency: If-Match makes a write version-aware; RFC 9110 If-Match: the
// server "MUST NOT perform the requested method" when it does not match.
#[tokio::test]
async fn delete_with_a_stale_if_match_is_412_and_deletes_nothing() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;
    app.put(
        &format!("/fhir/Patient/{id}"),
        &format!(r#"{{"resourceType":"Patient","id":"{id}","active":true}}"#),
    )
    .await;

    check(&app, &id, &[("if-match", r#"W/"1""#)])
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        app.get(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::OK
    );

    let reply = check(&app, &id, &[("if-match", r#"W/"2""#)]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    check(&app, "never-created", &[("if-match", r#"W/"1""#)])
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
}

// http.html#cdelete, with If-Match on the one match: the same rule.
#[tokio::test]
async fn conditional_delete_with_a_stale_if_match_is_412_and_deletes_nothing() {
    let app = TestApp::start().await;
    let id = app
        .create(
            r#"{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"stale"}]}"#,
        )
        .await;
    app.put(
        &format!("/fhir/Patient/{id}"),
        &format!(r#"{{"resourceType":"Patient","id":"{id}","identifier":[{{"system":"urn:test","value":"stale"}}],"active":true}}"#),
    )
    .await;

    app.request(Method::DELETE, "/fhir/Patient?identifier=urn:test|stale")
        .header("if-match", r#"W/"1""#)
        .send()
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        app.get(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn delete_is_204_and_a_later_read_is_410_operation_outcome() {
    let app = TestApp::start().await;
    let id = deleted_patient(&app).await;

    let issue = app
        .get(&format!("/fhir/Patient/{id}"))
        .await
        .outcome(StatusCode::GONE);

    assert_eq!(issue["code"].as_str(), Some("deleted"));
}

#[tokio::test]
async fn deletion_is_a_history_entry_without_resource() {
    let app = TestApp::start().await;
    let id = deleted_patient(&app).await;

    let entries = app.history(&format!("/fhir/Patient/{id}/_history")).await;

    assert_eq!(entries.len(), 2);
    let deletion = &entries[0];
    assert!(deletion.get("resource").is_none(), "{deletion:?}");
    assert_eq!(deletion["request"]["method"].as_str(), Some("DELETE"));
    assert_eq!(
        deletion["request"]["url"].as_str(),
        Some(format!("Patient/{id}").as_str())
    );
    assert_eq!(deletion["response"]["etag"].as_str(), Some(r#"W/"2""#));
}

#[tokio::test]
async fn deleting_again_is_204_and_adds_no_version() {
    let app = TestApp::start().await;
    let id = deleted_patient(&app).await;

    let reply = check(&app, &id, &[]).await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let entries = app.history(&format!("/fhir/Patient/{id}/_history")).await;
    assert_eq!(entries.len(), 2);
}

#[tokio::test]
async fn deleting_what_never_existed_is_204_and_writes_nothing() {
    let app = TestApp::start().await;

    let reply = check(&app, "never-was", &[]).await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.versions_written().await, 0);
}

#[tokio::test]
async fn update_after_delete_is_201_and_continues_the_versions() {
    let app = TestApp::start().await;
    let id = deleted_patient(&app).await;

    let reply = app
        .put(
            &format!("/fhir/Patient/{id}"),
            &format!(r#"{{"resourceType":"Patient","id":"{id}","active":true}}"#),
        )
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.etag(), r#"W/"3""#);
    assert_eq!(reply.json()["meta"]["versionId"].as_str(), Some("3"));
    let read = app.get(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.etag(), r#"W/"3""#);
}

#[tokio::test]
async fn history_shows_the_status_each_write_was_answered_with() {
    let app = TestApp::start().await;
    let id = deleted_patient(&app).await;
    app.put(
        &format!("/fhir/Patient/{id}"),
        &format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#),
    )
    .await;

    let history = app
        .get(&format!("/fhir/Patient/{id}/_history"))
        .await
        .json();
    let statuses: Vec<&str> = (0..3)
        .map(|index| {
            history["entry"][index]["response"]["status"]
                .as_str()
                .unwrap()
        })
        .collect();
    // Newest first: the PUT that brought the deleted resource back was a create (201).
    assert_eq!(statuses, ["201", "204", "201"]);
}

#[tokio::test]
async fn delete_with_prefer_return_operation_outcome_answers_an_outcome() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(&app, &id, &[("prefer", "return=OperationOutcome")]).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json()["resourceType"].as_str(),
        Some("OperationOutcome")
    );
    assert_eq!(
        app.get(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::GONE
    );
}
