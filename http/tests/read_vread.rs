//! Read, conditional read, HEAD and vread: current and past versions, 304s, and the 404, 400
//! and 410 answers.
//! Spec: https://hl7.org/fhir/R4/http.html#read, http.html#cread, http.html#vread

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::{assert_fhir_json, Reply, TestApp};

/// GET `uri` with extra headers.
async fn check(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut call = app.request(Method::GET, uri);
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call.send().await
}

async fn patient(app: &TestApp) -> String {
    app.create(r#"{"resourceType":"Patient","active":true}"#)
        .await
}

#[tokio::test]
async fn read_returns_the_current_version_with_etag_and_last_modified() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(&app, &format!("/fhir/Patient/{id}"), &[]).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_fhir_json(&reply);
    assert_eq!(reply.etag(), r#"W/"1""#);
    assert!(reply.header("last-modified").is_some());
    let resource = reply.json();
    assert_eq!(resource["id"].as_str(), Some(id.as_str()));
    assert_eq!(resource["meta"]["versionId"].as_str(), Some("1"));
    assert_eq!(resource["active"].as_bool(), Some(true));
}

#[tokio::test]
async fn read_of_unknown_id_is_404_operation_outcome() {
    let app = TestApp::start().await;
    let issue = check(&app, "/fhir/Patient/nobody", &[])
        .await
        .outcome(StatusCode::NOT_FOUND);
    assert_eq!(issue["code"].as_str(), Some("not-found"));
}

#[tokio::test]
async fn read_with_invalid_id_syntax_is_400() {
    let app = TestApp::start().await;
    let too_long = "a".repeat(65);
    for id in ["bad_id!", too_long.as_str()] {
        check(&app, &format!("/fhir/Patient/{id}"), &[])
            .await
            .outcome(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn read_of_unknown_type_is_404_operation_outcome() {
    let app = TestApp::start().await;
    check(&app, "/fhir/Foo/1", &[])
        .await
        .outcome(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn resource_type_names_are_case_sensitive() {
    let app = TestApp::start().await;
    check(&app, "/fhir/patient/1", &[])
        .await
        .outcome(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn if_none_match_with_the_current_version_is_304_without_body() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        &[("if-none-match", r#"W/"1""#)],
    )
    .await;

    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    assert_eq!(reply.etag(), r#"W/"1""#);
}

#[tokio::test]
async fn if_none_match_with_another_version_is_200() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        &[("if-none-match", r#"W/"0""#)],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["id"].as_str(), Some(id.as_str()));
}

// Entity tags match "character-by-character" (RFC 7232, section 2.3.2): `W/"01"` is not
// the tag of version 1.
#[tokio::test]
async fn if_none_match_with_the_version_written_otherwise_is_200() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        &[("if-none-match", r#"W/"01""#)],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
}

// http.html#cread: a vread is a read of a version, and as conditional.
#[tokio::test]
async fn vread_with_if_none_match_of_that_version_is_304() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}/_history/1"),
        &[("if-none-match", r#"W/"1""#)],
    )
    .await;

    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    assert_eq!(reply.etag(), r#"W/"1""#);
}

#[tokio::test]
async fn if_modified_since_after_the_last_change_is_304() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        &[("if-modified-since", future)],
    )
    .await;

    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn if_modified_since_before_the_last_change_is_200() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let past = "Sat, 01 Jan 2000 00:00:00 GMT";
    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        &[("if-modified-since", past)],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn head_answers_the_headers_of_a_read_without_body() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = app
        .request(Method::HEAD, &format!("/fhir/Patient/{id}"))
        .send()
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
    assert_eq!(reply.etag(), r#"W/"1""#);
    assert!(reply.header("last-modified").is_some());
    assert_fhir_json(&reply);
}

#[tokio::test]
async fn vread_returns_each_version_after_an_update() {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    let updated = app
        .put(
            &format!("/fhir/Patient/{id}"),
            &format!(r#"{{"resourceType":"Patient","id":"{id}","active":false}}"#),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);

    for (version, active) in [("1", true), ("2", false)] {
        let reply = check(&app, &format!("/fhir/Patient/{id}/_history/{version}"), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.etag(), format!(r#"W/"{version}""#));
        assert!(reply.header("last-modified").is_some());
        let resource = reply.json();
        assert_eq!(resource["meta"]["versionId"].as_str(), Some(version));
        assert_eq!(resource["active"].as_bool(), Some(active));
    }
}

#[tokio::test]
async fn vread_of_unknown_version_is_404() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    for version in ["2", "abc"] {
        let issue = check(&app, &format!("/fhir/Patient/{id}/_history/{version}"), &[])
            .await
            .outcome(StatusCode::NOT_FOUND);
        assert_eq!(issue["code"].as_str(), Some("not-found"));
    }
}

#[tokio::test]
async fn vread_of_a_version_written_with_a_leading_zero_is_404() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = app.get(&format!("/fhir/Patient/{id}/_history/01")).await;

    reply.outcome(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn vread_of_the_deletion_version_is_410() {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    assert_eq!(
        app.delete(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::NO_CONTENT
    );

    let reply = check(&app, &format!("/fhir/Patient/{id}/_history/2"), &[]).await;

    let issue = reply.outcome(StatusCode::GONE);
    assert_eq!(issue["code"].as_str(), Some("deleted"));
    let earlier = check(&app, &format!("/fhir/Patient/{id}/_history/1"), &[]).await;
    assert_eq!(earlier.status, StatusCode::OK);
}

// http.html#read with the general parameters `_summary` and `_elements`: the resource is
// subsetted as in search and tagged SUBSETTED.
#[tokio::test]
async fn read_and_vread_take_summary_and_elements() {
    let app = TestApp::start().await;
    let id = app
        .create(r#"{"resourceType":"Patient","gender":"female","maritalStatus":{"text":"married"},"contact":[{"name":{"family":"Other"}}]}"#)
        .await;
    for uri in [
        format!("/fhir/Patient/{id}?_summary=true"),
        format!("/fhir/Patient/{id}/_history/1?_summary=true"),
        format!("/fhir/Patient/{id}?_elements=gender"),
    ] {
        let reply = check(&app, &uri, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        let resource = reply.json();
        assert_eq!(resource["gender"].as_str(), Some("female"), "{uri}");
        assert!(resource.get("contact").is_none(), "{uri}");
        assert_eq!(
            resource["meta"]["tag"][0]["code"].as_str(),
            Some("SUBSETTED"),
            "{uri}"
        );
    }
    check(&app, &format!("/fhir/Patient/{id}?_summary=some"), &[])
        .await
        .outcome(StatusCode::BAD_REQUEST);
}
