//! Update: new versions with Location, version-aware updates with If-Match, update-as-create,
//! the id rules, and Prefer.
//! Spec: https://hl7.org/fhir/R4/http.html#update, http.html#concurrency, http.html#return

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::{Reply, TestApp, BASE};

/// PUT [base]/Patient/`id` with `json` and extra headers.
async fn check(app: &TestApp, id: &str, json: &str, headers: &[(&str, &str)]) -> Reply {
    let mut call = app
        .request(Method::PUT, &format!("/fhir/Patient/{id}"))
        .json(json);
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call.send().await
}

fn patient(id: &str, active: bool) -> String {
    format!(r#"{{"resourceType":"Patient","id":"{id}","active":{active}}}"#)
}

async fn current_version(app: &TestApp, id: &str) -> String {
    let reply = app.get(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()["meta"]["versionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn update_returns_200_with_version_2_and_location() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(&app, &id, &patient(&id, false), &[]).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.etag(), r#"W/"2""#);
    assert!(reply.header("last-modified").is_some());
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/Patient/{id}/_history/2").as_str())
    );
    let resource = reply.json();
    assert_eq!(resource["meta"]["versionId"].as_str(), Some("2"));
    assert_eq!(resource["active"].as_bool(), Some(false));
    assert_eq!(current_version(&app, &id).await, "2");
}

#[tokio::test]
async fn update_with_matching_if_match_is_200() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(&app, &id, &patient(&id, true), &[("if-match", r#"W/"1""#)]).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.etag(), r#"W/"2""#);
}

#[tokio::test]
async fn update_with_stale_if_match_is_412_and_writes_nothing() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;
    assert_eq!(
        check(&app, &id, &patient(&id, true), &[]).await.status,
        StatusCode::OK
    );

    let reply = check(&app, &id, &patient(&id, false), &[("if-match", r#"W/"1""#)]).await;

    reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(current_version(&app, &id).await, "2");
    let current = app.get(&format!("/fhir/Patient/{id}")).await.json();
    assert_eq!(current["active"].as_bool(), Some(true));
}

#[tokio::test]
async fn update_of_a_new_id_creates_it_at_version_1() {
    let app = TestApp::start().await;

    let reply = check(
        &app,
        "chosen-by-client",
        &patient("chosen-by-client", true),
        &[],
    )
    .await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.etag(), r#"W/"1""#);
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/Patient/chosen-by-client/_history/1").as_str())
    );
    assert_eq!(current_version(&app, "chosen-by-client").await, "1");
}

#[tokio::test]
async fn update_without_id_in_the_body_is_400() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(
        &app,
        &id,
        r#"{"resourceType":"Patient","active":true}"#,
        &[],
    )
    .await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(current_version(&app, &id).await, "1");
}

#[tokio::test]
async fn update_with_an_id_other_than_the_url_is_400() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(&app, &id, &patient("someone-else", true), &[]).await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(current_version(&app, &id).await, "1");
    assert_eq!(
        app.get("/fhir/Patient/someone-else").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn update_with_a_resource_type_other_than_the_url_is_400() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let body = format!(r#"{{"resourceType":"Observation","id":"{id}"}}"#);
    let reply = check(&app, &id, &body, &[]).await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(current_version(&app, &id).await, "1");
}

#[tokio::test]
async fn update_with_malformed_if_match_is_400() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(
        &app,
        &id,
        &patient(&id, true),
        &[("if-match", "not-an-etag")],
    )
    .await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(current_version(&app, &id).await, "1");
}

// RFC 7232, section 2.3.2: tags match "character-by-character", so `W/"01"` does not name
// version 1 and the update is not made: a tag that matches no version is a failed
// precondition.
#[tokio::test]
async fn update_with_if_match_of_the_version_written_with_a_leading_zero_changes_nothing() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(&app, &id, &patient(&id, true), &[("if-match", r#"W/"01""#)]).await;

    reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(current_version(&app, &id).await, "1");
}

// RFC 9110, section 13.1.1: If-Match holds when any tag of its list matches the current
// version's tag.
#[tokio::test]
async fn update_with_an_if_match_list_is_made_when_one_tag_names_the_current_version() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let tags = [("if-match", r#"W/"from-another-server", W/"1""#)];
    let reply = check(&app, &id, &patient(&id, true), &tags).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(current_version(&app, &id).await, "2");
}

// RFC 9110, section 13.1.1: when no tag of the list matches, the server "MUST NOT perform
// the requested method" and answers 412, whether the tags are stale versions or tags it
// never issued.
#[tokio::test]
async fn writes_whose_if_match_tags_match_no_version_are_412_and_write_nothing() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;
    let uri = format!("/fhir/Patient/{id}");

    for tags in [r#"W/"abc""#, r#""x,y", W/"7""#, r#"W/"2", "abc""#] {
        let if_match = [("if-match", tags)];
        check(&app, &id, &patient(&id, true), &if_match)
            .await
            .outcome(StatusCode::PRECONDITION_FAILED);
        app.request(Method::DELETE, &uri)
            .header("if-match", tags)
            .send()
            .await
            .outcome(StatusCode::PRECONDITION_FAILED);
        app.request(Method::PATCH, &uri)
            .header("content-type", "application/json-patch+json")
            .header("if-match", tags)
            .body(r#"[{"op":"add","path":"/active","value":true}]"#)
            .send()
            .await
            .outcome(StatusCode::PRECONDITION_FAILED);
    }
    assert_eq!(current_version(&app, &id).await, "1");
}

// A write holds one precondition: a list naming two versions cannot be met by pinning the
// write to either, so it is refused rather than guessed at.
#[tokio::test]
async fn update_with_an_if_match_list_naming_two_versions_is_400() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let tags = [("if-match", r#"W/"1", W/"2""#)];
    let reply = check(&app, &id, &patient(&id, true), &tags).await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(current_version(&app, &id).await, "1");
}

// RFC 9110, section 13.1.2: with `If-None-Match: *` the method is performed only when no
// current representation exists, so the PUT creates and never overwrites.
#[tokio::test]
async fn update_with_if_none_match_star_creates_but_never_overwrites() {
    let app = TestApp::start().await;
    let star = [("if-none-match", "*")];

    let created = check(&app, "fresh1", &patient("fresh1", true), &star).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());

    let again = check(&app, "fresh1", &patient("fresh1", false), &star).await;
    again.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(current_version(&app, "fresh1").await, "1");
}

// RFC 9110, section 13.1.1: `If-Match: *` holds when a current representation exists.
#[tokio::test]
async fn update_and_delete_with_if_match_star_need_the_resource_to_exist() {
    let app = TestApp::start().await;
    let star = [("if-match", "*")];

    let missing = check(&app, "absent1", &patient("absent1", true), &star).await;
    missing.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        app.get("/fhir/Patient/absent1").await.status,
        StatusCode::NOT_FOUND
    );

    let id = app.create(r#"{"resourceType":"Patient"}"#).await;
    let updated = check(&app, &id, &patient(&id, true), &star).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    let deleted = app
        .request(Method::DELETE, &format!("/fhir/Patient/{id}"))
        .header("if-match", "*")
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
}

/// `call` with `If-None-Match: *`.
fn star(call: crate::support::Call<'_>) -> crate::support::Call<'_> {
    call.header("if-none-match", "*")
}

// RFC 9110, section 13.1.2: `If-None-Match: *` on any write is false while the resource
// exists, and the method is then not performed: conditional update, delete, patch, and a
// transaction's PUT entry all answer 412 and change nothing.
#[tokio::test]
async fn every_write_with_if_none_match_star_leaves_an_existing_resource_alone() {
    let app = TestApp::start().await;
    let id = app
        .create(r#"{"resourceType":"Patient","identifier":[{"system":"urn:s","value":"inm"}]}"#)
        .await;

    star(
        app.request(Method::PUT, "/fhir/Patient?identifier=urn:s|inm")
            .json(r#"{"resourceType":"Patient"}"#),
    )
    .send()
    .await
    .outcome(StatusCode::PRECONDITION_FAILED);
    star(app.request(Method::DELETE, &format!("/fhir/Patient/{id}")))
        .send()
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
    star(app.request(Method::DELETE, "/fhir/Patient?identifier=urn:s|inm"))
        .send()
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
    star(
        app.request(Method::PATCH, &format!("/fhir/Patient/{id}"))
            .header("content-type", "application/json-patch+json")
            .body(r#"[{"op":"add","path":"/active","value":true}]"#),
    )
    .send()
    .await
    .outcome(StatusCode::PRECONDITION_FAILED);
    let transaction = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"resource":{{"resourceType":"Patient","id":"{id}"}},"request":{{"method":"PUT","url":"Patient/{id}","ifNoneMatch":"*"}}}}]}}"#
    );
    app.post("/fhir", &transaction)
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);

    assert_eq!(current_version(&app, &id).await, "1");
    // Nothing there, a delete under `*` holds and deletes nothing.
    let absent = star(app.request(Method::DELETE, "/fhir/Patient/never-was"))
        .send()
        .await;
    assert_eq!(absent.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn update_with_prefer_return_minimal_has_empty_body_and_all_headers() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(
        &app,
        &id,
        &patient(&id, true),
        &[("prefer", "return=minimal")],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty(), "{}", reply.text());
    assert_eq!(reply.etag(), r#"W/"2""#);
    assert!(reply.header("location").is_some());
    assert!(reply.header("last-modified").is_some());
}

#[tokio::test]
async fn update_with_prefer_return_operation_outcome_answers_an_outcome() {
    let app = TestApp::start().await;
    let id = app.create(r#"{"resourceType":"Patient"}"#).await;

    let reply = check(
        &app,
        &id,
        &patient(&id, true),
        &[("prefer", "return=OperationOutcome")],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    let outcome = reply.json();
    assert_eq!(outcome["resourceType"].as_str(), Some("OperationOutcome"));
    assert_eq!(
        outcome["issue"][0]["severity"].as_str(),
        Some("information")
    );
    assert_eq!(reply.etag(), r#"W/"2""#);
}
