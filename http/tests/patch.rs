//! Patch: JSON Patch and FHIRPath Patch on a stored resource, version-aware with If-Match,
//! and everything that must leave the resource untouched.
//! Spec: https://hl7.org/fhir/R4/http.html#patch, fhirpatch.html

use axum::http::{Method, StatusCode};
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

use crate::support::{Reply, TestApp, BASE};

const JSON_PATCH: &str = "application/json-patch+json";
const FHIR_JSON: &str = "application/fhir+json";

/// PATCH `uri` with `body` as `content_type`, and extra headers.
async fn check(
    app: &TestApp,
    uri: &str,
    content_type: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut call = app
        .request(Method::PATCH, uri)
        .header("content-type", content_type)
        .body(body.to_owned());
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call.send().await
}

async fn patient(app: &TestApp) -> String {
    app.create(r#"{"resourceType":"Patient","active":true,"name":[{"family":"Chalmers","given":["Peter"]}],"telecom":[{"system":"phone","value":"555"}],"birthDate":"1974-12-25"}"#)
        .await
}

async fn read(app: &TestApp, id: &str) -> sonic_rs::Value {
    let reply = app.get(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()
}

// http.html#patch: the result of a successful patch is a new version, answered like an update.
#[tokio::test]
async fn json_patch_writes_the_next_version_and_answers_like_an_update() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        JSON_PATCH,
        r#"[{"op":"test","path":"/active","value":true},{"op":"replace","path":"/active","value":false},{"op":"add","path":"/name/0/given/-","value":"James"}]"#,
        &[],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.etag(), r#"W/"2""#);
    assert_eq!(
        reply.header("location"),
        Some(format!("{BASE}/Patient/{id}/_history/2").as_str())
    );
    let resource = reply.json();
    assert_eq!(resource["active"].as_bool(), Some(false));
    assert_eq!(resource["name"][0]["given"][1].as_str(), Some("James"));
    assert_eq!(resource["meta"]["versionId"].as_str(), Some("2"));
    assert_eq!(read(&app, &id).await["active"].as_bool(), Some(false));
}

// A patched resource is re-indexed: search finds it by the patched value.
#[tokio::test]
async fn a_patched_resource_is_found_by_its_new_values() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        JSON_PATCH,
        r#"[{"op":"replace","path":"/name/0/family","value":"Zebediah"}]"#,
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let bundle = app.get("/fhir/Patient?family=zebediah").await.json();
    assert_eq!(
        bundle["entry"][0]["resource"]["id"].as_str(),
        Some(id.as_str())
    );
    let bundle = app.get("/fhir/Patient?family=chalmers").await.json();
    assert!(bundle["entry"].as_array().is_none(), "{bundle:?}");
}

// fhirpatch.html: operations in a Parameters resource, paths in FHIRPath.
#[tokio::test]
async fn fhirpath_patch_applies_its_operations_in_order() {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    let parameters = r#"{"resourceType":"Parameters","parameter":[
{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.telecom.where(system='phone').value"},{"name":"value","valueString":"556"}]},
{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"gender"},{"name":"value","valueCode":"male"}]},
{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.birthDate"}]},
{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name[0].given"},{"name":"index","valueInteger":0},{"name":"value","valueString":"Sir"}]}
]}"#;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        FHIR_JSON,
        parameters,
        &[],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let resource = read(&app, &id).await;
    assert_eq!(resource["telecom"][0]["value"].as_str(), Some("556"));
    assert_eq!(resource["gender"].as_str(), Some("male"));
    assert!(resource.get("birthDate").is_none());
    assert_eq!(resource["name"][0]["given"][0].as_str(), Some("Sir"));
    assert_eq!(resource["name"][0]["given"][1].as_str(), Some("Peter"));
}

