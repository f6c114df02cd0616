//! Bad input: every malformed body is refused with the right status and an OperationOutcome,
//! and nothing is written; hostile bodies (deep nesting, oversized, streamed without a
//! Content-Length) leave the server serving.
//! Spec: https://hl7.org/fhir/R4/http.html#create (invalid resources), json.html

use axum::body::Body;
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use ember_http::config::Settings;
use http_body_util::channel::Channel;
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use crate::support::TestApp;

/// POSTs `body` to [base]/Patient, asserts it is refused with `status` and that nothing was
/// written, and returns the first issue.
async fn check(app: &TestApp, body: impl Into<Body>, status: StatusCode) -> Value {
    let reply = app
        .request(Method::POST, "/fhir/Patient")
        .header("content-type", "application/fhir+json")
        .body(body)
        .send()
        .await;
    let issue = reply.outcome(status);
    assert_eq!(
        app.versions_written().await,
        0,
        "a refused request wrote something"
    );
    issue
}

fn expressions(issue: &Value) -> Vec<String> {
    issue["expression"]
        .as_array()
        .map(|paths| {
            paths
                .iter()
                .map(|path| path.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn body_that_is_not_json_is_400() {
    let app = TestApp::start().await;
    check(&app, "this is not JSON", StatusCode::BAD_REQUEST).await;
    check(
        &app,
        r#"{"resourceType":"Patient""#,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn empty_body_is_400() {
    let app = TestApp::start().await;
    check(&app, "", StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn json_array_is_400() {
    let app = TestApp::start().await;
    check(
        &app,
        r#"[{"resourceType":"Patient"}]"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn missing_resource_type_is_400() {
    let app = TestApp::start().await;
    check(&app, r#"{"active":true}"#, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn numeric_resource_type_is_400() {
    let app = TestApp::start().await;
    check(&app, r#"{"resourceType":42}"#, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn unknown_resource_type_in_the_body_is_400() {
    let app = TestApp::start().await;
    check(&app, r#"{"resourceType":"Foo"}"#, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn null_value_is_400_naming_its_path() {
    let app = TestApp::start().await;
    let issue = check(
        &app,
        r#"{"resourceType":"Patient","name":[{"family":null}]}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let paths = expressions(&issue);
    assert!(
        paths
            .iter()
            .any(|path| path.contains("name") && path.contains("family")),
        "{issue:?}"
    );
}

#[tokio::test]
async fn empty_string_is_400() {
    let app = TestApp::start().await;
    check(
        &app,
        r#"{"resourceType":"Patient","gender":""}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

// terminologies.html#required: a code bound as required "SHALL be from the specified value
// set"; Patient.gender is one of male, female, other and unknown, case-sensitive.
#[tokio::test]
async fn a_code_outside_its_required_binding_is_400_naming_its_path() {
    let app = TestApp::start().await;
    for (body, path) in [
        (
            r#"{"resourceType":"Patient","gender":"Male"}"#,
            "Patient.gender",
        ),
        (
            r#"{"resourceType":"Patient","name":[{"use":"nick","family":"A"}]}"#,
            "Patient.name[0].use",
        ),
        (
            r#"{"resourceType":"Patient","contact":[{"gender":"f"}]}"#,
            "Patient.contact[0].gender",
        ),
    ] {
        let issue = check(&app, body, StatusCode::BAD_REQUEST).await;
        assert_eq!(issue["code"].as_str(), Some("code-invalid"), "{body}");
        assert_eq!(expressions(&issue), [path], "{body}");
    }
    let issue = check(
        &app,
        r#"{"resourceType":"Patient","gender":"Male"}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let diagnostics = issue["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("female, male, other, unknown"),
        "{diagnostics}"
    );
    // The codes themselves, a binding that is not required (language) and one to codes
    // outside the definitions (mime types) are accepted.
    let reply = app
        .post(
            "/fhir/Patient",
            r#"{"resourceType":"Patient","gender":"unknown","language":"tlh","name":[{"use":"nickname"}],
                "photo":[{"contentType":"image/x-unheard-of"}]}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}

// docs/configuration.md: `check_required_codes = false` loads data as sent, on every write
// path (a create, a transaction entry, a patch's result).
#[tokio::test]
async fn codes_outside_their_binding_are_stored_when_the_check_is_off() {
    let app = TestApp::with_settings(Settings {
        check_required_codes: false,
        ..Settings::default()
    })
    .await;
    let created = app
        .post(
            "/fhir/Patient",
            r#"{"resourceType":"Patient","gender":"Male"}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let transaction = app
        .post(
            "/fhir",
            r#"{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","gender":"F"},"request":{"method":"POST","url":"Patient"}}]}"#,
        )
        .await;
    assert_eq!(transaction.status, StatusCode::OK, "{}", transaction.text());
    let patched = app
        .request(Method::PATCH, &format!("/fhir/Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/gender","value":"M"}]"#)
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert_eq!(patched.json()["gender"].as_str(), Some("M"));
    // The structure is still checked.
    app.post(
        "/fhir/Patient",
        r#"{"resourceType":"Patient","gender":true}"#,
    )
    .await
    .outcome(StatusCode::BAD_REQUEST);
}

// datatypes.html#string: strings "SHALL NOT contain Unicode character points below 32,
// except for u0009 (horizontal tab), u0010 (carriage return) and u0013 (line feed)". U+0000
// cannot even be stored in PostgreSQL's text: it was a 500.
#[tokio::test]
async fn control_characters_are_400_in_bodies_and_in_searches() {
    let app = TestApp::start().await;
    for text in [r"a\u0000b", r"a\u0001b"] {
        check(
            &app,
            format!(r#"{{"resourceType":"Patient","name":[{{"family":"{text}"}}]}}"#),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    for search in ["/fhir/Patient?family=a%00b", "/fhir/Patient?_id=a%00b"] {
        let issue = app.get(search).await.outcome(StatusCode::BAD_REQUEST);
        assert!(issue["expression"][0].as_str().is_some(), "{search}");
    }
}

// A string an index entry cannot hold (PostgreSQL's B-tree entries stop at about 2,700
// bytes; random letters do not compress below it) was a 500 "database error".
#[tokio::test]
async fn a_value_too_long_to_index_is_400_and_writes_nothing() {
    let app = TestApp::start().await;
    let mut state: u32 = 7;
    let random_letters: String = (0..3_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + ((state >> 16) % 26) as u8)
        })
        .collect();
    let issue = check(
        &app,
        format!(r#"{{"resourceType":"Patient","name":[{{"family":"{random_letters}"}}]}}"#),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        issue["diagnostics"]
            .as_str()
            .is_some_and(|text| text.contains("too long")),
        "{issue:?}"
    );
}

#[tokio::test]
async fn duplicate_keys_are_400() {
    let app = TestApp::start().await;
    check(
        &app,
        r#"{"resourceType":"Patient","active":true,"active":false}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn deeply_nested_json_is_400_and_the_server_keeps_serving() {
    let app = TestApp::start().await;
    let depth = 100_000;
    let body = format!(
        r#"{{"resourceType":"Patient","extension":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );

    check(&app, body, StatusCode::BAD_REQUEST).await;

    app.create(r#"{"resourceType":"Patient"}"#).await;
}

#[tokio::test]
async fn invalid_utf8_is_400() {
    let app = TestApp::start().await;
    let mut body = br#"{"resourceType":"Patient","gender":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#""}"#);
    check(&app, body, StatusCode::BAD_REQUEST).await;
}

const LIMIT: usize = 64 * 1024;

async fn app_with_small_limit() -> TestApp {
    TestApp::with_settings(Settings {
        max_body_bytes: LIMIT,
        ..Settings::default()
    })
    .await
}

/// A valid Patient just over the limit.
fn oversized_patient() -> String {
    format!(
        r#"{{"resourceType":"Patient","name":[{{"text":"{}"}}]}}"#,
        "x".repeat(LIMIT)
    )
}

#[tokio::test]
async fn body_over_limit_is_413_operation_outcome() {
    let app = app_with_small_limit().await;

    let issue = check(&app, oversized_patient(), StatusCode::PAYLOAD_TOO_LARGE).await;

    assert_eq!(issue["code"].as_str(), Some("too-costly"));
}

#[tokio::test]
async fn declared_content_length_over_limit_is_413() {
    let app = app_with_small_limit().await;
    let body = oversized_patient();

    let reply = app
        .request(Method::POST, "/fhir/Patient")
        .header("content-type", "application/fhir+json")
        .header("content-length", &body.len().to_string())
        .body(body)
        .send()
        .await;

    reply.outcome(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.versions_written().await, 0);
}

#[tokio::test]
async fn streamed_body_over_limit_without_content_length_is_413() {
    let app = app_with_small_limit().await;
    let (mut sender, body) = Channel::<Bytes>::new(4);
    let body = Body::new(body);
    let feeder = tokio::spawn(async move {
        let _ = sender
            .send_data(Bytes::from_static(
                br#"{"resourceType":"Patient","name":[{"text":""#,
            ))
            .await;
        for _ in 0..(2 * LIMIT / 1024) {
            if sender
                .send_data(Bytes::from(vec![b'x'; 1024]))
                .await
                .is_err()
            {
                break; // the server stopped reading: that is the point
            }
        }
        let _ = sender.send_data(Bytes::from_static(br#""}]}"#)).await;
    });

    let issue = check(&app, body, StatusCode::PAYLOAD_TOO_LARGE).await;

    assert_eq!(issue["code"].as_str(), Some("too-costly"));
    feeder.await.unwrap();
}

#[tokio::test]
async fn body_at_the_limit_is_accepted() {
    let app = app_with_small_limit().await;
    let envelope = r#"{"resourceType":"Patient","name":[{"text":""}]}"#.len();
    let body = format!(
        r#"{{"resourceType":"Patient","name":[{{"text":"{}"}}]}}"#,
        "x".repeat(LIMIT - envelope)
    );
    assert_eq!(body.len(), LIMIT);

    let reply = app.post("/fhir/Patient", &body).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}

#[tokio::test]
async fn invalid_update_body_writes_nothing() {
    let app = TestApp::start().await;
    let reply = app
        .put(
            "/fhir/Patient/p1",
            r#"{"resourceType":"Patient","id":"p1","active":null}"#,
        )
        .await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(app.versions_written().await, 0);
    assert_eq!(
        app.get("/fhir/Patient/p1").await.status,
        StatusCode::NOT_FOUND
    );
}

// A search past the server's time limit (`--search-timeout-ms`) is stopped with a 422
// too-costly OperationOutcome that says how to narrow it, and the server keeps serving.
#[tokio::test]
async fn search_past_the_time_limit_is_422_too_costly() {
    let app = TestApp::with_settings(Settings {
        search_timeout_ms: 0,
        ..Settings::default()
    })
    .await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let issue = app
        .get("/fhir/Patient?name=ng")
        .await
        .outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(issue["code"].as_str(), Some("too-costly"));
    let diagnostics = issue["diagnostics"].as_str().unwrap_or_default();
    assert!(diagnostics.contains("0 ms"), "{diagnostics}");
    assert!(diagnostics.contains("narrow"), "{diagnostics}");
    assert_eq!(
        app.get(&format!("/fhir/Patient/{patient}")).await.status,
        200
    );
}

// The same limit holds for the searches inside a transaction Bundle (its conditional
// writes): past it the whole Bundle fails with 422 too-costly and nothing is written.
#[tokio::test]
async fn transaction_condition_search_past_the_time_limit_fails_the_bundle() {
    let app = TestApp::with_settings(Settings {
        search_timeout_ms: 0,
        ..Settings::default()
    })
    .await;
    let bundle = r#"{"resourceType":"Bundle","type":"transaction","entry":[
        {"resource":{"resourceType":"Patient","name":[{"family":"Kept"}]},"request":{"method":"POST","url":"Patient"}},
        {"resource":{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]},
         "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:x|1"}}]}"#;
    let issue = app
        .post("/fhir", bundle)
        .await
        .outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(issue["code"].as_str(), Some("too-costly"));
    assert_eq!(app.versions_written().await, 0);
}
