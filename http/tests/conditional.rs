//! Conditional create, update, patch and delete: what 0, 1 and several matches do, strict
//! criteria, and concurrent conditional creates.
//! Spec: https://hl7.org/fhir/R4/http.html#ccreate, http.html#cond-update,
//! http.html#cdelete, http.html#patch

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::{entries, Reply, TestApp};

fn patient(identifier: &str) -> String {
    format!(
        r#"{{"resourceType":"Patient","identifier":[{{"system":"urn:x","value":"{identifier}"}}]}}"#
    )
}

/// POST a Patient with `If-None-Exist: criteria`.
async fn create_if_none_exist(app: &TestApp, criteria: &str, json: &str) -> Reply {
    app.request(Method::POST, "/fhir/Patient")
        .header("if-none-exist", criteria)
        .json(json)
        .send()
        .await
}

async fn count(app: &TestApp, query: &str) -> usize {
    let reply = app.get(&format!("/fhir/Patient?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    entries(&reply.json()).len()
}

// http.html#ccreate: "No matches: The server processes the create as normal".
#[tokio::test]
async fn conditional_create_without_a_match_creates() {
    let app = TestApp::start().await;

    let reply = create_if_none_exist(&app, "identifier=urn:x|1", &patient("1")).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(count(&app, "identifier=urn:x|1").await, 1);
}

// http.html#ccreate: "One Match: ... the server ignores the post and returns 200 OK".
#[tokio::test]
async fn conditional_create_with_one_match_is_200_with_the_existing_resource() {
    let app = TestApp::start().await;
    let id = app.create(&patient("1")).await;

    let reply = create_if_none_exist(&app, "identifier=urn:x|1", &patient("1")).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["id"].as_str(), Some(id.as_str()));
    assert_eq!(reply.etag(), r#"W/"1""#);
    assert!(reply.header("location").unwrap().contains(&id));
    assert_eq!(app.versions_written().await, 1);
}

// http.html#ccreate: "Multiple matches: The server returns a 412 Precondition Failed error".
#[tokio::test]
async fn conditional_create_with_two_matches_is_412() {
    let app = TestApp::start().await;
    app.create(&patient("1")).await;
    app.create(&patient("1")).await;

    let reply = create_if_none_exist(&app, "identifier=urn:x|1", &patient("1")).await;

    reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.versions_written().await, 2);
}

// search.html#errors: with strict handling an unknown parameter is an error; a condition
// always uses it, since an ignored criterion would widen what the condition matches.
#[tokio::test]
async fn an_unknown_search_parameter_in_a_condition_is_400() {
    let app = TestApp::start().await;
    let id = app.create(&patient("1")).await;

    let reply = create_if_none_exist(&app, "shoe-size=42", &patient("1")).await;
    reply.outcome(StatusCode::BAD_REQUEST);
    let reply = app.put("/fhir/Patient?shoe-size=42", &patient("1")).await;
    reply.outcome(StatusCode::BAD_REQUEST);
    let reply = app.delete("/fhir/Patient?shoe-size=42").await;
    reply.outcome(StatusCode::BAD_REQUEST);

    assert_eq!(app.versions_written().await, 1);
    assert_eq!(
        app.get(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::OK
    );
}

// A condition must select: no criteria, or only result parameters, would match everything.
#[tokio::test]
async fn a_condition_without_criteria_is_400() {
    let app = TestApp::start().await;
    app.create(&patient("1")).await;

    app.delete("/fhir/Patient")
        .await
        .outcome(StatusCode::BAD_REQUEST);
    app.delete("/fhir/Patient?_count=1")
        .await
        .outcome(StatusCode::BAD_REQUEST);
    app.put("/fhir/Patient", &patient("1"))
        .await
        .outcome(StatusCode::BAD_REQUEST);

    assert_eq!(app.versions_written().await, 1);
}

// Two conditional creates with the same criteria at once: the advisory lock makes the second
// search after the first commit, so exactly one resource is created.
#[tokio::test]
async fn concurrent_conditional_creates_with_the_same_criteria_create_one_resource() {
    let app = TestApp::start().await;
    let json = patient("race");
    let criteria = "identifier=urn:x|race";

    let (a, b, c, d) = tokio::join!(
        create_if_none_exist(&app, criteria, &json),
        create_if_none_exist(&app, criteria, &json),
        create_if_none_exist(&app, criteria, &json),
        create_if_none_exist(&app, criteria, &json),
    );

    let statuses = [a.status, b.status, c.status, d.status];
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(count(&app, criteria).await, 1);
}

// http.html#cond-update: "No matches, no id provided: The server creates the resource".
#[tokio::test]
async fn conditional_update_without_a_match_creates_with_a_server_id() {
    let app = TestApp::start().await;

    let reply = app
        .put("/fhir/Patient?identifier=urn:x|1", &patient("1"))
        .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(reply.json()["id"].as_str().is_some());
    assert_eq!(count(&app, "identifier=urn:x|1").await, 1);
}

// http.html#cond-update: "No matches, id provided: ... Update as Create".
#[tokio::test]
async fn conditional_update_without_a_match_and_with_an_unused_id_creates_that_id() {
    let app = TestApp::start().await;
    let json = r#"{"resourceType":"Patient","id":"chosen","active":true}"#;

    let reply = app.put("/fhir/Patient?identifier=urn:x|1", json).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["id"].as_str(), Some("chosen"));
}

// http.html#cond-update: "One Match, no resource id provided OR (resource id provided and it
// matches the found resource): The server performs the update against the matching resource".
#[tokio::test]
async fn conditional_update_with_one_match_updates_it() {
    let app = TestApp::start().await;
    let id = app.create(&patient("1")).await;
    let json = r#"{"resourceType":"Patient","active":false,"identifier":[{"system":"urn:x","value":"1"}]}"#;

    let reply = app.put("/fhir/Patient?identifier=urn:x|1", json).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["id"].as_str(), Some(id.as_str()));
    assert_eq!(reply.etag(), r#"W/"2""#);
}

// http.html#cond-update: "One Match, resource id provided but does not match resource found:
// The server returns a 400 Bad Request error".
#[tokio::test]
async fn conditional_update_with_a_body_id_that_differs_from_the_match_is_400() {
    let app = TestApp::start().await;
    app.create(&patient("1")).await;
    let json =
        r#"{"resourceType":"Patient","id":"other","identifier":[{"system":"urn:x","value":"1"}]}"#;

    let reply = app.put("/fhir/Patient?identifier=urn:x|1", json).await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(app.versions_written().await, 1);
}

// http.html#cond-update: "Multiple matches: The server returns a 412 Precondition Failed".
#[tokio::test]
async fn conditional_update_with_two_matches_is_412() {
    let app = TestApp::start().await;
    app.create(&patient("1")).await;
    app.create(&patient("1")).await;

    let reply = app
        .put("/fhir/Patient?identifier=urn:x|1", &patient("1"))
        .await;

    reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.versions_written().await, 2);
}