// http.html#mime-type: `application/json` "SHALL be interpreted to mean the JSON format";
// a Parameters body so typed is a FHIRPath Patch.
#[tokio::test]
async fn fhirpath_patch_sent_as_application_json_is_applied() {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    let parameters = r#"{"resourceType":"Parameters","parameter":[
{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.birthDate"}]}]}"#;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        "application/json",
        parameters,
        &[],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(read(&app, &id).await.get("birthDate").is_none());
}

// http.html#patch with http.html#concurrency: If-Match applies to patch as to update.
#[tokio::test]
async fn patch_with_a_stale_if_match_is_412_and_writes_nothing() {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    let uri = format!("/fhir/Patient/{id}");
    let replace = r#"[{"op":"replace","path":"/active","value":false}]"#;
    let reply = check(&app, &uri, JSON_PATCH, replace, &[("if-match", r#"W/"1""#)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let reply = check(&app, &uri, JSON_PATCH, replace, &[("if-match", r#"W/"1""#)]).await;

    reply.outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.versions_written().await, 2);
}

/// PATCHes `body` onto a fresh Patient, asserts `status` with an OperationOutcome and that
/// nothing was written, and returns the first issue.
// http.html#patch: without If-Match a patch is for the current version; concurrent patches
// of one resource are each applied, none lost, none refused (they were 412 but the winner).
#[tokio::test]
async fn concurrent_patches_without_if_match_are_all_applied() {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    let uri = format!("/fhir/Patient/{id}");
    let patches = (0..8).map(|index| {
        let body = format!(r#"[{{"op":"add","path":"/name/0/given/-","value":"G{index}"}}]"#);
        let uri = uri.clone();
        let app = &app;
        async move { check(app, &uri, JSON_PATCH, &body, &[]).await }
    });
    for reply in futures_util::future::join_all(patches).await {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    let given = read(&app, &id).await["name"][0]["given"].clone();
    assert_eq!(
        given.as_array().map(|names| names.len()),
        Some(9),
        "{given:?}"
    );
}

async fn refused(content_type: &str, body: &str, status: StatusCode) -> sonic_rs::Value {
    let app = TestApp::start().await;
    let id = patient(&app).await;
    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        content_type,
        body,
        &[],
    )
    .await;
    let issue = reply.outcome(status);
    assert_eq!(app.versions_written().await, 1, "{body}");
    issue
}

// http.html#patch: a patch that cannot be read is the client's error (400).
#[tokio::test]
async fn malformed_patch_documents_are_400() {
    for body in [
        "[{",
        r#"{"op":"add","path":"/active","value":true}"#,
        r#"[{"op":"frobnicate","path":"/active"}]"#,
        r#"[{"op":"add","path":"active","value":true}]"#,
        r#"[{"op":"add","path":"/a~2b","value":true}]"#,
        r#"[{"op":"replace","path":"/active"}]"#,
    ] {
        refused(JSON_PATCH, body, StatusCode::BAD_REQUEST).await;
    }
    let unsupported_path = r#"{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.descendants()"}]}]}"#;
    let issue = refused(FHIR_JSON, unsupported_path, StatusCode::BAD_REQUEST).await;
    assert!(
        issue["diagnostics"].as_str().unwrap().contains("subset"),
        "{issue:?}"
    );
}

// http.html#patch: a patch that does not apply to the resource is 422, and nothing changes.
#[tokio::test]
async fn a_failed_test_operation_rejects_the_whole_patch_with_422() {
    let issue = refused(
        JSON_PATCH,
        r#"[{"op":"replace","path":"/active","value":false},{"op":"test","path":"/birthDate","value":"2000-01-01"}]"#,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(issue["code"].as_str(), Some("processing"));
}

#[tokio::test]
async fn a_path_that_does_not_exist_is_422() {
    refused(
        JSON_PATCH,
        r#"[{"op":"remove","path":"/gender"}]"#,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    refused(
        FHIR_JSON,
        r#"{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.gender"},{"name":"value","valueCode":"male"}]}]}"#,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

// http.html#patch: the id and type of a resource are not the patch's to change.
#[tokio::test]
async fn patching_id_or_resource_type_is_422() {
    for body in [
        r#"[{"op":"replace","path":"/id","value":"someone-else"}]"#,
        r#"[{"op":"remove","path":"/id"}]"#,
        r#"[{"op":"replace","path":"/resourceType","value":"Group"}]"#,
    ] {
        refused(JSON_PATCH, body, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

// fhirpatch.html: "Servers SHALL return an error if the outcome ... is not a valid resource".
#[tokio::test]
async fn a_result_that_is_not_valid_fhir_json_is_422() {
    refused(
        JSON_PATCH,
        r#"[{"op":"add","path":"/gender","value":null}]"#,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn a_patch_in_another_content_type_is_415() {
    refused(
        "text/plain",
        r#"[{"op":"replace","path":"/active","value":false}]"#,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
}

#[tokio::test]
async fn patching_an_unknown_resource_is_404_and_a_deleted_one_410() {
    let app = TestApp::start().await;
    let body = r#"[{"op":"replace","path":"/active","value":false}]"#;
    let reply = check(&app, "/fhir/Patient/nobody", JSON_PATCH, body, &[]).await;
    reply.outcome(StatusCode::NOT_FOUND);

    let id = patient(&app).await;
    assert_eq!(
        app.delete(&format!("/fhir/Patient/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let reply = check(&app, &format!("/fhir/Patient/{id}"), JSON_PATCH, body, &[]).await;
    reply.outcome(StatusCode::GONE);
}

// http.html#return: Prefer applies to patch as to update.
#[tokio::test]
async fn patch_honours_prefer_return_minimal() {
    let app = TestApp::start().await;
    let id = patient(&app).await;

    let reply = check(
        &app,
        &format!("/fhir/Patient/{id}"),
        JSON_PATCH,
        r#"[{"op":"replace","path":"/active","value":false}]"#,
        &[("prefer", "return=minimal")],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
    assert_eq!(reply.etag(), r#"W/"2""#);
}

// http.html#patch: decimals are stored as sent, and a patch keeps those it does not touch.
#[tokio::test]
async fn a_patch_keeps_decimal_text_and_member_order() {
    let app = TestApp::start().await;
    let id = app
        .create(r#"{"resourceType":"Observation","status":"final","code":{"text":"w"},"valueQuantity":{"value":1.50,"unit":"kg"}}"#)
        .await;

    let reply = check(
        &app,
        &format!("/fhir/Observation/{id}"),
        JSON_PATCH,
        r#"[{"op":"replace","path":"/status","value":"amended"}]"#,
        &[],
    )
    .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let text = app.get(&format!("/fhir/Observation/{id}")).await;
    let text = text.text();
    assert!(
        text.contains(r#""valueQuantity":{"value":1.50,"unit":"kg"}"#),
        "{text}"
    );
    assert!(
        text.find("\"status\"") < text.find("\"code\""),
        "members keep their order: {text}"
    );
}