// http.html#cdelete: Ember declares conditionalDelete "multiple": every match is deleted.
#[tokio::test]
async fn conditional_delete_deletes_every_match_and_leaves_the_rest() {
    let app = TestApp::start().await;
    let first = app.create(&patient("1")).await;
    let second = app.create(&patient("1")).await;
    let other = app.create(&patient("2")).await;

    let reply = app.delete("/fhir/Patient?identifier=urn:x|1").await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    for id in [first, second] {
        assert_eq!(
            app.get(&format!("/fhir/Patient/{id}")).await.status,
            StatusCode::GONE
        );
    }
    assert_eq!(
        app.get(&format!("/fhir/Patient/{other}")).await.status,
        StatusCode::OK
    );
}

// http.html#cdelete: the matches are deleted together, in one commit: their deletion
// versions carry one instant.
#[tokio::test]
async fn conditional_delete_deletes_every_match_at_one_instant() {
    let app = TestApp::start().await;
    let mut deleted = Vec::new();
    for _ in 0..3 {
        deleted.push(app.create(&patient("1")).await);
    }

    let reply = app.delete("/fhir/Patient?identifier=urn:x|1").await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let mut instants = Vec::new();
    for id in &deleted {
        let history = app.history(&format!("/fhir/Patient/{id}/_history")).await;
        assert_eq!(history[0]["request"]["method"].as_str(), Some("DELETE"));
        instants.push(
            history[0]["response"]["lastModified"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    instants.dedup();
    assert_eq!(instants.len(), 1, "{instants:?}");
}

// http.html#cdelete: Ember refuses criteria broader than 100 matches with 412, and deletes
// none of them.
#[tokio::test]
async fn conditional_delete_of_more_than_a_hundred_matches_is_412_and_deletes_none() {
    let app = TestApp::start().await;
    for _ in 0..101 {
        app.create(&patient("1")).await;
    }

    let reply = app.delete("/fhir/Patient?identifier=urn:x|1").await;

    reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.versions_written().await, 101);
    assert_eq!(count(&app, "identifier=urn:x|1&_count=200").await, 101);
}

// http.html#cdelete: no match deletes nothing, as an ordinary delete of nothing (204).
#[tokio::test]
async fn conditional_delete_without_a_match_is_204_and_writes_nothing() {
    let app = TestApp::start().await;
    app.create(&patient("1")).await;

    let reply = app
        .request(Method::DELETE, "/fhir/Patient?identifier=urn:x|9")
        .header("prefer", "return=OperationOutcome")
        .send()
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply.text().contains("Deleted 0 Patient"),
        "{}",
        reply.text()
    );
    assert_eq!(app.versions_written().await, 1);
}

// http.html#patch: conditional patch follows conditional update's matching rules.
#[tokio::test]
async fn conditional_patch_patches_one_match_and_refuses_none_or_several() {
    let app = TestApp::start().await;
    let id = app.create(&patient("1")).await;
    app.create(&patient("2")).await;
    app.create(&patient("2")).await;
    let patch = |uri: &str| {
        app.request(Method::PATCH, uri)
            .header("content-type", "application/json-patch+json")
            .body(r#"[{"op":"add","path":"/active","value":true}]"#)
            .send()
    };

    let reply = patch("/fhir/Patient?identifier=urn:x|1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["id"].as_str(), Some(id.as_str()));
    assert_eq!(reply.json()["active"].as_bool(), Some(true));

    patch("/fhir/Patient?identifier=urn:x|9")
        .await
        .outcome(StatusCode::NOT_FOUND);
    patch("/fhir/Patient?identifier=urn:x|2")
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.versions_written().await, 4);
}
